"""Requesting and cancelling planning runs, and the one way a plan changes status.

Every move goes through :func:`plan_transition`: row lock, ``PLAN_TRANSITIONS`` check, status
and its timestamp, ``update_fields`` save and one ``PlanEvent`` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import Conflict, ValidationFailed
from lastmile.core.leases import SweepResult, lease_released, leases_sweep
from lastmile.core.state import transition
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.dispatch.models import (
    ACTIVE_PLAN_STATUSES,
    PLAN_TRANSITIONS,
    Plan,
    PlanEvent,
    PlanPhase,
    PlanStatus,
)
from lastmile.hubs.models import Hub

logger = logging.getLogger(__name__)

# The timestamp field set when a plan enters a status.
_STATUS_TIMESTAMPS = {
    PlanStatus.RUNNING: "started_at",
    PlanStatus.READY: "ready_at",
    PlanStatus.PUBLISHED: "published_at",
    PlanStatus.FAILED: "failed_at",
    PlanStatus.CANCELLED: "cancelled_at",
}


def plan_transition(
    plan: Plan,
    *,
    target: str,
    actor: User | None = None,
    payload: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
) -> Plan:
    """Move ``plan`` to ``target`` (the caller holds the transaction); returns the fresh row.

    Repeating the current status is a no-op without an event; a move the table does not list
    raises ``InvalidTransition``.
    """

    def record(row: Plan, previous: str, now: dt.datetime) -> None:
        PlanEvent.objects.create(
            plan=row,
            kind=PlanEvent.Kind.STATUS_CHANGED,
            from_status=previous,
            to_status=target,
            actor=actor,
            payload=payload or {},
            occurred_at=now,
        )

    moved = transition(
        plan,
        table=PLAN_TRANSITIONS,
        entity="Plan",
        target=target,
        record=record,
        stamps=_STATUS_TIMESTAMPS,
        fields=fields,
        queryset=Plan.objects.select_related("hub"),
    )
    if moved.changed:
        logger.info(
            "plan status changed",
            extra={
                "plan": plan.pk,
                "from": moved.previous,
                "to": target,
                "hub": moved.row.hub.code,
            },
        )
    return moved.row


def _enqueue(plan: Plan) -> None:
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
    PlanEvent.objects.create(
        plan=plan, kind=PlanEvent.Kind.JOINED, actor=actor, occurred_at=timezone.now()
    )
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
    PlanEvent.objects.create(
        plan=plan,
        kind=PlanEvent.Kind.REQUESTED,
        to_status=PlanStatus.QUEUED,
        actor=actor,
        occurred_at=plan.created_at,
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue(plan))
    logger.info(
        "plan requested",
        extra={"plan": plan.pk, "hub": hub.code, "service_date": service_date.isoformat()},
    )
    return plan


def plan_give_up(*, plan: Plan, reason: str) -> Plan:
    """running → failed for a plan whose worker was lost ``TASK_MAX_ATTEMPTS`` times (the
    caller holds the transaction and has checked the lease expired); ``reason`` says so."""
    return plan_transition(
        plan,
        target=PlanStatus.FAILED,
        fields={"error": reason, **lease_released()},
        payload={"lost_worker": True, "attempts": plan.attempts},
    )


def plans_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Each minute: queued plans whose task was lost (a broker restart) are sent again, and
    running plans whose lease expired (a killed worker) are sent again for a worker to take
    over, or failed with the reason after ``TASK_MAX_ATTEMPTS`` starts (``core.leases``).
    A request, the nightly one included, thus never joins a run that will not finish."""
    return leases_sweep(
        waiting=Plan.objects.filter(status=PlanStatus.QUEUED),
        running=Plan.objects.filter(status=PlanStatus.RUNNING),
        send=_enqueue,
        give_up=lambda plan, reason: plan_give_up(plan=plan, reason=reason),
        what="plan",
        now=now,
    )


@transaction.atomic
def plan_cancel(*, plan: Plan, actor: User | None, reason: str = "") -> Plan:
    """Withdraw a plan that is queued, running or ready (→ cancelled).

    A queued run then does nothing when a worker takes it; a running one notices within about
    a second (the solver polls the status) and stops without storing routes. Cancelling a
    cancelled plan is a no-op; a published or failed one cannot be cancelled.
    """
    return plan_transition(
        plan, target=PlanStatus.CANCELLED, actor=actor, payload={"reason": reason} if reason else {}
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
