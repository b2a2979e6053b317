"""Route and plan totals, computed and written in one place.

A route's totals (distance, duration, energy, trips, load, planned start and end) come from
the independent checker's figures of its solved route, plus, during a re-plan, what the
vehicle already drove; a plan's totals are its routes' totals added up.
"""

from __future__ import annotations

import datetime as dt
import logging

from fleet.selectors import vehicle_routing_spec
from lastmile.dispatch.models import (
    Plan,
    Route,
    Stop,
    StopStatus,
    UnassignedOrder,
)
from lastmile.dispatch.services.building import ReplanInput
from lastmile.dispatch.services.reading import LiveRoute, order_demands
from lastmile.routing.checker import RouteFigures
from lastmile.routing.problem import Load

logger = logging.getLogger(__name__)


# What a route's totals are made of: written together, saved with these update fields.
ROUTE_TOTALS = (
    "distance_m", "duration_s", "energy_wh", "trips",
    "load_weight_g", "load_volume_cm3", "load_parcels", "planned_start", "planned_end",
)  # fmt: skip


def route_totals_set(
    route: Route,
    *,
    figures: RouteFigures,
    load: Load,
    planned_start: dt.datetime,
    planned_end: dt.datetime,
) -> list[str]:
    """Set a solved route's totals on ``route`` (saved or not) from the checker's figures;
    returns the fields to save."""
    route.distance_m = round(figures.distance_m)
    route.duration_s = round(figures.duration_s)
    route.energy_wh = round(figures.energy_wh)
    route.trips = figures.trips
    route.load_weight_g, route.load_volume_cm3, route.load_parcels = load.as_tuple()
    route.planned_start, route.planned_end = planned_start, planned_end
    return [*ROUTE_TOTALS, "updated_at"]


def route_loads(route_ids: list[int]) -> dict[int, Load]:
    """What each route delivers over the day (its order stops not skipped), in two queries."""
    # Distinct pairs: a retried order has two stops on its route but one set of parcels.
    rows = set(
        Stop.objects.filter(route_id__in=route_ids, order__isnull=False)
        .exclude(status=StopStatus.SKIPPED)
        .values_list("route_id", "order_id")
    )
    demands = order_demands(order_id for _, order_id in rows)
    loads = dict.fromkeys(route_ids, Load())
    for route_id, order_id in rows:
        loads[route_id] = loads[route_id] + demands[order_id]
    return loads


def route_totals_write(
    route: Route,
    entry: LiveRoute,
    figures: RouteFigures | None,
    ordered: list[Stop],
    load: Load,
    data: ReplanInput,
) -> None:
    """A live route's day totals after a re-plan: what it drove so far plus what the re-plan
    gives it, its energy from the whole distance, its end from the checker's figures."""
    ahead_m = round(figures.distance_m) if figures else 0
    route.distance_m = entry.driven_m + ahead_m
    if figures is not None and route.vehicle.vehicle_type.is_electric:
        spec = vehicle_routing_spec(vehicle=route.vehicle)
        route.energy_wh = round(spec.energy.energy_wh(route.distance_m)) if spec.energy else 0
    route.load_weight_g, route.load_volume_cm3, route.load_parcels = load.as_tuple()
    if figures is not None:
        route.planned_end = data.at(figures.end_s)
    elif ordered:
        route.planned_end = ordered[-1].planned_departure
    begin = route.started_at or route.planned_start
    route.planned_end = max(route.planned_end, begin)
    route.duration_s = round((route.planned_end - begin).total_seconds())
    route.trips = max([route.trips, *(s.trip for s in ordered)])
    route.save(
        update_fields=[
            "distance_m", "energy_wh", "load_weight_g", "load_volume_cm3", "load_parcels",
            "planned_end", "duration_s", "trips", "updated_at",
        ]
    )  # fmt: skip


def plan_totals_write(plan: Plan) -> None:
    """The plan's totals from its routes, its routed orders and its unassigned list."""
    from django.db.models import Count, Sum

    totals = Route.objects.filter(plan=plan).aggregate(
        distance=Sum("distance_m"), duration=Sum("duration_s"), energy=Sum("energy_wh")
    )
    routed = (
        Stop.objects.filter(route__plan=plan, order__isnull=False)
        .exclude(status=StopStatus.SKIPPED)
        .aggregate(n=Count("order", distinct=True))["n"]
    )
    plan.distance_m = totals["distance"] or 0
    plan.duration_s = totals["duration"] or 0
    plan.energy_wh = totals["energy"] or 0
    plan.routed_count = routed
    plan.unassigned_count = UnassignedOrder.objects.filter(plan=plan).count()
    plan.save(
        update_fields=[
            "distance_m", "duration_s", "energy_wh", "routed_count", "unassigned_count",
            "updated_at",
        ]
    )  # fmt: skip
