"""Writes of hubs: creating them, setting their opening hours, archiving and deleting them."""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from lastmile.core.history import row_archive, row_delete_unless_history
from lastmile.hubs.models import Hub, OpeningHours, find_overlaps
from lastmile.hubs.selectors import hub_history

Interval = tuple[int, dt.time, dt.time]


@transaction.atomic
def hub_set_opening_hours(*, hub: Hub, intervals: Iterable[Interval]) -> list[OpeningHours]:
    """Replace the hub's weekly opening hours. Overlapping intervals on a day are refused."""
    intervals = list(intervals)
    problems = find_overlaps(intervals)
    if problems:
        raise ValidationError({"opening_hours": problems})
    rows = [
        OpeningHours(hub=hub, weekday=weekday, opens_at=opens_at, closes_at=closes_at)
        for weekday, opens_at, closes_at in intervals
    ]
    for row in rows:
        row.full_clean(exclude=["hub"])
    hub.opening_hours.all().delete()
    return OpeningHours.objects.bulk_create(rows)


@transaction.atomic
def hub_create(
    *,
    name: str,
    code: str,
    address: str,
    latitude: Decimal | float | str,
    longitude: Decimal | float | str,
    time_zone: str,
    kind: str = Hub.Kind.DEPOT,
    opening_hours: Iterable[Interval] = (),
) -> Hub:
    """Create a hub after full validation (code format, coordinate ranges, time zone)."""
    hub = Hub(
        name=name,
        code=code,
        kind=kind,
        address=address,
        latitude=Decimal(str(latitude)),
        longitude=Decimal(str(longitude)),
        time_zone=time_zone,
    )
    hub.full_clean()
    hub.save()
    hub_set_opening_hours(hub=hub, intervals=opening_hours)
    return hub


@transaction.atomic
def hub_archive(*, hub: Hub) -> Hub:
    """Archive the hub: inactive for good, kept with everything that refers to it.

    Planning, order imports, the dispatch board and courier forms offer only active hubs, so
    nothing new is planned at an archived hub. Archiving an archived hub changes nothing.
    """
    return row_archive(hub)


@transaction.atomic
def hub_delete(*, hub: Hub) -> None:
    """Delete a hub nothing refers to (one created by mistake), with its opening hours.

    A hub with history (orders, plans, vehicles, couriers, pay rules…) is refused with
    ``HasHistory``: archive it instead. The row lock makes a concurrent write that refers to
    the hub wait, so it cannot slip in between the check and the delete.
    """
    row_delete_unless_history(hub, history=lambda locked: hub_history(hub=locked))
