"""Applying a re-plan: the checked solution written as a diff against the live routes.

Stops kept (same rows, new sequence and ETA), added, moved (skipped on one route, added to
another), dropped (skipped) and orders left unassigned with the engine's reason; the
``Replan`` row and a ``replanned`` plan event carry the diff for the dispatcher. Stops a
courier settled while the engine worked stay settled; if a route started or finished or
another order changed meanwhile, nothing is written and the re-plan asks again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from lastmile.core.errors import ApplicationError
from lastmile.core.leases import (
    lease_held,
    lease_released,
)
from lastmile.dispatch import events
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.dispatch.models import (
    Plan,
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
from lastmile.dispatch.services.etas import eta_window
from lastmile.dispatch.services.plans import replan_transition
from lastmile.dispatch.services.publishing import stop_route_ref
from lastmile.dispatch.services.reading import LiveDay, LiveRoute
from lastmile.dispatch.services.routes import route_complete_if_settled, stops_skip
from lastmile.dispatch.services.staffing import routes_staff
from lastmile.dispatch.services.storing.totals import (
    plan_totals_write,
    route_loads,
    route_totals_write,
)
from lastmile.dispatch.services.storing.visits import Visit, solved_visits
from lastmile.orders.models import PLANNABLE_STATUSES, Order, OrderStatus
from lastmile.orders.services import (
    order_eta_changed,
    order_plan,
    order_start_delivery,
    order_unplan,
)
from lastmile.routing.checker import CheckReport
from lastmile.routing.solution import Solution

logger = logging.getLogger(__name__)


# Pending stops are renumbered in two steps (unique route + sequence): first out of the way.
SEQUENCE_PARK = 1_000_000


def _ref(order: Order) -> str:
    return order.external_reference


@dataclass
class _Applying:
    """What the write of one re-plan shares between its steps (all rows locked)."""

    replan: Replan
    plan: Plan
    data: ReplanInput
    solution: Solution
    routes: dict[int, Route]  # locked: the live routes, then the new ones
    pending_now: dict[int, Stop]  # locked pending stops of those routes
    still_pending: set[int]  # orders on a pending stop now
    settled_meanwhile: set[int]  # orders a courier settled while the engine worked
    diff: dict[str, list] = field(
        default_factory=lambda: {"added": [], "moved": [], "dropped": [], "unassigned": []}
    )
    placed: dict[int, tuple[Route, Stop]] = field(default_factory=dict)
    old_windows: dict[int, tuple[dt.datetime, dt.datetime]] = field(default_factory=dict)
    new_routes: list[Route] = field(default_factory=list)
    resequenced: list[int] = field(default_factory=list)
    skipped: int = 0

    @property
    def day(self) -> LiveDay:
        return self.data.day


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
    """Write a checked re-plan as a diff against the live routes, in one transaction.

    Locks the re-plan (only while this run holds its lease), the plan, its live routes, their
    pending stops and the orders; gives up (``RoutesChanged``) when any of them changed in a
    way the solve did not see, and refuses (``ReplanFailed``) a result that leaves a parcel on
    board without a stop. Then rewrites each route's pending stops, moves the orders, updates
    the unassigned list, totals and staffing, and records the ``replanned`` event.
    """
    state = _lock_fresh(replan_id, owner, data, solution)
    if state is None:
        return Replan.objects.get(pk=replan_id)
    _refuse_stranded(state)
    figures = {f.vehicle_id: f for f in report.routes}
    totals = [_route_rewrite(state, entry) for entry in state.day.routes]
    totals = [row for row in totals if row is not None]
    loads = route_loads([route.pk for route, *_ in totals])
    for route, entry, ordered in totals:
        route_totals_write(
            route, entry, figures.get(entry.vehicle.code), ordered, loads[route.pk], data
        )
    _orders_follow(state)
    _dropped_and_unassigned(state)
    return _finish(state, report, timings, started)


def _lock_fresh(
    replan_id: int, owner: str, data: ReplanInput, solution: Solution
) -> _Applying | None:
    """Lock what the write touches, in a fixed order; ``None`` when the lease was lost."""
    day = data.day
    replan = Replan.objects.select_for_update().get(pk=replan_id)
    if replan.status != ReplanStatus.RUNNING or not lease_held(replan, owner=owner):
        # Given up or taken over by another run while this one solved: its outcome stands.
        logger.info("replan not applied: lease lost", extra={"replan": replan.pk})
        return None
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
    return _Applying(
        replan, plan, data, solution, locked, pending_now, still_pending, settled_meanwhile
    )


def _refuse_stranded(state: _Applying) -> None:
    """A parcel on a vehicle is delivered by that vehicle or the dispatcher decides: a
    re-plan that would leave it without a stop changes nothing."""
    day = state.day
    unassigned = {u.job_id: u for u in state.solution.unassigned}
    on_board = {o for e in day.routes for o in e.loaded}
    stranded = [
        pk for pk in on_board if pk not in state.settled_meanwhile and job_id_for(pk) in unassigned
    ]
    if stranded:
        first = unassigned[job_id_for(stranded[0])]
        raise ReplanFailed(
            f"{len(stranded)} parcel(s) on board would be left without a stop "
            f"(first: order {day.orders[stranded[0]].external_reference}: {first.detail}); "
            "routes left as they were."
        )


def _route_rewrite(
    state: _Applying, entry: LiveRoute
) -> tuple[Route, LiveRoute, list[Stop]] | None:
    """Give one route the stops the re-plan gives it: its pending stops reused in the new
    order (new rows for new orders and reloads), the ones it no longer uses skipped and kept
    as history. A free vehicle the re-plan sends out gets a new route."""
    day, code = state.day, entry.vehicle.code
    visits = solved_visits(state.data, code, state.solution)
    if entry.route is None:
        if not visits:
            return None
        route = _route_create(state.plan, entry, state.data, state.solution)
        state.new_routes.append(route)
        state.routes[route.pk] = route
    else:
        route = state.routes[entry.route.pk]
    visits = [
        v
        for v in visits
        if v.order_id is None
        or v.order_id not in day.current_route
        or v.order_id in state.still_pending
    ]
    mine = [s for s in state.pending_now.values() if s.route_id == route.pk]
    before = [s.order_id for s in sorted(mine, key=lambda s: s.sequence) if s.order_id]
    # Park every pending stop's sequence out of the way of the new numbering.
    Stop.objects.filter(pk__in=[s.pk for s in mine]).update(sequence=F("sequence") + SEQUENCE_PARK)
    ordered, new_rows = _stops_for(state, route, visits, mine)
    used = {id(s) for s in ordered}
    leftovers = sorted((s for s in mine if id(s) not in used), key=lambda s: s.sequence)
    base = (
        Stop.objects.filter(route=route)
        .exclude(status=StopStatus.PENDING)
        .aggregate(top=Max("sequence"))["top"]
        or 0
    )
    for stop in [*leftovers, *ordered]:
        base += 1
        stop.sequence = base
    # Pending stops the re-plan does not use (moved away, dropped, cancelled, a reload no
    # longer needed) are skipped through the stop state machine; they stay as history.
    stops_skip(route, leftovers, at=day.now, reason="re-plan")
    state.skipped += len(leftovers)
    fields = [
        "sequence", "trip", "planned_arrival", "planned_start", "planned_departure",
        "eta", "window_start", "window_end", "status", "latitude", "longitude",
    ]  # fmt: skip
    Stop.objects.bulk_update([s for s in [*leftovers, *ordered] if s.pk], fields)
    Stop.objects.bulk_create(new_rows)
    if [s.order_id for s in ordered if s.order_id] != before:
        state.resequenced.append(route.pk)
    return route, entry, ordered


def _stops_for(
    state: _Applying, route: Route, visits: list[Visit], mine: list[Stop]
) -> tuple[list[Stop], list[Stop]]:
    """The route's stops in the re-plan's order with its times: existing rows where the
    order (or a reload) already has one, new unsaved rows otherwise."""
    by_order = {s.order_id: s for s in mine if s.order_id is not None}
    reusable = {
        kind: sorted((s for s in mine if s.kind == kind), key=lambda s: s.sequence)
        for kind in (StopKind.RELOAD, StopKind.BREAK)
    }
    ordered: list[Stop] = []
    new_rows: list[Stop] = []
    hub = state.plan.hub
    for visit in visits:
        if visit.order_id is not None and visit.order_id in by_order:
            stop = by_order[visit.order_id]
            window = eta_window(stop)
            state.old_windows[visit.order_id] = (window.start, window.end)
        elif reusable.get(visit.kind):
            stop = reusable[visit.kind].pop(0)  # a pending reload or break, at its new time
        else:
            order = state.day.orders[visit.order_id] if visit.order_id else None
            lat, lng = (order.latitude, order.longitude) if order else (hub.latitude, hub.longitude)
            if visit.where is not None:
                lat, lng = round(visit.where.lat, 6), round(visit.where.lng, 6)
            stop = Stop(route=route, kind=visit.kind, order=order, latitude=lat, longitude=lng)
            new_rows.append(stop)
        if visit.where is not None:
            stop.latitude, stop.longitude = round(visit.where.lat, 6), round(visit.where.lng, 6)
        stop.trip = visit.trip
        stop.planned_arrival, stop.planned_start = visit.arrival, visit.start
        stop.planned_departure, stop.eta = visit.departure, visit.arrival
        if stop.order is not None:
            # The order's window may have moved (a retry later today).
            stop.window_start, stop.window_end = stop.order.window_start, stop.order.window_end
        ordered.append(stop)
        if visit.order_id is not None:
            state.placed[visit.order_id] = (route, stop)
    return ordered, new_rows


def _orders_follow(state: _Applying) -> None:
    """Plan what is new, tell customers of moved windows; the diff says what was added and
    what moved between routes."""
    day, plan, diff = state.day, state.plan, state.diff
    for order_id, (route, stop) in sorted(state.placed.items()):
        order = day.orders[order_id]
        window = eta_window(stop)
        ref = stop_route_ref(stop, plan_id=plan.pk)
        previous = day.current_route.get(order_id)
        waiting = order.status in PLANNABLE_STATUSES
        if waiting:
            order = order_plan(
                order=order, source=SOURCE, route_ref=ref,
                eta_start=window.start, eta_end=window.end,
            )  # fmt: skip
        if previous is None:
            if order_id in state.data.by_vehicle[route.vehicle.code].loaded and (
                order.status == OrderStatus.PLANNED
            ):
                order_start_delivery(order=order, source=SOURCE)
            diff["added"].append(
                {"order": order_id, "ref": _ref(order), "route": route.pk,
                 "vehicle": route.vehicle.code,
                 "why": "retry" if order_id in day.retries else "new"}
            )  # fmt: skip
            continue
        if not waiting and (
            previous != route.pk or _shifted(state.old_windows.get(order_id), window)
        ):
            order_eta_changed(
                order=order, eta_start=window.start, eta_end=window.end, route_ref=ref
            )
        if previous != route.pk:
            diff["moved"].append(
                {"order": order_id, "ref": _ref(order), "from_route": previous,
                 "to_route": route.pk, "from_vehicle": state.routes[previous].vehicle.code,
                 "to_vehicle": route.vehicle.code}
            )  # fmt: skip


def _dropped_and_unassigned(state: _Applying) -> None:
    """Orders the re-plan does not serve: pending stops whose order is gone are dropped, and
    every order left out is (re)written to the plan's unassigned list with today's reason,
    in two statements whatever the count."""
    day, plan, diff = state.day, state.plan, state.diff
    for stop, reason in day.gone:
        if stop.pk in state.pending_now:  # skipped with the route's other unused stops
            diff["dropped"].append(
                {"order": stop.order_id, "ref": _ref(stop.order), "route": stop.route_id,
                 "reason": reason, "detail": f"order {reason}"}
            )  # fmt: skip
    unassigned = {u.job_id: u for u in state.solution.unassigned}
    UnassignedOrder.objects.filter(plan=plan, order_id__in=list(state.placed)).delete()
    left_out: list[UnassignedOrder] = []
    for order_id, order in day.orders.items():
        if order_id in state.placed or order_id in state.settled_meanwhile:
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


def _finish(
    state: _Applying, report: CheckReport, timings: dict[str, float], started: float
) -> Replan:
    """Staff the new routes, complete the settled ones, write the totals and the re-plan's
    outcome with its ``replanned`` event."""
    plan, diff, now = state.plan, state.diff, state.day.now
    diff["new_routes"] = _routes_staff(plan, state.new_routes)
    diff["resequenced"] = state.resequenced
    diff["settled_meanwhile"] = sorted(state.settled_meanwhile)
    for route in state.routes.values():
        # Every stop left on it is settled (the rest moved away): the route is done.
        route_complete_if_settled(route, actor_id=None, at=now)
    diff["kept_settled"] = state.day.settled
    plan_totals_write(plan)
    timings["apply_s"] = round(time.perf_counter() - started, 3)
    replan = state.replan
    replan.plan = plan
    solution = state.solution
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
            **state.data.stats,
            **timings,
            "skipped_stops": state.skipped,
            "late_jobs": report.late_jobs,
        },
    )
    summary = {k: len(v) for k, v in diff.items() if isinstance(v, list)}
    events.replanned(plan=plan, replan=replan, summary=summary)
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
