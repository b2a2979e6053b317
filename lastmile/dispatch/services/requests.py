"""Requests: asking for a plan or a re-plan, joining one already asked for, and the sweeps
that keep every request moving.

A plan request for a hub and day joins the active plan if there is one (the dispatcher who
clicks twice gets one run). A re-plan request waits out ``DISPATCH_REPLAN_DEBOUNCE_S`` and
later triggers join it, so a burst of changes costs one solve; a dispatcher's button runs it
at once. Runs hold a lease (``core.leases``): the sweeps send again what a lost message or a
killed worker left queued or running, and give up with the reason after
``TASK_MAX_ATTEMPTS`` starts. Every run is enqueued after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import ApplicationError, Conflict, ValidationFailed
from lastmile.core.leases import SweepResult, leases_sweep
from lastmile.dispatch import events
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.dispatch.models import (
    ACTIVE_PLAN_STATUSES,
    Plan,
    PlanPhase,
    PlanStatus,
    Replan,
    ReplanStatus,
    ReplanTrigger,
    Stop,
    StopStatus,
)
from lastmile.dispatch.services.plans import plan_give_up, replan_give_up
from lastmile.dispatch.services.reading import ELIGIBLE_OPTIONS
from lastmile.hubs.models import Hub
from lastmile.orders.models import PLANNABLE_STATUSES, Order, OrderStatus

logger = logging.getLogger(__name__)


def _plan_enqueue(plan: Plan) -> None:
    # Imported here: the task module imports these services.
    from lastmile.dispatch.tasks import plan_hub_day_task

    plan_hub_day_task.apply_async(args=(plan.pk,), task_id=plan.celery_task_id)


def active_plan(*, hub: Hub, service_date: dt.date) -> Plan | None:
    return (
        Plan.objects.filter(hub=hub, service_date=service_date, status__in=ACTIVE_PLAN_STATUSES)
        .select_related("hub")
        .first()
    )


def _join(plan: Plan, *, actor: User | None) -> Plan:
    events.plan_joined(plan=plan, actor=actor)
    logger.info("plan request joined a run", extra={"plan": plan.pk, "status": plan.status})
    plan.joined = True
    return plan


@transaction.atomic
def plan_request(
    *, hub: Hub, service_date: dt.date, actor: User | None, enqueue: bool = True
) -> Plan:
    """Ask for routes for ``hub`` on ``service_date``; the run happens on the planning queue.

    Only one run per hub and day at a time: while one is queued or running, a second request
    joins it and gets that plan back with ``plan.joined`` set (and a ``joined`` event). The
    task is sent after commit (``enqueue=False`` leaves sending to the caller, for fan-outs);
    if it is lost, ``plans_sweep`` sends it again, so joining never waits on a dead run.
    A day in the past, an inactive hub, or a day whose plan is already published is refused.
    """
    if not hub.is_active:
        raise ValidationFailed(f"Hub {hub.code} is not active.", errors={"hub": ["Not active."]})
    if service_date < timezone.localdate(timezone=hub.zone):
        raise ValidationFailed(
            f"{service_date:%Y-%m-%d} has passed at hub {hub.code}; plan today or later.",
            errors={"service_date": ["This day has passed."]},
        )
    existing = active_plan(hub=hub, service_date=service_date)
    if existing is not None:
        return _join(existing, actor=actor)
    if Plan.objects.filter(
        hub=hub, service_date=service_date, status=PlanStatus.PUBLISHED
    ).exists():
        raise Conflict(
            f"The plan of {hub.code} for {service_date:%Y-%m-%d} is published; re-plan it instead.",
            code=DispatchErrorCode.PLAN_PUBLISHED,
        )
    try:
        # The partial unique index decides a race between two requests: the loser joins.
        with transaction.atomic():
            plan = Plan.objects.create(
                hub=hub,
                service_date=service_date,
                status=PlanStatus.QUEUED,
                progress_phase=PlanPhase.QUEUED,
                requested_by=actor,
                celery_task_id=str(uuid.uuid4()),
                # Sent on commit (here or by the caller's fan-out); the sweeper sends it
                # again if no worker took it within TASK_RESEND_AFTER_S.
                sent_at=timezone.now(),
            )
    except IntegrityError:
        existing = active_plan(hub=hub, service_date=service_date)
        if existing is None:
            raise
        return _join(existing, actor=actor)
    events.plan_requested(plan=plan, actor=actor)
    if enqueue:
        transaction.on_commit(lambda: _plan_enqueue(plan))
    logger.info(
        "plan requested",
        extra={"plan": plan.pk, "hub": hub.code, "service_date": service_date.isoformat()},
    )
    return plan


def plans_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Each minute: queued plans whose task was lost (a broker restart) are sent again, and
    running plans whose lease expired (a killed worker) are sent again for a worker to take
    over, or failed with the reason after ``TASK_MAX_ATTEMPTS`` starts (``core.leases``).
    A request, the nightly one included, thus never joins a run that will not finish."""
    return leases_sweep(
        waiting=Plan.objects.filter(status=PlanStatus.QUEUED),
        running=Plan.objects.filter(status=PlanStatus.RUNNING),
        send=_plan_enqueue,
        give_up=lambda plan, reason: plan_give_up(plan=plan, reason=reason),
        what="plan",
        now=now,
    )


