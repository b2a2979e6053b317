"""Template helpers of the fleet's back-office screens."""

from collections.abc import Iterable

from django import template
from django.urls import reverse

from fleet.models import Vehicle
from fleet.selectors import vehicle_state_or_none

register = template.Library()


@register.filter
def vehicle_markers(vehicles: Iterable[Vehicle]) -> list[dict]:
    """Map markers for vehicles whose position is known (their live state is already joined)."""
    markers = []
    for vehicle in vehicles:
        state = vehicle_state_or_none(vehicle)
        if state is None or state.latitude is None:
            continue
        markers.append(
            {
                "code": vehicle.code,
                "lat": float(state.latitude),
                "lng": float(state.longitude),
                "soc": None if state.soc_pct is None else float(state.soc_pct),
                "status": vehicle.get_status_display(),
                "seen": state.recorded_at.isoformat() if state.recorded_at else None,
                "url": reverse("admin:fleet_vehicle_change", args=[vehicle.pk]),
            }
        )
    return markers
