"""A re-plan's solved route read back as stops: deliveries, the reloads at the hub and the
driver's breaks."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from lastmile.dispatch.models import (
    StopKind,
)
from lastmile.dispatch.services.building import (
    ReplanInput,
)
from lastmile.routing.problem import Location
from lastmile.routing.solution import Solution, VisitKind

logger = logging.getLogger(__name__)


@dataclass
class Visit:
    kind: str  # StopKind.DELIVERY, RELOAD or BREAK
    order_id: int | None
    arrival: dt.datetime
    start: dt.datetime
    departure: dt.datetime
    trip: int
    where: Location | None = None  # a break: where the vehicle is when it starts


def solved_visits(data: ReplanInput, vehicle_code: str, solution: Solution) -> list[Visit]:
    """The solved route of a vehicle as stops: deliveries, and the hub visits that load
    parcels (consecutive pickups are one reload; a vehicle at the hub loads before it leaves)."""
    entry = data.by_vehicle[vehicle_code]
    solved = solution.route_of(vehicle_code)
    if solved is None:
        return []
    out: list[Visit] = []
    trip = entry.trip
    # A vehicle at the hub (not left yet, started but still there, or at a reload) loads
    # before its next delivery.
    delivered_yet = entry.started and not entry.loading and entry.start_source != "hub"
    first = entry.breaks_after.get(None)
    if first and solved.visits:
        # The pause due before the next stop, taken where the vehicle is, at once.
        leave = data.at(solved.visits[0].departure_s)
        begin = leave - dt.timedelta(seconds=first)
        out.append(Visit(StopKind.BREAK, None, begin, begin, leave, trip, entry.start))
    for visit in solved.visits:
        if visit.kind != VisitKind.JOB:
            continue
        arrival, start, leave = (
            data.at(visit.arrival_s),
            data.at(visit.start_s),
            data.at(visit.departure_s),
        )
        if visit.job_id.startswith("p"):
            if not delivered_yet:
                continue  # loading at the hub before the first delivery
            if out and out[-1].kind == StopKind.RELOAD:
                out[-1].departure = leave
                continue
            # A reload ends the trip it closes; the next delivery is on the next trip. The
            # matrix put the reload time into the trip to the dock: the van arrived before.
            arrival = start = data.at(visit.arrival_s - data.reload_s)
            out.append(Visit(StopKind.RELOAD, None, arrival, start, leave, trip))
            trip += 1
            continue
        delivered_yet = True
        order_id = int(visit.job_id[1:])
        pause = entry.breaks_after.get(order_id)
        if pause:
            # The driver's break after this stop was served as part of it: split it off.
            served = leave - dt.timedelta(seconds=pause)
            out.append(Visit(StopKind.DELIVERY, order_id, arrival, start, served, trip))
            where = data.problem.locations[visit.location]
            out.append(Visit(StopKind.BREAK, None, served, served, leave, trip, where))
            continue
        out.append(Visit(StopKind.DELIVERY, order_id, arrival, start, leave, trip))
    return out
