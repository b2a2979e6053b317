"""Dispatcher edits of a ready plan from the dispatch board: moving a stop to another route.

Each affected route is rebuilt by the routing engine as a small problem of its own (that
vehicle, only that route's orders), checked by the independent checker, and stored with new
sequences, planned times and totals. The solve runs outside any transaction; the write
re-reads and locks the plan and both routes and refuses if either changed meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from fleet.models import Vehicle as FleetVehicle
from lastmile.accounts.models import User
from lastmile.core.errors import Conflict, ValidationFailed
from lastmile.dispatch import events
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.dispatch.models import (
    ORDER_STOP_KINDS,
    Plan,
    PlanStatus,
    Route,
    Stop,
    StopStatus,
)
from lastmile.dispatch.services.building import (
    PlanningInput,
    planning_input_for,
)
from lastmile.dispatch.services.solving import solution_check, solution_find
from lastmile.dispatch.services.storing.plans import planned_stops, route_stops_replace
from lastmile.dispatch.services.storing.totals import plan_totals_write
from lastmile.hubs.models import Hub
from lastmile.orders.models import Order
from lastmile.routing.checker import RouteFigures
from lastmile.routing.params import SolverParams
from lastmile.routing.problem import Load

logger = logging.getLogger(__name__)

# A route is a few dozen stops: the engine settles it well within this, and a dispatcher
# waits for two of them per move.
MOVE_TIME_LIMIT_S = 2.0
_TOTALS = ("distance_m", "duration_s", "energy_wh")


class StopMoveRefused(Conflict):
    """The target route cannot take the stop (capacity, window, skill, range or shift)."""

    code = DispatchErrorCode.STOP_MOVE_REFUSED
    title = "The stop cannot move to that route"


@dataclass(frozen=True)
class RebuiltRoute:
    """A route as the engine re-sequenced it: new totals, and its stops (not saved yet)."""

    route_id: int
    order_ids: tuple[int, ...]
    figures: RouteFigures
    load: Load
    planned_start: dt.datetime
    planned_end: dt.datetime
    stops: list[Stop]


def route_planning_input(
    *, hub: Hub, service_date: dt.date, vehicle: FleetVehicle, orders: list[Order]
) -> PlanningInput:
    """One vehicle and only ``orders``: the routing problem of a single route, built by the
    same function as a whole day's, so a rebuilt route obeys the rules the run obeyed."""
    return planning_input_for(hub=hub, service_date=service_date, orders=orders, fleet=[vehicle])


def route_rebuild(
    *, route: Route, orders: list[Order], hub: Hub, service_date: dt.date
) -> RebuiltRoute:
    """Sequence ``orders`` on ``route``'s vehicle with the engine and check the result.

    Raises ``StopMoveRefused`` naming the order and the reason when the vehicle cannot serve
    every one of them, or when the checker finds a broken rule.
    """
    data = route_planning_input(
        hub=hub, service_date=service_date, vehicle=route.vehicle, orders=orders
    )
    limit = min(float(settings.DISPATCH_TIME_LIMIT_S), MOVE_TIME_LIMIT_S)
    solution = solution_find(data.problem, SolverParams(time_limit_s=limit))
    code = route.vehicle.code
    if solution.unassigned:
        left = solution.unassigned[0]
        ref = data.orders[left.job_id].external_reference
        raise StopMoveRefused(
            f"Route {code} cannot take order {ref}: {left.detail}",
            extra={"vehicle": code, "order": ref, "reason": left.reason.value},
        )
    report = solution_check(
        data.problem,
        solution,
        refused=lambda report: StopMoveRefused(
            f"Route {code} would break a rule: {report.violations[0]}",
            extra={"vehicle": code, "violations": report.violations[:10]},
        ),
    )
    solved = solution.route_of(code)
    if solved is None or not solved.job_ids:
        raise StopMoveRefused(f"The engine found no route for {code}.")
    total = Load()
    for job in data.problem.jobs:
        total = total + job.demand
    return RebuiltRoute(
        route_id=route.pk,
        order_ids=tuple(sorted(o.pk for o in orders)),
        figures=report.routes[0],
        load=total,
        planned_start=data.at(solved.visits[0].departure_s),
        planned_end=data.at(solved.visits[-1].arrival_s),
        stops=planned_stops(solved, data),
    )


def _route_orders(route: Route) -> list[Order]:
    """The orders ``route`` serves, in its current order."""
    return [
        stop.order
        for stop in route.stops.filter(kind__in=ORDER_STOP_KINDS, order__isnull=False)
        .select_related("order")
        .order_by("sequence")
    ]


def _order_ids_now(route_id: int) -> tuple[int, ...]:
    return tuple(
        sorted(
            Stop.objects.filter(
                route_id=route_id, kind__in=ORDER_STOP_KINDS, order__isnull=False
            ).values_list("order_id", flat=True)
        )
    )