def plans_request_tomorrow(
    *, now: dt.datetime | None = None, missing_since: dt.datetime | None = None
) -> list[Plan]:
    """Request tomorrow's plan for every active hub (tomorrow in each hub's own zone).

    Nothing is sent: the caller fans the new runs out (the nightly task, as a Celery group).
    A hub whose request is refused is logged and skipped so it cannot block the others.

    With ``missing_since`` only hubs with no plan for tomorrow requested since then are asked:
    the catch-up after a lost nightly message, which must not replace the plans the nightly
    run already made.
    """
    now = now or timezone.now()
    plans = []
    for hub in Hub.objects.filter(is_active=True).order_by("code"):
        tomorrow = timezone.localtime(now, hub.zone).date() + dt.timedelta(days=1)
        if (
            missing_since is not None
            and Plan.objects.filter(
                hub=hub, service_date=tomorrow, created_at__gte=missing_since
            ).exists()
        ):
            continue
        try:
            plans.append(plan_request(hub=hub, service_date=tomorrow, actor=None, enqueue=False))
        except (ValidationFailed, Conflict) as exc:
            logger.warning(
                "nightly plan request refused", extra={"hub": hub.code, "error": exc.message}
            )
    return plans


def _trigger(kind: str, at: dt.datetime, detail: dict | None) -> dict:
    return {"kind": kind, "at": at.isoformat(), **(detail or {})}


def _replan_enqueue(replan: Replan, countdown: float) -> None:
    from lastmile.dispatch.tasks import replan_hub_day_task

    replan_hub_day_task.apply_async(
        args=(replan.pk,), task_id=replan.celery_task_id, countdown=max(0.0, countdown)
    )


def replan_request(
    *,
    plan: Plan,
    trigger: str,
    detail: dict | None = None,
    actor: User | None = None,
    now: dt.datetime | None = None,
    debounce: bool = True,
    enqueue: bool = True,
) -> Replan:
    """Ask for a re-plan of a published day; the run goes to the planning queue.

    While a re-plan is queued, further triggers join it (``joined`` set on the returned row)
    and no second run is sent. ``debounce=False`` (a dispatcher's button) runs it at once;
    ``enqueue=False`` leaves running it to the caller.
    Refused for a plan that is not published or a day that has passed.
    """
    now = now or timezone.now()
    plan = Plan.objects.select_related("hub").get(pk=plan.pk)  # its status as of now
    if trigger not in ReplanTrigger.values:
        raise ValidationFailed(
            f"Unknown re-plan trigger {trigger!r}.", errors={"trigger": ["Unknown."]}
        )
    if plan.status != PlanStatus.PUBLISHED:
        raise Conflict(
            "Only a published plan is re-planned; plan the day again instead.",
            code=DispatchErrorCode.PLAN_NOT_PUBLISHED,
        )
    if plan.service_date < timezone.localdate(timezone=plan.hub.zone):
        raise ValidationFailed(
            f"{plan.service_date:%Y-%m-%d} has passed; its routes cannot change.",
            errors={"plan": ["This day has passed."]},
        )
    entry = _trigger(trigger, now, detail)
    with transaction.atomic():
        queued = (
            Replan.objects.select_for_update().filter(plan=plan, status=ReplanStatus.QUEUED).first()
        )
        if queued is None:
            created = _replan_create(plan, entry, actor=actor, now=now, debounce=debounce)
            if not created.joined:
                if enqueue:
                    delay = (created.run_after - now).total_seconds()
                    transaction.on_commit(lambda: _replan_enqueue(created, delay))
                logger.info(
                    "replan requested",
                    extra={"plan": plan.pk, "replan": created.pk, "trigger": trigger},
                )
                return created
            queued = created
        queued.triggers = [*queued.triggers, entry]
        update = ["triggers", "updated_at"]
        if not debounce:
            # Sent again even when one is on its way: a lost message must not leave the
            # dispatcher's button dead, and a second delivery finds nothing queued.
            if queued.run_after > now:
                queued.run_after = now
                update.append("run_after")
            if enqueue:
                transaction.on_commit(lambda: _replan_enqueue(queued, 0))
        queued.save(update_fields=update)
        queued.joined = True
        return queued


