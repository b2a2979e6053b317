"""Celery tasks of the workforce: thin callers of one service each, idempotent."""

import datetime as dt
import logging
from smtplib import SMTPException

from celery import shared_task

from workforce import services
from workforce.notifications import send_courier_email
from workforce.services.onboarding import documents_flag_expired

logger = logging.getLogger(__name__)

EXPIRY_SWEEP_BATCH = 500


@shared_task(
    name="notifications.courier_email",
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def send_courier_email_task(courier_id: int, template: str, context: dict) -> None:
    """Mail a courier (routed to the notifications queue by its name)."""
    send_courier_email(courier_id=courier_id, template=template, context=context)


@shared_task(name="workforce.flag_expired_documents", ignore_result=True)
def flag_expired_documents_task() -> int:
    """Daily: flag current documents past their expiry and ask their couriers for new ones.

    Works in batches and re-queues itself while a full batch was found; a flagged document is
    never flagged again, so reruns mail nobody twice.
    """
    flagged = documents_flag_expired(limit=EXPIRY_SWEEP_BATCH)
    if flagged == EXPIRY_SWEEP_BATCH:
        flag_expired_documents_task.delay()
    return flagged


@shared_task(name="workforce.accrue_earnings", ignore_result=True)
def accrue_earnings_task() -> int:
    """Price delivery attempts not yet in the ledger (exactly once, by constraint)."""
    return services.earnings_accrue_stops()


@shared_task(name="workforce.close_payout_week", ignore_result=True)
def close_payout_week_task(week_start: str | None = None) -> int:
    """Close a pay week (ISO date of its Monday; default: the last week that ended).

    Accrues the week's stops first, then closes; closing a closed week creates nothing.
    Returns the number of batches created by this run.
    """
    monday = dt.date.fromisoformat(week_start) if week_start else services.last_completed_week()
    _, week_end = services.week_bounds(monday)
    services.earnings_accrue_stops(until=week_end)
    result = services.payout_week_close(week_start=monday)
    logger.info(
        "workforce: close_payout_week ran",
        extra={
            "week_start": monday.isoformat(),
            "batches_created": len(result.created),
            "already_closed": result.already_closed,
        },
    )
    return len(result.created)


@shared_task(name="workforce.close_overdue_payout_week", ignore_result=True)
def close_overdue_payout_week_task(now: str | None = None) -> int:
    """Hourly: close last week if its Monday run was lost; otherwise do nothing.

    The weekly close is one transaction, so a killed worker leaves nothing half-done, but a
    lost message would leave the week open until someone noticed. ``now`` (ISO) is for
    tests; returns the batches created.
    """
    monday = services.payout_week_overdue(dt.datetime.fromisoformat(now) if now else None)
    if monday is None:
        return 0
    logger.warning("workforce: payout week close was lost", extra={"week_start": str(monday)})
    return close_payout_week_task(monday.isoformat())
