"""Availability slots couriers declare, and shifts (scheduled → started → completed).

Completing a shift prices its hours, distance and minimum guarantee into the ledger in the
same transaction, so a completed shift is never left unpaid.
"""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import Conflict, NotFound, ValidationFailed
from lastmile.core.state import transition
from lastmile.hubs.models import Hub
from workforce import events
from workforce.errors import WorkforceErrorCode
from workforce.models import (
    SHIFT_TRANSITIONS,
    AvailabilitySlot,
    Courier,
    CourierStatus,
    Shift,
    ShiftStatus,
)

logger = logging.getLogger(__name__)

AVAILABILITY_HORIZON_DAYS = 28


@transaction.atomic
def availability_slot_add(
    *, courier: Courier, hub: Hub, day: dt.date, starts_at: dt.time, ends_at: dt.time
) -> AvailabilitySlot:
    """Declare that the courier can work at ``hub`` on ``day`` (hub-local times).

    Only active couriers; from today up to four weeks ahead; slots of one courier on one day
    must not overlap (whatever the hub: a person is in one place at a time).
    """
    locked = Courier.objects.select_for_update().get(pk=courier.pk)
    if locked.status != CourierStatus.ACTIVE:
        raise Conflict(
            "Only active couriers can declare availability.",
            code=WorkforceErrorCode.COURIER_INACTIVE,
        )
    errors: dict[str, list[str]] = {}
    local_now = timezone.localtime(timezone.now(), hub.zone)
    today = local_now.date()
    if not hub.is_active:
        errors["hub"] = ["This hub is closed."]
    if day < today:
        errors["day"] = ["Choose today or a later day."]
    elif day > today + dt.timedelta(days=AVAILABILITY_HORIZON_DAYS):
        errors["day"] = [f"You can plan up to {AVAILABILITY_HORIZON_DAYS} days ahead."]
    if ends_at <= starts_at:
        errors["ends_at"] = ["The slot must end after it starts."]
    elif day == today and ends_at <= local_now.time():
        errors["ends_at"] = ["This time is already over today."]
    if not errors:
        clash = (
            AvailabilitySlot.objects.filter(
                courier=locked, day=day, starts_at__lt=ends_at, ends_at__gt=starts_at
            )
            .select_related("hub")
            .first()
        )
        if clash is not None:
            errors["starts_at"] = [
                f"Overlaps your slot {clash.starts_at:%H:%M}–{clash.ends_at:%H:%M} "
                f"at {clash.hub.name}."
            ]
    if errors:
        raise ValidationFailed("The slot was not added.", errors=errors)
    slot = AvailabilitySlot(courier=locked, hub=hub, day=day, starts_at=starts_at, ends_at=ends_at)
    slot.full_clean(validate_unique=False, validate_constraints=False)
    slot.save()
    return slot


@transaction.atomic
def availability_slot_remove(*, courier: Courier, slot_id: int) -> None:
    """Withdraw one of the courier's own future slots (another courier's is "not found")."""
    slot = (
        AvailabilitySlot.objects.select_for_update(of=("self",))
        .select_related("hub")
        .filter(courier=courier, pk=slot_id)
        .first()
    )
    if slot is None:
        raise NotFound("No such slot.")
    # The slot's day is the hub's day, as when it was added.
    if slot.day < timezone.localtime(timezone.now(), slot.hub.zone).date():
        raise Conflict("Past slots cannot be withdrawn.", code=WorkforceErrorCode.SLOT_PAST)
    slot.delete()


# --- Shifts ----------------------------------------------------------------------------------


def _require_aware(moment: dt.datetime | None, *, field: str) -> None:
    # A naive time would be read in the server's zone, not the hub's: refuse, never guess.
    if moment is not None and timezone.is_naive(moment):
        raise ValidationFailed(
            "Times need a time zone.", errors={field: ["Include a time zone offset."]}
        )


