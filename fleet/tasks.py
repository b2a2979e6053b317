"""Celery tasks of the fleet: the ping retention sweep, solving charging plans, and the sweep
that sends lost charging plans again.

Each takes primitives, calls one service and is safe to run twice.
"""

import datetime as dt
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from fleet.models import ChargingPlan
from fleet.services import (
    charging_plan_fail,
    charging_plan_solve,
    charging_plans_sweep,
    pings_prune,
)
from lastmile.core.errors import NotFound

logger = logging.getLogger(__name__)


@shared_task(name="fleet.prune_pings", ignore_result=True)
def prune_pings_task(batch_size: int = 5000, max_batches: int = 20) -> int:
    """Delete raw pings older than ``FLEET_PING_RETENTION_DAYS``, a bounded amount per run.

    If more is left (the first run after a long pause), the task re-queues itself instead of
    holding a worker for an hour.
    """
    cutoff = timezone.now() - dt.timedelta(days=settings.FLEET_PING_RETENTION_DAYS)
    result = pings_prune(older_than=cutoff, batch_size=batch_size, max_batches=max_batches)
    logger.info(
        "telematics pings pruned",
        extra={"deleted": result.deleted, "done": result.done, "cutoff": cutoff.isoformat()},
    )
    if not result.done:
        prune_pings_task.apply_async(
            kwargs={"batch_size": batch_size, "max_batches": max_batches}, countdown=5
        )
    return result.deleted


# Routed to the ``planning`` queue (``fleet.plan_*``): it is CPU-bound like route planning.
@shared_task(name="fleet.plan_charging", ignore_result=True, soft_time_limit=120, time_limit=180)
def plan_charging_task(plan_id: int) -> str:
    """Solve the pending charging plan ``plan_id`` (a solved plan is left as it is)."""
    try:
        return charging_plan_solve(plan_id=plan_id).status
    except NotFound:
        logger.warning("charging plan vanished before it was solved", extra={"plan": plan_id})
        return "missing"
    except SoftTimeLimitExceeded:
        plan = charging_plan_fail(
            plan=ChargingPlan(pk=plan_id), reason="The planning task ran out of time."
        )
        return plan.status


@shared_task(name="fleet.sweep_charging_plans", ignore_result=True)
def sweep_charging_plans_task() -> int:
    """Every minute: pending charging plans whose task or worker was lost are sent again."""
    return len(charging_plans_sweep())