def _check_movable(*, stop: Stop, target: Route) -> None:
    source = stop.route
    plan = source.plan
    if stop.kind not in ORDER_STOP_KINDS or stop.order_id is None:
        raise ValidationFailed(
            f"Only a stop that serves an order can move; this one is a {stop.get_kind_display()}.",
            errors={"stop": ["Not an order stop."]},
        )
    if target.plan_id != source.plan_id:
        raise ValidationFailed(
            "The target route belongs to another plan.", errors={"target": ["Another plan."]}
        )
    if target.pk == source.pk:
        raise ValidationFailed(
            "The stop is already on that route.", errors={"target": ["Same route."]}
        )
    if plan.status != PlanStatus.READY:
        raise Conflict(
            f"Stops move only while the plan is ready; this plan is {plan.get_status_display()}.",
            code=DispatchErrorCode.PLAN_NOT_READY,
        )
    if stop.status != StopStatus.PENDING:
        raise Conflict("Only a pending stop can move.", code=DispatchErrorCode.STOP_NOT_PENDING)


@transaction.atomic(durable=True)
def _move_store(
    *,
    plan: Plan,
    moved: Order,
    rebuilt: dict[int, RebuiltRoute],
    expected: dict[int, tuple[int, ...]],
    actor: User | None,
) -> dict[int, Route]:
    """Write both rebuilt routes and the plan's totals, and record the ``stop_moved`` event,
    once the plan is still ready and neither route changed while the engine worked."""
    locked_plan = Plan.objects.select_for_update().get(pk=plan.pk)
    if locked_plan.status != PlanStatus.READY:
        raise Conflict(
            "Stops move only while the plan is ready; this plan is "
            f"{locked_plan.get_status_display()}.",
            code=DispatchErrorCode.PLAN_NOT_READY,
        )
    locked = {
        r.pk: r
        for r in Route.objects.select_for_update()
        .select_related("vehicle")
        .filter(pk__in=list(rebuilt))
        .order_by("pk")
    }
    if any(_order_ids_now(pk) != ids for pk, ids in expected.items()):
        raise Conflict(
            "One of the routes changed while the move was computed; reload and try again.",
            code=DispatchErrorCode.ROUTE_CHANGED,
        )
    before = {pk: {n: getattr(route, n) for n in _TOTALS} for pk, route in locked.items()}
    for pk, new in rebuilt.items():
        route_stops_replace(
            locked[pk],
            stops=new.stops,
            figures=new.figures,
            load=new.load,
            planned_start=new.planned_start,
            planned_end=new.planned_end,
        )
    plan_totals_write(locked_plan)
    source_pk, target_pk = list(rebuilt)
    events.stop_moved(
        plan=locked_plan,
        order_id=moved.pk,
        order_ref=moved.external_reference,
        from_route=locked[source_pk],
        to_route=locked[target_pk],
        before={"from": before[source_pk], "to": before[target_pk]},
        after={
            "from": {n: getattr(locked[source_pk], n) for n in _TOTALS},
            "to": {n: getattr(locked[target_pk], n) for n in _TOTALS},
        },
        actor=actor,
    )
    return locked


def stop_move(*, stop: Stop, target: Route, actor: User | None) -> tuple[Route, Route]:
    """Move ``stop``'s order to ``target`` in a ready plan; returns (source, target) rebuilt.

    Both routes are re-sequenced by the engine on their own vehicles, with new planned times
    and totals (distance, duration, energy, load); the plan's totals follow and a
    ``stop_moved`` event records the before and after, all in one transaction. Refused with
    ``StopMoveRefused`` when the target cannot take the order (capacity, window, skill,
    range) or when the move would leave the source route empty, with ``plan_not_ready`` once
    the plan is published, and with a conflict when either route changed while solving.
    Stop rows of both routes are replaced (new ids); nothing refers to them before publishing.
    """
    source = Route.objects.select_related("plan__hub", "vehicle").get(pk=stop.route_id)
    target = Route.objects.select_related("vehicle").get(pk=target.pk)
    stop.route = source
    _check_movable(stop=stop, target=target)
    plan = source.plan
    source_orders = _route_orders(source)
    moved = next(o for o in source_orders if o.pk == stop.order_id)
    remaining = [o for o in source_orders if o.pk != moved.pk]
    if not remaining:
        raise StopMoveRefused(
            f"Order {moved.external_reference} is the last stop of {source.vehicle.code}; "
            "a route cannot be left empty.",
            code=DispatchErrorCode.LAST_STOP,
        )
    target_orders = [*_route_orders(target), moved]

    # The slow part, outside any transaction: no row is locked while the engine works.
    new_target = route_rebuild(
        route=target, orders=target_orders, hub=plan.hub, service_date=plan.service_date
    )
    new_source = route_rebuild(
        route=source, orders=remaining, hub=plan.hub, service_date=plan.service_date
    )

    expected = {
        source.pk: tuple(sorted(o.pk for o in source_orders)),
        target.pk: tuple(sorted(o.pk for o in target_orders if o.pk != moved.pk)),
    }
    locked = _move_store(
        plan=plan,
        moved=moved,
        rebuilt={source.pk: new_source, target.pk: new_target},
        expected=expected,
        actor=actor,
    )
    logger.info(
        "stop moved",
        extra={
            "plan": plan.pk,
            "order": moved.pk,
            "from_route": source.pk,
            "to_route": target.pk,
        },
    )
    return locked[source.pk], locked[target.pk]
