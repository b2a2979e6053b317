"""Vetting decisions and the courier's own status: one service per move, each audited.

Each move locks the row, checks the transition table, sets the status and its timestamp,
saves with ``update_fields`` and writes a timeline row in the same transaction; the courier
is mailed after commit. A decision on a submitted application first takes it into review by
the same reviewer (both moves are recorded), so a manager can decide from the queue.
"""

import logging

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from lastmile.accounts.models import User
from lastmile.core.errors import InvalidTransition, ValidationFailed
from lastmile.core.state import transition
from workforce import events
from workforce.models import (
    APPLICATION_TRANSITIONS,
    COURIER_TRANSITIONS,
    ApplicationStatus,
    Courier,
    CourierApplication,
    CourierStatus,
)
from workforce.services.common import notify_after_commit

logger = logging.getLogger(__name__)


def _lock_application(application: CourierApplication) -> CourierApplication:
    return (
        CourierApplication.objects.select_for_update(of=("self",))
        .select_related("courier__user")
        .get(pk=application.pk)
    )


def _move_application(
    application: CourierApplication, *, target: str, reviewer: User | None, note: str = ""
) -> CourierApplication:
    """Move a locked application (its courier loaded); returns the fresh row, unchanged when
    it already is in ``target``."""
    now = timezone.now()
    fields: dict[str, object] = {"status_changed_at": now}
    if reviewer is not None:
        fields["reviewer"] = reviewer
    if target in (
        ApplicationStatus.APPROVED,
        ApplicationStatus.REJECTED,
        ApplicationStatus.CHANGES_REQUESTED,
    ):
        fields |= {"decided_at": now, "decision_note": note}
    moved = transition(
        application,
        table=APPLICATION_TRANSITIONS,
        entity="Application",
        target=target,
        record=lambda row, previous, at: events.application_status_changed(
            courier=application.courier,
            from_status=previous,
            to_status=target,
            actor=reviewer,
            note=note,
            occurred_at=at,
        ),
        fields=fields,
        now=now,
    )
    if moved.changed:
        logger.info(
            "workforce: application moved",
            extra={"application_id": application.pk, "from": moved.previous, "to": target},
        )
    # The fresh row keeps the courier the caller loaded (no second read of it).
    moved.row.courier = application.courier
    return moved.row


def _decide(
    application: CourierApplication, *, target: str, reviewer: User, note: str = ""
) -> CourierApplication:
    locked = _lock_application(application)
    if locked.status == ApplicationStatus.SUBMITTED:
        locked = _move_application(locked, target=ApplicationStatus.UNDER_REVIEW, reviewer=reviewer)
    return _move_application(locked, target=target, reviewer=reviewer, note=note)


def _require_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "Say why, so the courier knows what to do.", errors={"reason": ["Give a reason."]}
        )
    return reason


def _move_courier(courier: Courier, *, target: str, actor: User | None, note: str = "") -> bool:
    """Move the courier (``courier`` follows); ``False`` when it already is in ``target``."""
    now = timezone.now()
    moved = transition(
        courier,
        table=COURIER_TRANSITIONS,
        entity="Courier",
        target=target,
        record=lambda row, previous, at: events.courier_status_changed(
            courier=row,
            from_status=previous,
            to_status=target,
            actor=actor,
            note=note,
            occurred_at=at,
        ),
        fields={"status_changed_at": now},
        now=now,
    )
    if moved.changed:
        courier.status, courier.status_changed_at = moved.row.status, moved.row.status_changed_at
    return moved.changed


# Dispatch's task (named, not imported: dispatch depends on workforce, never the reverse).
RELEASE_WORK_TASK = "dispatch.release_courier_work"


def _release_route_work_after_commit(courier_id: int) -> None:
    """Once the courier may no longer drive, dispatch takes their work back: open route
    offers withdrawn, routes not started handed to another driver or offered, routes in
    progress flagged to the dispatcher. Should the broker be down, dispatch's
    minute-by-minute offer sweep does it instead."""

    def enqueue() -> None:
        # Registers every app's tasks (as a worker does at start), so that without a broker
        # (in-process tasks) the named task runs here instead of going nowhere.
        current_app.loader.import_default_modules()
        try:
            current_app.signature(RELEASE_WORK_TASK, args=(courier_id,)).delay()
        except BrokerError:
            logger.warning(
                "workforce: route hand-back not queued; the offer sweep will do it",
                extra={"courier_id": courier_id},
            )

    transaction.on_commit(enqueue)