def _move_shift(shift: Shift, *, target: str, actor: User | None, fields: dict) -> Shift:
    """Move ``shift`` with ``fields`` (the caller holds the transaction); the fresh row."""
    now = timezone.now()
    return transition(
        shift,
        table=SHIFT_TRANSITIONS,
        entity="Shift",
        target=target,
        record=lambda row, previous, at: events.shift_status_changed(
            shift=row, from_status=previous, to_status=target, actor=actor, occurred_at=at
        ),
        fields={"status_changed_at": now, **fields},
        now=now,
    ).row


@transaction.atomic
def shift_schedule(
    *,
    courier: Courier,
    hub: Hub,
    planned_start: dt.datetime,
    planned_end: dt.datetime,
    actor: User | None = None,
) -> Shift:
    """Plan a shift for an active courier (dispatch will do this from availability)."""
    if timezone.is_naive(planned_start) or timezone.is_naive(planned_end):
        raise ValidationFailed("Shift times need a time zone.", errors={"planned_start": ["Naive"]})
    if planned_end <= planned_start:
        raise ValidationFailed(
            "The shift must end after it starts.",
            errors={"planned_end": ["The shift must end after it starts."]},
        )
    if courier.status != CourierStatus.ACTIVE:
        raise Conflict("Only active couriers get shifts.", code=WorkforceErrorCode.COURIER_INACTIVE)
    shift = Shift(courier=courier, hub=hub, planned_start=planned_start, planned_end=planned_end)
    shift.full_clean(validate_constraints=False)
    shift.save()
    events.shift_status_changed(shift=shift, to_status=ShiftStatus.SCHEDULED, actor=actor)
    return shift


@transaction.atomic
def shift_start(*, shift: Shift, at: dt.datetime | None = None, actor: User | None = None) -> Shift:
    """The courier clocked in (scheduled → started)."""
    _require_aware(at, field="started_at")
    return _move_shift(
        shift, target=ShiftStatus.STARTED, actor=actor, fields={"started_at": at or timezone.now()}
    )


@transaction.atomic
def shift_cancel(*, shift: Shift, actor: User | None = None) -> Shift:
    """Call a shift off before it started (scheduled → cancelled)."""
    return _move_shift(shift, target=ShiftStatus.CANCELLED, actor=actor, fields={})


@transaction.atomic
def shift_complete(
    *,
    shift: Shift,
    at: dt.datetime | None = None,
    distance_m: int | None = None,
    actor: User | None = None,
) -> Shift:
    """The courier clocked out (started → completed); the shift's pay goes into the ledger.

    Hours, distance and the minimum-guarantee top-up are priced by the pay rule of the
    shift's hub and the courier's kind; stops made during the shift are accrued first so the
    guarantee sees them. Completing a completed shift is a no-op.
    """
    from workforce.services.earnings import earnings_accrue_stops, shift_earnings_record

    _require_aware(at, field="ended_at")
    locked = Shift.objects.select_for_update().get(pk=shift.pk)
    if locked.status == ShiftStatus.COMPLETED:
        return locked
    ended_at = at or timezone.now()
    if locked.started_at is not None and ended_at <= locked.started_at:
        raise ValidationFailed(
            "A shift must end after it started.",
            errors={"ended_at": ["A shift must end after it started."]},
        )
    if distance_m is not None and distance_m < 0:
        raise ValidationFailed("Distance cannot be negative.", errors={"distance_m": ["< 0"]})
    worked_s = int((ended_at - locked.started_at).total_seconds()) if locked.started_at else 0
    locked = _move_shift(
        locked,
        target=ShiftStatus.COMPLETED,
        actor=actor,
        fields={"ended_at": ended_at, "worked_s": worked_s, "distance_m": distance_m},
    )
    earnings_accrue_stops(courier=locked.courier, until=ended_at)
    shift_earnings_record(shift=locked)
    return locked
