"""The fleet's audit rows (``FleetEvent``): one constructor per kind, the only writers.

Services call these inside the transaction of the change they record, so a vehicle, device
or charging plan never changes without its row, and each payload's shape is defined here.
"""

import datetime as dt
from typing import Any

from django.utils import timezone

from fleet.models import ChargingPlan, Device, FleetEvent, Vehicle
from lastmile.accounts.models import User


def _record(
    *,
    kind: str,
    source: str,
    actor: User | None,
    vehicle_id: int | None = None,
    charging_plan: ChargingPlan | None = None,
    from_status: str = "",
    to_status: str = "",
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> FleetEvent:
    return FleetEvent.objects.create(
        kind=kind,
        vehicle_id=vehicle_id,
        charging_plan=charging_plan,
        from_status=from_status,
        to_status=to_status,
        # Admin actions pass request.user, which may be anonymous: no actor then.
        actor=actor if actor is not None and actor.is_authenticated else None,
        source=source,
        payload=payload or {},
        occurred_at=occurred_at or timezone.now(),
    )


def vehicle_created(*, vehicle: Vehicle, source: str, actor: User | None = None) -> FleetEvent:
    """A vehicle joined the fleet (its code, type and home hub)."""
    return _record(
        kind=FleetEvent.Kind.VEHICLE_CREATED,
        vehicle_id=vehicle.pk,
        to_status=vehicle.status,
        source=source,
        actor=actor,
        payload={
            "code": vehicle.code,
            "vehicle_type": vehicle.vehicle_type.name,
            "hub": vehicle.home_hub.code,
        },
    )


def vehicle_status_changed(
    *,
    vehicle: Vehicle,
    from_status: str,
    to_status: str,
    source: str,
    actor: User | None = None,
    reason: str = "",
    occurred_at: dt.datetime | None = None,
) -> FleetEvent:
    """A vehicle moved between statuses (maintenance, back in service, retired), and why."""
    return _record(
        kind=FleetEvent.Kind.VEHICLE_STATUS_CHANGED,
        vehicle_id=vehicle.pk,
        from_status=from_status,
        to_status=to_status,
        source=source,
        actor=actor,
        payload={"reason": reason} if reason else {},
        occurred_at=occurred_at,
    )


def device_created(*, device: Device, source: str, actor: User | None = None) -> FleetEvent:
    """A telematics device was registered for a vehicle (never its token, only the prefix)."""
    return _record(
        kind=FleetEvent.Kind.DEVICE_CREATED,
        vehicle_id=device.vehicle_id,
        source=source,
        actor=actor,
        payload={"device": device.pk, "name": device.name, "token_prefix": device.token_prefix},
    )


def device_token_rotated(
    *, device: Device, from_prefix: str, source: str, actor: User | None = None
) -> FleetEvent:
    """A device got a new token; the row names the old and new prefixes."""
    return _record(
        kind=FleetEvent.Kind.DEVICE_TOKEN_ROTATED,
        vehicle_id=device.vehicle_id,
        source=source,
        actor=actor,
        payload={"device": device.pk, "from_prefix": from_prefix, "to_prefix": device.token_prefix},
    )


def device_revoked(
    *, device: Device, source: str, actor: User | None = None, reason: str = ""
) -> FleetEvent:
    """A device may no longer post, and why."""
    return _record(
        kind=FleetEvent.Kind.DEVICE_REVOKED,
        vehicle_id=device.vehicle_id,
        source=source,
        actor=actor,
        payload={"device": device.pk, "token_prefix": device.token_prefix, "reason": reason},
    )


def charging_plan_requested(
    *, plan: ChargingPlan, vehicle_count: int, source: str, actor: User | None = None
) -> FleetEvent:
    """A charging plan was asked for a hub's night (how many vehicles, ready by when)."""
    return _record(
        kind=FleetEvent.Kind.PLAN_REQUESTED,
        charging_plan=plan,
        to_status=plan.status,
        source=source,
        actor=actor,
        payload={"vehicles": vehicle_count, "horizon_end": plan.horizon_end.isoformat()},
    )


def charging_plan_status_changed(
    *,
    plan: ChargingPlan,
    from_status: str,
    to_status: str,
    source: str,
    actor: User | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> FleetEvent:
    """A charging plan moved between statuses (``payload``: shortfalls, the superseding plan…)."""
    return _record(
        kind=FleetEvent.Kind.PLAN_STATUS_CHANGED,
        charging_plan=plan,
        from_status=from_status,
        to_status=to_status,
        source=source,
        actor=actor,
        payload=payload,
        occurred_at=occurred_at,
    )
