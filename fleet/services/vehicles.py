"""Writes of vehicles: types, vehicles, their details, and the vehicle status machine.

Each status move locks the row, checks ``VEHICLE_TRANSITIONS``, sets status and its
timestamp, saves with ``update_fields`` and writes one ``FleetEvent``; repeating the current
status is a no-op. Retiring a vehicle revokes its telematics devices in the same transaction.
"""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from fleet import events
from fleet.models import (
    VEHICLE_TRANSITIONS,
    Device,
    FleetEvent,
    Vehicle,
    VehicleState,
    VehicleStatus,
    VehicleType,
)
from fleet.selectors import vehicle_history
from lastmile.accounts.models import User
from lastmile.core.errors import HasHistory, ValidationFailed
from lastmile.core.state import transition
from lastmile.hubs.models import Hub

# Retiring is how a vehicle is archived: kept with its history, out of service for good.
RETIRE_INSTEAD = "archive it by retiring it"

# Details the back-office may change on an existing vehicle; status moves have their services.
EDITABLE_FIELDS = frozenset({"registration", "vehicle_type", "home_hub", "skills"})


@transaction.atomic
def vehicle_type_create(**fields: Any) -> VehicleType:
    """Create a vehicle type after full validation (the kind decides which fields it needs)."""
    vehicle_type = VehicleType(**fields)
    vehicle_type.full_clean()
    vehicle_type.save()
    return vehicle_type


@transaction.atomic
def vehicle_create(
    *,
    code: str,
    vehicle_type: VehicleType,
    home_hub: Hub,
    registration: str = "",
    skills: Iterable[str] = (),
    source: str,
    actor: User | None = None,
) -> Vehicle:
    """Add a vehicle to the fleet, active, with an empty live-state row and a creation event."""
    vehicle = Vehicle(
        code=code.strip().upper(),
        registration=registration.strip().upper(),
        vehicle_type=vehicle_type,
        home_hub=home_hub,
        skills=sorted(set(skills)),
        status=VehicleStatus.ACTIVE,
        status_changed_at=timezone.now(),
    )
    vehicle.full_clean()
    vehicle.save()
    VehicleState.objects.create(vehicle=vehicle)
    events.vehicle_created(vehicle=vehicle, source=source, actor=actor)
    return vehicle


@transaction.atomic
def vehicle_update(
    *, vehicle: Vehicle, changes: dict[str, Any], source: str, actor: User | None = None
) -> Vehicle:
    """Change a vehicle's details (not its status); unchanged values write nothing."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed here.",
            errors={name: ["Not editable."] for name in sorted(unknown)},
        )
    locked = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    before = {name: getattr(locked, name) for name in changes}
    for name, value in changes.items():
        setattr(locked, name, value)
    if "registration" in changes:
        locked.registration = locked.registration.strip().upper()
    if "skills" in changes:
        locked.skills = sorted(set(locked.skills))
    locked.full_clean()
    changed = [name for name in changes if getattr(locked, name) != before[name]]
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
    return locked


def _transition(
    vehicle: Vehicle, *, target: str, source: str, actor: User | None, reason: str = ""
) -> Vehicle:
    """Move ``vehicle`` to ``target`` (the caller holds the transaction); the fresh row."""
    now = timezone.now()
    return transition(
        vehicle,
        table=VEHICLE_TRANSITIONS,
        entity="Vehicle",
        target=target,
        record=lambda row, previous, at: events.vehicle_status_changed(
            vehicle=row,
            from_status=previous,
            to_status=target,
            source=source,
            actor=actor,
            reason=reason,
            occurred_at=at,
        ),
        fields={"status_changed_at": now},
        now=now,
    ).row


@transaction.atomic
def vehicle_send_to_maintenance(
    *, vehicle: Vehicle, reason: str, source: str, actor: User | None = None
) -> Vehicle:
    """Take an active vehicle out of service for a while (active → maintenance)."""
    if not reason.strip():
        raise ValidationFailed("Say why.", errors={"reason": ["Say why the vehicle is out."]})
    return _transition(
        vehicle, target=VehicleStatus.MAINTENANCE, source=source, actor=actor, reason=reason
    )


@transaction.atomic
def vehicle_return_to_service(
    *, vehicle: Vehicle, source: str, actor: User | None = None
) -> Vehicle:
    """The vehicle is back from the workshop (maintenance → active)."""
    return _transition(vehicle, target=VehicleStatus.ACTIVE, source=source, actor=actor)


@transaction.atomic
def vehicle_retire(
    *, vehicle: Vehicle, reason: str, source: str, actor: User | None = None
) -> Vehicle:
    """Take the vehicle out of the fleet for good, and revoke its telematics devices."""
    if not reason.strip():
        raise ValidationFailed("Say why.", errors={"reason": ["Say why the vehicle is retired."]})
    locked = _transition(
        vehicle, target=VehicleStatus.RETIRED, source=source, actor=actor, reason=reason
    )
    from fleet.services.devices import device_revoke

    for device in Device.objects.filter(vehicle=locked, revoked_at__isnull=True).order_by("pk"):
        device_revoke(device=device, source=source, actor=actor, reason="vehicle retired")
    return locked


@transaction.atomic
def vehicle_delete(*, vehicle: Vehicle) -> None:
    """Delete a vehicle that never did anything (added by mistake), with its live-state row.

    Its creation event goes with it: it only records the mistake being undone. A vehicle with
    any history (routes, pings, devices, charging, a status change…) is refused with
    ``HasHistory``: archive it by retiring it, which keeps the vehicle and ends its service.
    """
    locked = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    history = vehicle_history(vehicle=locked)
    if history:
        raise HasHistory.refusing(locked, history, instead=RETIRE_INSTEAD)
    try:
        # A queryset delete: FleetEvent rows refuse ``Model.delete``, as records should.
        FleetEvent.objects.filter(vehicle=locked, kind=FleetEvent.Kind.VEHICLE_CREATED).delete()
        locked.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise HasHistory.refusing(
            locked, ["rows that refer to it"], instead=RETIRE_INSTEAD
        ) from exc
