"""Storing a day's plan: its routes, stops and unassigned orders replace the day's unpublished
plan in one transaction, and a rebuilt route replaces its own stops (a dispatcher's move)."""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lastmile.core.leases import (
    lease_held,
    lease_released,
)
from lastmile.dispatch import events
from lastmile.dispatch.models import (
    Plan,
    PlanPhase,
    PlanStatus,
    Route,
    Stop,
    StopKind,
    UnassignedOrder,
)
from lastmile.dispatch.services.building import PlanningInput
from lastmile.dispatch.services.plans import plan_transition
from lastmile.dispatch.services.storing.totals import route_totals_set
from lastmile.routing.checker import CheckReport, RouteFigures
from lastmile.routing.problem import Load
from lastmile.routing.solution import Route as SolvedRoute
from lastmile.routing.solution import Solution, VisitKind

logger = logging.getLogger(__name__)


def planned_stops(route: SolvedRoute, data: PlanningInput) -> list[Stop]:
    """The stop rows (not saved) of a solved route: deliveries, reloads and breaks in order,
    numbered, each with its trip, planned times and window."""
    stops: list[Stop] = []
    trip = 1
    for visit in route.visits:
        if visit.kind in (VisitKind.START, VisitKind.END):
            continue
        order = data.orders[visit.job_id] if visit.kind == VisitKind.JOB else None
        if order is not None:
            kind, lat, lng = StopKind.DELIVERY, order.latitude, order.longitude
        else:
            where = data.problem.locations[visit.location]
            kind = StopKind.RELOAD if visit.kind == VisitKind.RELOAD else StopKind.BREAK
            lat, lng = round(where.lat, 6), round(where.lng, 6)
        arrival = data.at(visit.arrival_s)
        stops.append(
            Stop(
                sequence=len(stops) + 1,
                trip=trip,
                kind=kind,
                order=order,
                latitude=lat,
                longitude=lng,
                planned_arrival=arrival,
                planned_start=data.at(visit.start_s),
                planned_departure=data.at(visit.departure_s),
                window_start=order.window_start if order else None,
                window_end=order.window_end if order else None,
                eta=arrival,
            )
        )
        if visit.kind == VisitKind.RELOAD:
            trip += 1
    return stops


def _route_load(job_ids: list[str], data: PlanningInput) -> Load:
    jobs = data.problem.jobs_by_id()
    total = Load()
    for job_id in job_ids:
        total = total + jobs[job_id].demand
    return total


def _route_rows(
    plan: Plan, data: PlanningInput, solution: Solution, report: CheckReport
) -> list[tuple[Route, list[Stop]]]:
    """Routes (with the checker's figures) and their stops, in order; nothing saved yet."""
    figures = {f.vehicle_id: f for f in report.routes}
    rows = []
    used = sorted((r for r in solution.routes if r.job_ids), key=lambda r: r.vehicle_id)
    for colour, route in enumerate(used):
        checked = figures[route.vehicle_id]
        load = _route_load(route.job_ids, data)
        row = Route(plan=plan, vehicle=data.vehicles[route.vehicle_id], colour_index=colour)
        route_totals_set(
            row,
            figures=checked,
            load=load,
            planned_start=data.at(route.visits[0].departure_s),
            planned_end=data.at(route.visits[-1].arrival_s),
        )
        stops = planned_stops(route, data)
        rows.append((row, stops))
    return rows


def _supersede_ready_plans(plan: Plan) -> None:
    """Cancel the hub and day's earlier ready plan and delete its routes, stops, unassigned.

    We keep the old plan row (its figures and timeline stay as history, marked superseded)
    but not its children: a ready plan was never published, so nothing outside refers to
    its routes, and leaving them would keep two sets of routes for one day.
    """
    older = (
        Plan.objects.select_for_update()
        .filter(hub_id=plan.hub_id, service_date=plan.service_date, status=PlanStatus.READY)
        .exclude(pk=plan.pk)
        .order_by("pk")
    )
    for old in older:
        removed = {
            "routes": Route.objects.filter(plan=old).count(),
            "stops": Stop.objects.filter(route__plan=old).count(),
            "unassigned": UnassignedOrder.objects.filter(plan=old).count(),
        }
        Stop.objects.filter(route__plan=old).delete()
        Route.objects.filter(plan=old).delete()
        UnassignedOrder.objects.filter(plan=old).delete()
        plan_transition(old, target=PlanStatus.CANCELLED, payload={"superseded_by": plan.pk})
        events.plan_superseded(plan=old, by=plan, removed=removed)
        logger.info("plan superseded", extra={"plan": old.pk, "by": plan.pk, **removed})