@transaction.atomic
def application_start_review(
    *, application: CourierApplication, reviewer: User
) -> CourierApplication:
    """A manager takes a submitted application (submitted → under_review)."""
    locked = _lock_application(application)
    return _move_application(locked, target=ApplicationStatus.UNDER_REVIEW, reviewer=reviewer)


@transaction.atomic
def application_approve(*, application: CourierApplication, reviewer: User) -> CourierApplication:
    """Approve: the application is final and the courier becomes active (and is mailed)."""
    locked = _lock_application(application)
    if locked.status == ApplicationStatus.APPROVED:
        return locked
    locked = _decide(locked, target=ApplicationStatus.APPROVED, reviewer=reviewer)
    _move_courier(locked.courier, target=CourierStatus.ACTIVE, actor=reviewer, note="approved")
    notify_after_commit(locked.courier_id, "application_approved")
    return locked


@transaction.atomic
def application_reject(
    *, application: CourierApplication, reviewer: User, reason: str
) -> CourierApplication:
    """Reject with a reason shown to the courier; the profile is offboarded (final)."""
    reason = _require_reason(reason)
    locked = _lock_application(application)
    if locked.status == ApplicationStatus.REJECTED:
        return locked
    locked = _decide(locked, target=ApplicationStatus.REJECTED, reviewer=reviewer, note=reason)
    _move_courier(locked.courier, target=CourierStatus.OFFBOARDED, actor=reviewer, note=reason)
    notify_after_commit(locked.courier_id, "application_rejected", reason=reason)
    return locked


@transaction.atomic
def application_request_changes(
    *, application: CourierApplication, reviewer: User, reason: str
) -> CourierApplication:
    """Send the application back with what to change; the courier edits and resubmits."""
    reason = _require_reason(reason)
    locked = _lock_application(application)
    if locked.status == ApplicationStatus.CHANGES_REQUESTED:
        return locked
    locked = _decide(
        locked, target=ApplicationStatus.CHANGES_REQUESTED, reviewer=reviewer, note=reason
    )
    notify_after_commit(locked.courier_id, "changes_requested", reason=reason)
    return locked


@transaction.atomic
def courier_suspend(*, courier: Courier, actor: User | None, reason: str) -> Courier:
    """Bar an active courier for now (active → suspended); they keep their earnings.

    After commit dispatch takes their work back: open route offers withdrawn, routes not
    started handed to someone else, routes in progress flagged to the dispatcher; the
    courier portal and the driver API refuse them from then on.
    """
    reason = _require_reason(reason)
    if _move_courier(courier, target=CourierStatus.SUSPENDED, actor=actor, note=reason):
        notify_after_commit(courier.pk, "courier_suspended", reason=reason)
        _release_route_work_after_commit(courier.pk)
    return courier


@transaction.atomic
def courier_reactivate(*, courier: Courier, actor: User | None) -> Courier:
    """Lift a suspension (suspended → active). An applicant becomes active only by approval."""
    current = Courier.objects.values_list("status", flat=True).get(pk=courier.pk)
    if current == CourierStatus.APPLICANT:
        raise InvalidTransition(entity="Courier", current=current, target=CourierStatus.ACTIVE)
    _move_courier(courier, target=CourierStatus.ACTIVE, actor=actor, note="reactivated")
    return courier


@transaction.atomic
def courier_offboard(*, courier: Courier, actor: User | None, reason: str) -> Courier:
    """End the courier's work with us (final). Unpaid earnings are still paid out; their
    route offers and routes not started are taken back after commit, as for a suspension."""
    reason = _require_reason(reason)
    if _move_courier(courier, target=CourierStatus.OFFBOARDED, actor=actor, note=reason):
        _release_route_work_after_commit(courier.pk)
    return courier
