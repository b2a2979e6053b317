"""Dispatch reads: the dispatch board's data for a hub and day, and scoped lookups by id.

The board's payload is built from plain ``values_list`` rows with a fixed number of queries
(plans, routes, stops, unassigned orders, vehicle positions), whatever the number of stops,
and kept compact (stops and markers as arrays) so a thousand stops stay a small download.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from fleet.models import VehicleState
from lastmile.core.errors import NotFound
from lastmile.dispatch.models import (
    ACTIVE_PLAN_STATUSES,
    ORDER_STOP_KINDS,
    PLAN_TRANSITIONS,
    OfferStatus,
    Plan,
    PlanStatus,
    Replan,
    ReplanTrigger,
    Route,
    RouteOffer,
    RouteStatus,
    Stop,
    StopStatus,
    UnassignedOrder,
)
from lastmile.hubs.models import Hub
from workforce.models import Courier
from workforce.services import PayEstimate, earnings_estimate

# Route colours by ``Route.colour_index`` (mod the length): distinct on a light map and for
# the common colour-vision deficiencies first (Okabe-Ito order, then Tableau).
ROUTE_PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
    "#1F3A93",
    "#B8860B",
)

# The plans a board may show: ready or published win, else the newest run of the day.
SHOWN_STATUSES = (PlanStatus.READY, PlanStatus.PUBLISHED)
# How many of a day's runs the board reads to pick one (a day rarely has more than a few).
PLANS_READ = 20

# Column order of the compact arrays, sent along so the client never guesses.
STOP_FIELDS = (
    "id",
    "sequence",
    "lat",
    "lng",
    "kind",
    "order_ref",
    "arrival",
    "window",
    "recipient",
    "address",
)
UNASSIGNED_FIELDS = ("order_id", "order_ref", "lat", "lng", "reason", "detail", "fix")
VEHICLE_FIELDS = ("code", "lat", "lng", "recorded_at", "soc_pct")


def board_hubs() -> QuerySet[Hub]:
    """The hubs a dispatcher may open on the board (every active hub; no per-user scope yet)."""
    return Hub.objects.filter(is_active=True).order_by("code")


def board_hub_get(*, code: str | None) -> Hub:
    """The active hub with ``code``, or the first one when no code is given."""
    hubs = board_hubs()
    hub = hubs.filter(code=code).first() if code else hubs.first()
    if hub is None:
        raise NotFound(f"No active hub with code '{code}'." if code else "No active hub.")
    return hub


def plan_get_for_board(*, plan_id: int) -> Plan:
    try:
        return Plan.objects.select_related("hub").get(pk=plan_id)
    except Plan.DoesNotExist:
        raise NotFound(f"No plan {plan_id}.") from None


def stop_get_for_board(*, stop_id: int) -> Stop:
    try:
        return Stop.objects.select_related("route__plan__hub", "order").get(pk=stop_id)
    except Stop.DoesNotExist:
        raise NotFound(f"No stop {stop_id}.") from None


def route_get_for_board(*, route_id: int) -> Route:
    try:
        return Route.objects.select_related("plan", "vehicle").get(pk=route_id)
    except Route.DoesNotExist:
        raise NotFound(f"No route {route_id}.") from None


def plan_progress(plan: Plan) -> dict[str, Any]:
    """What the progress bar needs, straight from the row the run writes."""
    return {
        "id": plan.pk,
        "status": plan.status,
        "status_label": plan.get_status_display(),
        "phase": plan.progress_phase,
        "phase_label": plan.get_progress_phase_display(),
        "pct": plan.progress_pct,
        "error": plan.error,
        "active": plan.status in ACTIVE_PLAN_STATUSES,
    }


def _plan_summary(plan: Plan) -> dict[str, Any]:
    may = PLAN_TRANSITIONS[plan.status]
    return {
        **plan_progress(plan),
        "backend": plan.backend,
        "solve_time_s": plan.solve_time_s,
        "time_limit_s": plan.time_limit_s,
        "distance_m": plan.distance_m,
        "duration_s": plan.duration_s,
        "energy_wh": plan.energy_wh,
        "vehicles_used": plan.vehicles_used,
        "vehicles_available": plan.vehicles_available,
        "routed_count": plan.routed_count,
        "unassigned_count": plan.unassigned_count,
        "feasible": plan.feasible,
        "ready_at": plan.ready_at.isoformat() if plan.ready_at else None,
        "published_at": plan.published_at.isoformat() if plan.published_at else None,
        # What the state machine allows next; the page adds the user's permissions.
        "can_cancel": PlanStatus.CANCELLED in may,
        "can_publish": PlanStatus.PUBLISHED in may,
        "can_move": plan.status == PlanStatus.READY,
        "can_replan": plan.status == PlanStatus.PUBLISHED,
    }


REPLANS_SHOWN = 5
TRIGGER_LABELS = dict(ReplanTrigger.choices)


def replan_get_for_board(*, replan_id: int) -> Replan:
    try:
        return Replan.objects.get(pk=replan_id)
    except Replan.DoesNotExist:
        raise NotFound(f"No re-plan {replan_id}.") from None


def replan_summary(replan: Replan, zone: Any) -> dict[str, Any]:
    """A re-plan as the board lists it: when, why, and what it changed (counts and refs)."""
    diff = replan.diff or {}
    return {
        "id": replan.pk,
        "status": replan.status,
        "status_label": replan.get_status_display(),
        "requested": _hhmm(replan.created_at, zone),
        "finished": _hhmm(replan.finished_at, zone) if replan.finished_at else None,
        "triggers": [
            {"kind": t.get("kind"), "label": TRIGGER_LABELS.get(t.get("kind"), t.get("kind"))}
            for t in replan.triggers
        ],
        "added": [row["ref"] for row in diff.get("added", [])],
        "moved": [
            f"{row['ref']} {row['from_vehicle']}→{row['to_vehicle']}"
            for row in diff.get("moved", [])
        ],
        "dropped": [f"{row['ref']} ({row['reason']})" for row in diff.get("dropped", [])],
        "unassigned": [f"{row['ref']} ({row['reason']})" for row in diff.get("unassigned", [])],
        "kept_settled": diff.get("kept_settled"),
        "solve_time_s": replan.solve_time_s,
        "error": replan.error,
    }


def _pick(plans: list[Plan]) -> tuple[Plan | None, Plan | None]:
    """(the plan to draw, the run in flight) from the day's plans, newest first."""
    shown = next((p for p in plans if p.status in SHOWN_STATUSES), None)
    if shown is None and plans:
        shown = plans[0]
    running = next((p for p in plans if p.status in ACTIVE_PLAN_STATUSES), None)
    return shown, running


