"""Demo hubs in Berlin: a depot in Tempelhof and an inner-city micro-hub in Kreuzberg."""

import datetime as dt

from lastmile.hubs.models import Hub
from lastmile.hubs.services import hub_create, hub_set_opening_hours

WEEKDAYS_AND_SATURDAY = range(6)

DEMO_HUBS = [
    {
        "code": "BER-TH",
        "name": "Berlin Tempelhof depot",
        "kind": Hub.Kind.DEPOT,
        "address": "Ringbahnstraße 40, 12099 Berlin",
        "latitude": "52.465800",
        "longitude": "13.396300",
        "time_zone": "Europe/Berlin",
        "hours": (dt.time(6, 0), dt.time(21, 0)),
    },
    {
        "code": "BER-KX",
        "name": "Berlin Kreuzberg micro-hub",
        "kind": Hub.Kind.MICRO_FULFILLMENT,
        "address": "Skalitzer Straße 80, 10997 Berlin",
        "latitude": "52.499700",
        "longitude": "13.428800",
        "time_zone": "Europe/Berlin",
        "hours": (dt.time(7, 0), dt.time(20, 0)),
    },
]


def seed_hubs() -> list[Hub]:
    """Create or refresh the demo hubs; running it again changes nothing."""
    hubs = []
    for spec in DEMO_HUBS:
        spec = dict(spec)
        opens_at, closes_at = spec.pop("hours")
        intervals = [(day, opens_at, closes_at) for day in WEEKDAYS_AND_SATURDAY]
        hub = Hub.objects.filter(code=spec["code"]).first()
        if hub is None:
            hub = hub_create(**spec, opening_hours=intervals)
        else:
            hub_set_opening_hours(hub=hub, intervals=intervals)
        hubs.append(hub)
    return hubs