def _replan_create(
    plan: Plan, entry: dict, *, actor: User | None, now: dt.datetime, debounce: bool
) -> Replan:
    """A new queued re-plan with its ``replan_requested`` event; when another trigger created
    one a moment ago, that one, locked, with ``joined`` set (the caller adds the trigger)."""
    delay = settings.DISPATCH_REPLAN_DEBOUNCE_S if debounce else 0
    try:
        with transaction.atomic():
            replan = Replan.objects.create(
                plan=plan,
                triggers=[entry],
                requested_by=actor,
                run_after=now + dt.timedelta(seconds=delay),
                celery_task_id=str(uuid.uuid4()),
                sent_at=timezone.now(),
            )
    except IntegrityError:
        replan = Replan.objects.select_for_update().get(plan=plan, status=ReplanStatus.QUEUED)
        replan.joined = True
        return replan
    events.replan_requested(plan=plan, replan=replan, trigger=entry, actor=actor, occurred_at=now)
    replan.joined = False
    return replan


def replan_ask(
    *, plan: Plan, trigger: str, detail: dict | None = None, now: dt.datetime | None = None
) -> Replan | None:
    """``replan_request`` for triggers raised inside another change (a courier's update):
    a day that can no longer be re-planned (passed, not published) is logged and skipped,
    never an error for the courier."""
    try:
        return replan_request(plan=plan, trigger=trigger, detail=detail, now=now)
    except ApplicationError as exc:
        logger.info(
            "replan not requested", extra={"plan": plan.pk, "trigger": trigger, "why": exc.code}
        )
        return None


def replans_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Each minute: queued re-plans past their debounce whose task never came (a broker
    restart) are sent again, and running ones whose lease expired (a killed worker) are sent
    again for a worker to take over, or failed with the reason after ``TASK_MAX_ATTEMPTS``
    starts (``core.leases``), so one lost message cannot stop a day re-planning."""
    now = now or timezone.now()
    return leases_sweep(
        # Past its debounce by the resend delay: its (countdown) task should have come.
        waiting=Replan.objects.filter(
            status=ReplanStatus.QUEUED,
            run_after__lte=now - dt.timedelta(seconds=float(settings.TASK_RESEND_AFTER_S)),
        ),
        running=Replan.objects.filter(status=ReplanStatus.RUNNING),
        send=lambda replan: _replan_enqueue(replan, 0),
        give_up=replan_give_up,
        what="re-plan",
        now=now,
    )


def live_days_watch(*, now: dt.datetime | None = None) -> list[Replan]:
    """Ask for a re-plan of every published day of today that has new or cancelled orders.

    Runs each minute (beat). New: door orders of the day waiting to be planned that arrived
    or changed since the day's last re-plan (or its publishing) and are on no pending stop.
    Cancelled: pending stops whose order was cancelled. Two queries a published day.
    """
    now = now or timezone.now()
    requested = []
    plans = Plan.objects.filter(status=PlanStatus.PUBLISHED).select_related("hub")
    for plan in plans.filter(service_date__gte=now.date() - dt.timedelta(days=1)):
        if plan.service_date != timezone.localtime(now, plan.hub.zone).date():
            continue
        last = plan.replans.order_by("-created_at").values_list("created_at", flat=True).first()
        since = max(filter(None, [last, plan.published_at]), default=plan.updated_at)
        new = list(
            Order.objects.filter(
                hub=plan.hub,
                service_date=plan.service_date,
                status__in=PLANNABLE_STATUSES,
                delivery_option__in=ELIGIBLE_OPTIONS,
                updated_at__gt=since,
            )
            .exclude(
                pk__in=Stop.objects.filter(
                    route__plan=plan, status=StopStatus.PENDING, order__isnull=False
                ).values("order_id")
            )
            .values_list("pk", flat=True)[:50]
        )
        cancelled = list(
            Stop.objects.filter(
                route__plan=plan, status=StopStatus.PENDING, order__status=OrderStatus.CANCELLED
            ).values_list("order_id", flat=True)[:50]
        )
        if new:
            requested.append(
                replan_request(
                    plan=plan, trigger=ReplanTrigger.NEW_ORDER, detail={"orders": new}, now=now
                )
            )
        if cancelled:
            requested.append(
                replan_request(
                    plan=plan,
                    trigger=ReplanTrigger.CANCELLED,
                    detail={"orders": cancelled},
                    now=now,
                )
            )
    return requested