def _hhmm(moment: dt.datetime | None, zone: dt.tzinfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M") if moment else ""


def board_data(*, hub: Hub, service_date: dt.date) -> dict[str, Any]:
    """Everything the board draws for ``hub`` on ``service_date``, as plain JSON-ready data.

    Six queries whatever the plan's size, in this order: the day's plans, the shown plan's
    routes (with vehicle and courier), its stops, its unassigned orders, the hub's vehicle
    positions, and its latest re-plans. Only a ready or published plan has its routes drawn;
    a run still in flight is reported beside it.
    """
    zone = hub.zone
    shown, running = _pick(_day_plans(hub=hub, service_date=service_date))
    routes: list[dict[str, Any]] = []
    unassigned: list[list[Any]] = []
    if shown is not None and shown.status in SHOWN_STATUSES:
        routes = _board_routes(plan=shown, zone=zone)
        unassigned = _board_unassigned(plan=shown)
    reasons = dict(UnassignedOrder.Reason.choices)
    vehicles = _board_vehicles(hub=hub)
    replans = _board_replans(plan=shown, zone=zone) if shown is not None else []
    return {
        "replans": replans,
        "hub": {
            "code": hub.code,
            "name": hub.name,
            "lat": float(hub.latitude),
            "lng": float(hub.longitude),
        },
        "date": service_date.isoformat(),
        "plan": _plan_summary(shown) if shown else None,
        "run": plan_progress(running) if running else None,
        "routes": routes,
        "unassigned": unassigned,
        "unassigned_by_reason": _unassigned_by_reason(unassigned, reasons),
        "reasons": reasons,
        "vehicles": vehicles,
        "fields": {
            "stop": STOP_FIELDS,
            "unassigned": UNASSIGNED_FIELDS,
            "vehicle": VEHICLE_FIELDS,
        },
    }


def _day_plans(*, hub: Hub, service_date: dt.date) -> list[Plan]:
    """The day's latest runs, newest first (one query)."""
    return list(
        Plan.objects.filter(hub=hub, service_date=service_date).order_by("-created_at", "-pk")[
            :PLANS_READ
        ]
    )


def _board_routes(*, plan: Plan, zone: dt.tzinfo) -> list[dict[str, Any]]:
    """The plan's routes in colour order, each with its stops as compact arrays (two queries:
    routes, then every stop of the plan in one read, whatever the number of routes)."""
    routes = [
        _route_row(route, zone)
        for route in plan.routes.select_related("vehicle", "courier__user").order_by(
            "colour_index", "pk"
        )
    ]
    by_id = {row["id"]: row for row in routes}
    kind_at = STOP_FIELDS.index("kind")
    for route_id, stop in _stop_rows(plan=plan, zone=zone):
        row = by_id[route_id]
        row["stops"].append(stop)
        if stop[kind_at] in ORDER_STOP_KINDS:
            row["order_stops"] += 1
    return routes


def _route_row(route: Route, zone: dt.tzinfo) -> dict[str, Any]:
    return {
        "id": route.pk,
        "colour": ROUTE_PALETTE[route.colour_index % len(ROUTE_PALETTE)],
        "vehicle": route.vehicle.code,
        "courier": str(route.courier) if route.courier_id else None,
        "status": route.get_status_display(),
        "start": _hhmm(route.planned_start, zone),
        "end": _hhmm(route.planned_end, zone),
        "distance_m": route.distance_m,
        "duration_s": route.duration_s,
        "energy_wh": route.energy_wh,
        "load_parcels": route.load_parcels,
        "load_weight_g": route.load_weight_g,
        "load_volume_cm3": route.load_volume_cm3,
        "trips": route.trips,
        "eta_source": route.eta_source,
        "order_stops": 0,
        "stops": [],
    }


def _stop_rows(*, plan: Plan, zone: dt.tzinfo) -> Iterator[tuple[int, list[Any]]]:
    """(route id, the stop as a ``STOP_FIELDS`` array) for every stop the plan still drives,
    by route and sequence, read as plain rows in chunks (a thousand stops stay cheap)."""
    stops = (
        Stop.objects.filter(route__plan=plan)
        .exclude(status=StopStatus.SKIPPED)  # taken off by a re-plan: history, not the route
        .order_by("route_id", "sequence")
        .values_list(
            "route_id",
            "pk",
            "sequence",
            "latitude",
            "longitude",
            "kind",
            "order__external_reference",
            "planned_arrival",
            "window_start",
            "window_end",
            "order__recipient_name",
            "order__address",
        )
    )
    for (
        route_id,
        pk,
        seq,
        lat,
        lng,
        kind,
        ref,
        arrival,
        w_start,
        w_end,
        recipient,
        address,
    ) in stops.iterator(chunk_size=2000):
        window = f"{_hhmm(w_start, zone)}–{_hhmm(w_end, zone)}" if w_start else ""
        yield (
            route_id,
            [
                pk,
                seq,
                float(lat),
                float(lng),
                kind,
                ref or "",
                _hhmm(arrival, zone),
                window,
                recipient or "",
                address or "",
            ],
        )


def _board_unassigned(*, plan: Plan) -> list[list[Any]]:
    """The plan's unassigned orders as ``UNASSIGNED_FIELDS`` arrays, by reason (one query)."""
    return [
        [order_id, ref, float(lat), float(lng), reason, detail, fix]
        for order_id, ref, lat, lng, reason, detail, fix in UnassignedOrder.objects.filter(
            plan=plan
        )
        .order_by("reason", "order_id")
        .values_list(
            "order_id",
            "order__external_reference",
            "order__latitude",
            "order__longitude",
            "reason",
            "detail",
            "fix",
        )
    ]


def _unassigned_by_reason(unassigned: list[list[Any]], reasons: dict[str, str]) -> list[list[Any]]:
    """[code, label, count] per reason present, by code."""
    by_reason = Counter(row[UNASSIGNED_FIELDS.index("reason")] for row in unassigned)
    return [[code, reasons.get(code, code), count] for code, count in sorted(by_reason.items())]


def _board_vehicles(*, hub: Hub) -> list[list[Any]]:
    """The hub's vehicles with a known position, as ``VEHICLE_FIELDS`` arrays (one query)."""
    return [
        [
            code,
            float(lat),
            float(lng),
            recorded.isoformat() if recorded else None,
            None if soc is None else float(soc),
        ]
        for code, lat, lng, recorded, soc in VehicleState.objects.filter(
            vehicle__home_hub=hub, latitude__isnull=False, longitude__isnull=False
        )
        .order_by("vehicle__code")
        .values_list("vehicle__code", "latitude", "longitude", "recorded_at", "soc_pct")
    ]


def _board_replans(*, plan: Plan, zone: dt.tzinfo) -> list[dict[str, Any]]:
    """The plan's latest re-plans, newest first (one query)."""
    return [
        replan_summary(r, zone)
        for r in Replan.objects.filter(plan=plan).order_by("-created_at", "-pk")[:REPLANS_SHOWN]
    ]


def offers_open_for(*, courier: Courier) -> list[RouteOffer]:
    """The courier's open, unexpired route offers with what they need to decide (two queries)."""
    return list(
        RouteOffer.objects.filter(
            courier=courier, status=OfferStatus.OPEN, expires_at__gt=timezone.now()
        )
        .select_related("route__plan__hub", "route__vehicle__vehicle_type")
        .annotate(stop_count=Count("route__stops", filter=Q(route__stops__order__isnull=False)))
        .order_by("expires_at", "pk")
    )


@dataclass(frozen=True)
class OfferFigures:
    """What a courier weighs before taking a route: its size and what it pays them."""

    offer: RouteOffer
    stop_count: int
    distance_m: int
    duration_s: int
    pay: PayEstimate | None  # None: no pay rule in force for the courier at the hub that day


def offers_with_pay_for(*, courier: Courier) -> list[OfferFigures]:
    """The courier's open offers (:func:`offers_open_for`), each with the route's length,
    hours and stops and what the courier would earn for it by their pay rule.

    The pay is priced by the ledger's own functions (``workforce.services.earnings_estimate``)
    at each stop's planned arrival, never by a second copy of the rule. One query for every
    offered route's stops, and one per offer for the rule (a courier holds one open offer).
    """
    offers = offers_open_for(courier=courier)
    arrivals: dict[int, list[dt.datetime]] = {offer.route_id: [] for offer in offers}
    rows = Stop.objects.filter(route_id__in=arrivals, kind__in=ORDER_STOP_KINDS).order_by(
        "route_id", "sequence"
    )
    for route_id, planned_arrival in rows.values_list("route_id", "planned_arrival"):
        arrivals[route_id].append(planned_arrival)
    figures = []
    for offer in offers:
        route = offer.route
        figures.append(
            OfferFigures(
                offer=offer,
                stop_count=len(arrivals[route.pk]),
                distance_m=route.distance_m,
                duration_s=int((route.planned_end - route.planned_start).total_seconds()),
                pay=earnings_estimate(
                    courier=courier,
                    hub=route.plan.hub,
                    start=route.planned_start,
                    end=route.planned_end,
                    distance_m=route.distance_m,
                    stop_times=arrivals[route.pk],
                ),
            )
        )
    return figures


# --- The courier's own routes (driver API and portal) ------------------------------------


def routes_for_courier(*, courier: Courier, days: list[dt.date] | None = None) -> QuerySet[Route]:
    """The courier's handed-over routes for ``days`` (default: today and tomorrow)."""
    if days is None:
        today = timezone.localdate()
        days = [today, today + dt.timedelta(days=1)]
    return (
        Route.objects.filter(courier=courier, plan__service_date__in=days)
        .exclude(status=RouteStatus.PLANNED)
        .select_related("plan__hub", "vehicle")
        .order_by("planned_start", "pk")
    )


@dataclass(frozen=True)
class RouteProgress:
    """A courier's route with how far it has come, for their home page."""

    route: Route
    stops_total: int
    stops_done: int
    next_stop: Stop | None  # the first stop still to do, in route order; None when none is


DONE_STOP_STATUSES = (StopStatus.COMPLETED, StopStatus.FAILED, StopStatus.SKIPPED)


def courier_routes_progress(
    *, courier: Courier, days: list[dt.date] | None = None
) -> list[RouteProgress]:
    """The courier's handed-over routes (:func:`routes_for_courier`: today and tomorrow by
    default) with their order stops counted and done, and the next stop of each. One query
    for the routes and their counts, one per route for its next stop (a courier drives one
    route a day)."""
    order_stop = Q(stops__kind__in=ORDER_STOP_KINDS)
    routes = routes_for_courier(courier=courier, days=days).annotate(
        stops_total=Count("stops", filter=order_stop),
        stops_done=Count("stops", filter=order_stop & Q(stops__status__in=DONE_STOP_STATUSES)),
    )
    return [
        RouteProgress(
            route=route,
            stops_total=route.stops_total,
            stops_done=route.stops_done,
            next_stop=Stop.objects.filter(
                route=route, status__in=(StopStatus.PENDING, StopStatus.ARRIVED)
            )
            .select_related("order")
            .order_by("sequence")
            .first()
            if route.status in (RouteStatus.DISPATCHED, RouteStatus.IN_PROGRESS)
            else None,
        )
        for route in routes
    ]


def route_get_for_courier(*, courier: Courier, route_id: int) -> Route:
    try:
        return Route.objects.select_related("plan__hub", "vehicle").get(
            pk=route_id, courier=courier
        )
    except Route.DoesNotExist:
        raise NotFound(f"No route {route_id}.") from None


def route_stops(*, route: Route) -> QuerySet[Stop]:
    return Stop.objects.filter(route=route).select_related("order").order_by("sequence")


def stop_get_for_courier(*, courier: Courier, stop_id: int) -> Stop:
    try:
        return Stop.objects.select_related("route", "order").get(pk=stop_id, route__courier=courier)
    except Stop.DoesNotExist:
        raise NotFound(f"No stop {stop_id}.") from None
