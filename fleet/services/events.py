"""The one way fleet services write their audit rows (``FleetEvent``)."""

from typing import Any

from django.utils import timezone

from fleet.models import ChargingPlan, FleetEvent, Vehicle
from lastmile.accounts.models import User


def fleet_event_record(
    *,
    kind: str,
    source: str,
    actor: User | None = None,
    vehicle: Vehicle | None = None,
    vehicle_id: int | None = None,
    charging_plan: ChargingPlan | None = None,
    from_status: str = "",
    to_status: str = "",
    payload: dict[str, Any] | None = None,
) -> FleetEvent:
    """Append one event row; call it inside the transaction of the change it records."""
    return FleetEvent.objects.create(
        kind=kind,
        vehicle_id=vehicle.pk if vehicle is not None else vehicle_id,
        charging_plan=charging_plan,
        from_status=from_status,
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        source=source,
        payload=payload or {},
        occurred_at=timezone.now(),
    )