def _ready_fields(
    data: PlanningInput,
    solution: Solution,
    report: CheckReport,
    timings: dict[str, float],
    *,
    stops: int,
    routed: int,
) -> dict[str, object]:
    """What a ready plan records: its figures from the checker, the run's timings and shift."""
    return {
        "progress_phase": PlanPhase.DONE,
        "progress_pct": 100,
        "progress_updated_at": timezone.now(),
        "time_limit_s": float(settings.DISPATCH_TIME_LIMIT_S),
        "backend": solution.backend,
        "solve_time_s": round(solution.solve_s, 3),
        "objective": solution.objective,
        "distance_m": round(report.distance_m),
        "duration_s": round(sum(f.duration_s for f in report.routes)),
        "energy_wh": round(sum(f.energy_wh for f in report.routes)),
        "vehicles_used": report.vehicles_used,
        "vehicles_available": len(data.vehicles),
        "routed_count": routed,
        "unassigned_count": len(solution.unassigned),
        "feasible": report.feasible,
        "violations_count": len(report.violations),
        "stats": {
            **timings,
            "orders": len(data.orders),
            "stops": stops,
            "shift_start": data.at(data.shift.start_s).isoformat(),
            "shift_end": data.at(data.shift.end_s).isoformat(),
            "shift_source": data.shift_source,
        },
        "error": "",
        **lease_released(),
    }


@transaction.atomic(durable=True)
def plan_store(
    *,
    plan_id: int,
    owner: str,
    data: PlanningInput,
    solution: Solution,
    report: CheckReport,
    timings: dict[str, float],
) -> Plan:
    """Replace the day's unpublished plan with this one and make it ready, all at once; only
    while this run holds the plan's lease, so a plan taken over is stored once."""
    started = time.perf_counter()
    plan = Plan.objects.select_for_update().select_related("hub").get(pk=plan_id)
    if plan.status != PlanStatus.RUNNING or not lease_held(plan, owner=owner):
        logger.info("plan not stored: no longer running or taken over", extra={"plan": plan.pk})
        return plan
    _supersede_ready_plans(plan)

    rows = _route_rows(plan, data, solution, report)
    routes = Route.objects.bulk_create([route for route, _ in rows])
    stops = []
    for route, route_stops in zip(routes, (s for _, s in rows), strict=True):
        for stop in route_stops:
            stop.route = route
            stops.append(stop)
    Stop.objects.bulk_create(stops, batch_size=1000)
    UnassignedOrder.objects.bulk_create(
        [
            UnassignedOrder(
                plan=plan,
                order=data.orders[item.job_id],
                reason=item.reason.value,
                detail=item.detail,
                fix=item.fix or "",
            )
            for item in solution.unassigned
        ],
        batch_size=1000,
    )
    timings["store_s"] = round(time.perf_counter() - started, 3)
    routed = sum(len(r.job_ids) for r in solution.routes)
    fields = _ready_fields(data, solution, report, timings, stops=len(stops), routed=routed)
    plan = plan_transition(
        plan,
        target=PlanStatus.READY,
        fields=fields,
        payload={"routes": len(routes), "routed": routed, "unassigned": len(solution.unassigned)},
    )
    logger.info(
        "plan ready",
        extra={
            "plan": plan.pk,
            "hub": plan.hub.code,
            "routes": len(routes),
            "routed": routed,
            "unassigned": len(solution.unassigned),
            **timings,
        },
    )
    return plan


def route_stops_replace(
    route: Route,
    *,
    stops: list[Stop],
    figures: RouteFigures,
    load: Load,
    planned_start: dt.datetime,
    planned_end: dt.datetime,
) -> None:
    """Replace a ready plan's route's stops and totals with a rebuilt sequence (the caller
    holds the route's lock). Nothing refers to the stops of an unpublished plan, so they are
    new rows."""
    Stop.objects.filter(route=route).delete()
    for stop in stops:
        stop.route = route
    Stop.objects.bulk_create(stops)
    fields = route_totals_set(
        route, figures=figures, load=load, planned_start=planned_start, planned_end=planned_end
    )
    route.save(update_fields=fields)
