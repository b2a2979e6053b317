"""Reads of hubs."""

import datetime as dt

from django.db.models import Prefetch, QuerySet

from lastmile.core.errors import NotFound
from lastmile.core.history import references_to
from lastmile.hubs.models import Hub, OpeningHours


def hub_list(*, active_only: bool = True) -> QuerySet[Hub]:
    hubs = Hub.objects.prefetch_related(
        Prefetch("opening_hours", queryset=OpeningHours.objects.order_by("weekday", "opens_at"))
    )
    return hubs.filter(is_active=True) if active_only else hubs


def hub_history(*, hub: Hub) -> list[str]:
    """What refers to the hub ("3 orders", "1 plan"…), besides its own opening hours.

    A hub with history is archived, never deleted; ``[]`` means it can still be deleted.
    """
    return references_to(hub, own=[OpeningHours])


def hub_get_by_code(*, code: str) -> Hub:
    try:
        return Hub.objects.get(code=code)
    except Hub.DoesNotExist:
        raise NotFound(f"No hub with code '{code}'.") from None


def hub_service_windows(*, hub: Hub, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """The hub's opening intervals on ``day`` as aware datetimes in the hub's own zone.

    Routes are planned inside these; a day with no row is a closed day (``[]``).
    """
    zone = hub.zone
    return [
        (
            dt.datetime.combine(day, row.opens_at, tzinfo=zone),
            dt.datetime.combine(day, row.closes_at, tzinfo=zone),
        )
        for row in hub.opening_hours.all()
        if row.weekday == day.weekday()
    ]
