"""Celery interface of dispatch: thin callers of the planning services (planning queue)."""

import datetime as dt
import logging

from celery import group, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lastmile.dispatch.models import ReplanStatus
from lastmile.dispatch.services import (
    courier_work_release,
    live_days_watch,
    offers_sweep,
    plan_run,
    plans_request_tomorrow,
    plans_sweep,
    replan_run,
    replans_sweep,
    route_etas_refresh,
)
from lastmile.routing.problem import Location

logger = logging.getLogger(__name__)


@shared_task(name="dispatch.plan_hub_day")
def plan_hub_day_task(plan_id: int) -> str | None:
    """Run one queued plan; running it again, or for a plan no longer queued, does nothing."""
    plan = plan_run(plan_id=plan_id)
    return plan.status if plan is not None else None


@shared_task(name="dispatch.plan_tomorrow")
def plan_tomorrow_task() -> list[int]:
    """Nightly: request tomorrow's plan for every active hub and fan the runs out as a group."""
    return _fan_out(plans_request_tomorrow())


@shared_task(name="dispatch.plan_tomorrow_catch_up")
def plan_tomorrow_catch_up_task() -> list[int]:
    """After the nightly run: plan tomorrow for the hubs it missed (its message was lost, or
    the scheduler was down at that minute). Hubs planned since the nightly time are left as
    they are, so running it again, or after a nightly run that worked, changes nothing."""
    nightly = timezone.localtime().replace(
        hour=settings.DISPATCH_NIGHTLY_PLAN_HOUR, minute=0, second=0, microsecond=0
    )
    return _fan_out(plans_request_tomorrow(missing_since=nightly))


def _fan_out(plans: list) -> list[int]:
    new = [plan for plan in plans if not plan.joined]
    if new:
        runs = group(
            plan_hub_day_task.signature((plan.pk,), task_id=plan.celery_task_id) for plan in new
        )
        transaction.on_commit(runs.apply_async)
    logger.info("nightly planning requested", extra={"plans": [p.pk for p in plans]})
    return [plan.pk for plan in plans]


@shared_task(name="dispatch.expire_offers")
def expire_offers_task() -> int:
    """Every minute: unanswered route offers expire and go to the next courier; the work of
    couriers barred meanwhile whose hand-back was lost is taken back; routes left with no
    courier and no offer while couriers are left to ask are offered. Returns how many
    offers were closed. A full batch of any re-queues the sweep, so a backlog drains
    without one long task."""
    expired, more = offers_sweep()
    if more:
        expire_offers_task.apply_async()
    return expired


@shared_task(name="dispatch.release_courier_work")
def release_courier_work_task(courier_id: int) -> dict[str, object]:
    """Sent by workforce when a courier is suspended or offboarded: their open offers are
    withdrawn, their routes not started handed out again, routes in progress flagged to the
    dispatcher. Running it again finds nothing left to do."""
    released = courier_work_release(courier_id=courier_id)
    return {
        "offers_withdrawn": released.offers_withdrawn,
        "routes_released": released.routes_released,
        "routes_in_progress": released.routes_in_progress,
    }


# The name workforce sent before the hand-back covered routes; messages queued under it
# during a deploy still do the whole job.
@shared_task(name="dispatch.withdraw_courier_offers")
def withdraw_courier_offers_task(courier_id: int) -> dict[str, object]:
    """Former name of ``dispatch.release_courier_work``, kept for messages already queued."""
    return release_courier_work_task(courier_id)


@shared_task(name="dispatch.replan_hub_day", bind=True)
def replan_hub_day_task(self, replan_id: int) -> str | None:
    """Run one queued re-plan. While another re-plan of the same day runs, try again after
    the debounce; running it again once it has run does nothing."""
    replan = replan_run(replan_id=replan_id)
    if replan is None:
        return None
    if replan.status == ReplanStatus.QUEUED and not self.request.is_eager:
        # In-process (no broker) it stays queued: the minute's watch sends it again.
        self.apply_async(args=(replan_id,), countdown=settings.DISPATCH_REPLAN_DEBOUNCE_S)
    return replan.status


@shared_task(name="dispatch.watch_live_days")
def watch_live_days_task() -> list[int]:
    """Every minute: today's published days with new or cancelled orders get a re-plan."""
    return [replan.pk for replan in live_days_watch()]


@shared_task(name="dispatch.refresh_route_etas")
def refresh_route_etas_task(
    route_id: int,
    version: int,
    after_sequence: int,
    latitude: float,
    longitude: float,
    depart_at: str,
) -> str | None:
    """After a courier's update committed: new ETAs for the stops ahead (default queue).

    A refresh for an update the courier has since superseded does nothing; running it again
    writes the same ETAs. Returns where the ETAs came from, or ``None`` when dropped.
    """
    route = route_etas_refresh(
        route_id=route_id,
        version=version,
        after_sequence=after_sequence,
        origin=Location(latitude, longitude),
        depart_at=dt.datetime.fromisoformat(depart_at),
    )
    return route.eta_source if route is not None else None


@shared_task(name="dispatch.sweep_runs")
def sweep_runs_task() -> dict[str, int]:
    """Every minute: lost plans and re-plans are sent again, restarted or given up."""
    plans = plans_sweep()
    replans = replans_sweep()
    return {"plans": len(plans), "replans": len(replans)}
