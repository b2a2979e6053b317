"""TODO docstring."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from lastmile.core.errors import ApplicationError
from lastmile.core.leases import (
    lease_held,
    lease_released,
)
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.dispatch.models import (
    Plan,
    PlanEvent,
    PlanStatus,
    Replan,
    ReplanStatus,
    Route,
    Stop,
    StopKind,
    StopStatus,
    UnassignedOrder,
)
from lastmile.dispatch.services.building import (
    ReplanInput,
    job_id_for,
)
from lastmile.dispatch.services.plans import replan_transition
from lastmile.dispatch.services.publishing import eta_window, stop_route_ref
from lastmile.dispatch.services.reading import LiveRoute
from lastmile.dispatch.services.routes import route_complete_if_settled
from lastmile.dispatch.services.staffing import routes_staff
from lastmile.dispatch.services.storing.totals import (
    plan_totals_write,
    route_loads,
    route_totals_write,
)
from lastmile.orders.models import PLANNABLE_STATUSES, Order, OrderStatus
from lastmile.orders.services import (
    order_eta_changed,
    order_plan,
    order_start_delivery,
    order_unplan,
)
from lastmile.routing.checker import CheckReport
from lastmile.routing.solution import Solution, VisitKind

logger = logging.getLogger(__name__)


# Pending stops are renumbered in two steps (unique route + sequence): first out of the way.
SEQUENCE_PARK = 1_000_000


@dataclass
class _Visit:
    kind: str  # StopKind.DELIVERY or StopKind.RELOAD
    order_id: int | None
    arrival: dt.datetime
    start: dt.datetime
    departure: dt.datetime
    trip: int


def _visits(data: ReplanInput, vehicle_code: str, solution: Solution) -> list[_Visit]:
    """The solved route of a vehicle as stops: deliveries, and the hub visits that load
    parcels (consecutive pickups are one reload; a vehicle at the hub loads before it leaves)."""
    entry = data.by_vehicle[vehicle_code]
    solved = solution.route_of(vehicle_code)
    if solved is None:
        return []
    out: list[_Visit] = []
    trip = entry.trip
    # A vehicle at the hub (not left yet, started but still there, or at a reload) loads
    # before its next delivery.
    delivered_yet = entry.started and not entry.loading and entry.start_source != "hub"
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
            out.append(_Visit(StopKind.RELOAD, None, arrival, start, leave, trip))
            trip += 1
            continue
        delivered_yet = True
        out.append(_Visit(StopKind.DELIVERY, int(visit.job_id[1:]), arrival, start, leave, trip))
    return out


def _ref(order: Order) -> str:
    return order.external_reference


@transaction.atomic(durable=True)
def replan_apply(
    replan_id: int,
    owner: str,
    data: ReplanInput,
    solution: Solution,
    report: CheckReport,
    timings: dict[str, float],
    started: float,
) -> Replan:
    day = data.day
    now = day.now
    replan = Replan.objects.select_for_update().get(pk=replan_id)
    if replan.status != ReplanStatus.RUNNING or not lease_held(replan, owner=owner):
        # Given up or taken over by another run while this one solved: its outcome stands.
        logger.info("replan not applied: lease lost", extra={"replan": replan.pk})
        return replan
    plan = Plan.objects.select_for_update().select_related("hub").get(pk=day.plan.pk)
    if plan.status != PlanStatus.PUBLISHED:
        raise ReplanFailed("The plan is no longer published.")
    live = [e for e in day.routes if e.route is not None]
    locked = {
        r.pk: r
        for r in Route.objects.select_for_update()
        .filter(pk__in=[e.route.pk for e in live])
        .order_by("pk")
    }
    for entry in live:
        if locked[entry.route.pk].status != entry.route.status:
            raise RoutesChanged(
                f"Route {entry.vehicle.code} went {locked[entry.route.pk].status} while "
                "re-planning; re-planning again."
            )
    taken = set(Route.objects.filter(plan=plan).values_list("vehicle_id", flat=True))
    if any(e.route is None and e.vehicle.pk in taken for e in day.routes):
        raise RoutesChanged("A free vehicle got a route while re-planning; re-planning again.")
    new_routes: list[Route] = []
    # Stops settled while the engine worked stay settled; the rest follows the re-plan.
    pending_now = {
        s.pk: s
        for s in Stop.objects.select_for_update(of=("self",))
        .filter(route_id__in=list(locked), status=StopStatus.PENDING)
        .select_related("order")
    }
    still_pending = {s.order_id for s in pending_now.values() if s.order_id is not None}
    # Orders the courier settled while the engine worked are done: out of the new routes and
    # out of the diff. Any other order that changed meanwhile (a new one cancelled, a retry
    # decided otherwise) makes the result stale: nothing is applied and it runs again.
    settled_meanwhile = set(day.current_route) - still_pending
    fresh = dict(
        Order.objects.select_for_update()
        .filter(pk__in=[pk for pk in day.orders if pk not in settled_meanwhile])
        .order_by("pk")
        .values_list("pk", "status")
    )
    changed = [pk for pk, status in fresh.items() if status != day.orders[pk].status]
    if changed:
        raise RoutesChanged(
            f"{len(changed)} order(s) changed while re-planning; re-planning again."
        )
    unassigned = {u.job_id: u for u in solution.unassigned}
    on_board = {o for e in day.routes for o in e.loaded}
    stranded = [
        pk for pk in on_board if pk not in settled_meanwhile and job_id_for(pk) in unassigned
    ]
    if stranded:
        # A parcel on a vehicle is delivered by that vehicle or the dispatcher decides: a
        # re-plan that would leave it without a stop changes nothing.
        first = unassigned[job_id_for(stranded[0])]
        raise ReplanFailed(
            f"{len(stranded)} parcel(s) on board would be left without a stop "
            f"(first: order {day.orders[stranded[0]].external_reference}: {first.detail}); "
            "routes left as they were."
        )
    figures = {f.vehicle_id: f for f in report.routes}
    diff: dict[str, list] = {"added": [], "moved": [], "dropped": [], "unassigned": []}
    resequenced: list[int] = []
    placed: dict[int, tuple[Route, Stop]] = {}
    old_windows: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    skipped_total = 0

    totals: list[tuple[Route, LiveRoute, object, list[Stop]]] = []
    for entry in day.routes:
        code = entry.vehicle.code
        if entry.route is None:
            if not _visits(data, code, solution):
                continue
            route = _route_create(plan, entry, data, solution)
            new_routes.append(route)
            locked[route.pk] = route
        else:
            route = locked[entry.route.pk]
        visits = [
            v
            for v in _visits(data, code, solution)
            if v.order_id is None
            or v.order_id not in day.current_route
            or v.order_id in still_pending
        ]
        mine = [s for s in pending_now.values() if s.route_id == route.pk]
        by_order = {s.order_id: s for s in mine if s.order_id is not None}
        reloads = sorted((s for s in mine if s.kind == StopKind.RELOAD), key=lambda s: s.sequence)
        before = [s.order_id for s in sorted(mine, key=lambda s: s.sequence) if s.order_id]
        # Park every pending stop's sequence out of the way of the new numbering.
        Stop.objects.filter(pk__in=[s.pk for s in mine]).update(
            sequence=F("sequence") + SEQUENCE_PARK
        )
        base = (
            Stop.objects.filter(route=route)
            .exclude(status=StopStatus.PENDING)
            .aggregate(top=Max("sequence"))["top"]
            or 0
        )
        used: set[int] = set()
        new_rows: list[Stop] = []
        ordered: list[Stop] = []
        for visit in visits:
            if visit.order_id is not None and visit.order_id in by_order:
                stop = by_order[visit.order_id]
                old_windows[visit.order_id] = (eta_window(stop).start, eta_window(stop).end)
            elif visit.kind == StopKind.RELOAD and reloads:
                stop = reloads.pop(0)
            else:
                order = day.orders[visit.order_id] if visit.order_id else None
                hub = plan.hub
                stop = Stop(
                    route=route,
                    kind=visit.kind,
                    order=order,
                    latitude=order.latitude if order else hub.latitude,
                    longitude=order.longitude if order else hub.longitude,
                    window_start=order.window_start if order else None,
                    window_end=order.window_end if order else None,
                )
                new_rows.append(stop)
            stop.trip = visit.trip
            stop.planned_arrival, stop.planned_start = visit.arrival, visit.start
            stop.planned_departure, stop.eta = visit.departure, visit.arrival
            if stop.order is not None:
                # The order's window may have moved (a retry later today).
                stop.window_start, stop.window_end = stop.order.window_start, stop.order.window_end
            used.add(id(stop))
            ordered.append(stop)
            if visit.order_id is not None:
                placed[visit.order_id] = (route, stop)
        leftovers = [s for s in mine if id(s) not in used]
        for stop in sorted(leftovers, key=lambda s: s.sequence):
            base += 1
            stop.sequence, stop.status = base, StopStatus.SKIPPED
        skipped_total += len(leftovers)
        for stop in ordered:
            base += 1
            stop.sequence = base
        fields = [
            "sequence", "trip", "planned_arrival", "planned_start", "planned_departure",
            "eta", "window_start", "window_end", "status",
        ]  # fmt: skip
        Stop.objects.bulk_update([s for s in [*leftovers, *ordered] if s.pk], fields)
        # Pending stops the re-plan does not use (moved away, dropped, cancelled, a reload no
        # longer needed) were skipped above; they stay on the route as history.
        Stop.objects.bulk_create(new_rows)
        after = [s.order_id for s in ordered if s.order_id]
        if after != before:
            resequenced.append(route.pk)
        totals.append((route, entry, figures.get(code), ordered))

    loads = route_loads([route.pk for route, *_ in totals])
    for route, entry, route_figures, ordered in totals:
        route_totals_write(route, entry, route_figures, ordered, loads[route.pk], data)

    # Orders: plan what is new, tell customers of moved windows, unplan what was dropped.
    for order_id, (route, stop) in sorted(placed.items()):
        order = day.orders[order_id]
        window = eta_window(stop)
        ref = stop_route_ref(stop, plan_id=plan.pk)
        previous = day.current_route.get(order_id)
        if previous is None:
            why = "retry" if order_id in day.retries else "new"
            if order.status in PLANNABLE_STATUSES:
                order = order_plan(
                    order=order, source=SOURCE, route_ref=ref,
                    eta_start=window.start, eta_end=window.end,
                )  # fmt: skip
            if order_id in data.by_vehicle[route.vehicle.code].loaded and (
                order.status == OrderStatus.PLANNED
            ):
                order_start_delivery(order=order, source=SOURCE)
            diff["added"].append(
                {"order": order_id, "ref": _ref(order), "route": route.pk,
                 "vehicle": route.vehicle.code, "why": why}
            )  # fmt: skip
            continue
        if order.status in PLANNABLE_STATUSES:
            order = order_plan(
                order=order, source=SOURCE, route_ref=ref,
                eta_start=window.start, eta_end=window.end,
            )  # fmt: skip
        elif previous != route.pk or _shifted(old_windows.get(order_id), window):
            order_eta_changed(
                order=order, eta_start=window.start, eta_end=window.end, route_ref=ref
            )
        if previous != route.pk:
            source = locked[previous]
            diff["moved"].append(
                {"order": order_id, "ref": _ref(order), "from_route": previous,
                 "to_route": route.pk, "from_vehicle": source.vehicle.code,
                 "to_vehicle": route.vehicle.code}
            )  # fmt: skip

    for stop, reason in day.gone:
        if stop.pk in pending_now:  # skipped with the route's other unused stops
            diff["dropped"].append(
                {"order": stop.order_id, "ref": _ref(stop.order), "route": stop.route_id,
                 "reason": reason, "detail": f"order {reason}"}
            )  # fmt: skip
    # The plan's unassigned list follows: placed orders leave it, unplaced ones are (re)written
    # with today's reason, in two statements whatever the count.
    UnassignedOrder.objects.filter(plan=plan, order_id__in=list(placed)).delete()
    left_out: list[UnassignedOrder] = []
    for order_id, order in day.orders.items():
        if order_id in placed or order_id in settled_meanwhile:
            continue
        left = unassigned.get(job_id_for(order_id))
        reason = left.reason.value if left else "dropped_for_cost"
        detail = left.detail if left else "not placed"
        left_out.append(
            UnassignedOrder(
                plan=plan, order=order, reason=reason, detail=detail,
                fix=(left.fix or "") if left else "",
            )
        )  # fmt: skip
        row = {"order": order_id, "ref": _ref(order), "reason": reason, "detail": detail}
        previous = day.current_route.get(order_id)
        if previous is None:
            diff["unassigned"].append(row)
            continue
        diff["dropped"].append({**row, "route": previous})
        if order.status == OrderStatus.PLANNED:
            order_unplan(order=order, reason=f"re-plan: {detail}", source=SOURCE)
    UnassignedOrder.objects.bulk_create(
        left_out,
        update_conflicts=True,
        unique_fields=["plan", "order"],
        update_fields=["reason", "detail", "fix"],
        batch_size=1000,
    )

    diff["new_routes"] = _routes_staff(plan, new_routes)
    diff["resequenced"] = resequenced
    diff["settled_meanwhile"] = sorted(settled_meanwhile)
    for route in locked.values():
        # Every stop left on it is settled (the rest moved away): the route is done.
        route_complete_if_settled(route, actor_id=None, at=now)
    diff["kept_settled"] = day.settled
    plan_totals_write(plan)
    timings["apply_s"] = round(time.perf_counter() - started, 3)
    replan.plan = plan
    replan_transition(
        replan,
        ReplanStatus.APPLIED,
        finished_at=timezone.now(),
        **lease_released(),
        backend=solution.backend,
        solve_time_s=round(solution.solve_s, 3),
        objective=solution.objective,
        diff=diff,
        stats={
            **data.stats,
            **timings,
            "skipped_stops": skipped_total,
            "late_jobs": report.late_jobs,
        },
    )
    summary = {k: len(v) for k, v in diff.items() if isinstance(v, list)}
    PlanEvent.objects.create(
        plan=plan,
        kind=PlanEvent.Kind.REPLANNED,
        payload={"replan": replan.pk, "triggers": [t["kind"] for t in replan.triggers], **summary},
        occurred_at=timezone.now(),
    )
    logger.info(
        "replan applied", extra={"plan": plan.pk, "replan": replan.pk, **summary, **timings}
    )
    return replan


def _route_create(plan: Plan, entry: LiveRoute, data: ReplanInput, solution: Solution) -> Route:
    """A route for a vehicle that was free today, sent out by the re-plan."""
    solved = solution.route_of(entry.vehicle.code)
    colour = Route.objects.filter(plan=plan).aggregate(top=Max("colour_index"))["top"]
    route = Route.objects.create(
        plan=plan,
        vehicle=entry.vehicle,
        colour_index=0 if colour is None else colour + 1,
        planned_start=data.at(solved.visits[0].departure_s),
        planned_end=data.at(solved.visits[-1].arrival_s),
    )
    route.plan = plan
    return route


def _routes_staff(plan: Plan, routes: list[Route]) -> list[dict]:
    """Drivers for the routes a re-plan added, as when publishing (``staffing.routes_staff``:
    an employee free that day at any hub takes one directly, otherwise crowd couriers are
    offered it one at a time)."""
    if not routes:
        return []
    drivers = routes_staff(plan=plan, routes=routes, actor=None)
    return [
        {"route": route.pk, "vehicle": route.vehicle.code, "driver": route.pk in drivers}
        for route in routes
    ]


def _shifted(old: tuple[dt.datetime, dt.datetime] | None, new) -> bool:
    if old is None:
        return True
    return abs((new.start - old[0]).total_seconds()) >= settings.DISPATCH_ETA_CHANGE_MIN_S


SOURCE = "system"


class ReplanFailed(ApplicationError):
    code = DispatchErrorCode.REPLAN_FAILED
    status = 409
    title = "The day could not be re-planned"


class RoutesChanged(Exception):
    pass
