"""Who drives a published route: an employee driver, or crowd couriers one offer at a time.

Publishing and re-planning staff routes the same way: an employee driver free that day takes
a route directly (``route_drivers_assign``), the other routes are offered to crowd couriers
one at a time (``offers.py``). Who may drive is the one rule of ``eligibility.py``.
"""

from __future__ import annotations

import logging

from lastmile.accounts.models import User
from lastmile.dispatch.errors import CourierBusy
from lastmile.dispatch.models import Plan, Route
from lastmile.dispatch.services.eligibility import (
    availability_covers,
    courier_claim,
    courier_route_refusal,
    courier_unfit_reason,
    couriers_busy,
    routes_needs,
)
from lastmile.dispatch.services.offers import route_offer_next
from lastmile.dispatch.services.routes import route_dispatch
from workforce.models import CourierKind
from workforce.selectors import courier_availability_for

logger = logging.getLogger(__name__)


def route_drivers_assign(*, plan: Plan, routes: list[Route], actor: User | None) -> dict[int, int]:
    """Dispatch ``routes`` of ``plan`` to employee drivers (the caller holds the transaction)
    and return route id → courier id for those that got one.

    A driver is an employee available at the plan's hub for the route's whole day, not busy
    that day (``couriers_busy``: an active route at any hub, or an open offer) and allowed
    to take the route (``courier_route_refusal`` on their locked row: active and approved,
    the skills its orders need, a licence for a motor vehicle, no other route that day).
    Each driver takes one route, earliest route first. A driver another transaction holds
    right now is passed over, as is one who got a route meanwhile (``courier_busy``); the
    route then goes to the next driver, or stays without one.
    """
    if not routes:
        return {}
    busy = couriers_busy(day=plan.service_date)
    drivers = [
        a
        for a in courier_availability_for(hub=plan.hub, day=plan.service_date)
        if a.kind == CourierKind.EMPLOYEE and a.courier_id not in busy
    ]
    if not drivers:
        return {}
    needs = routes_needs(routes, day=plan.service_date)
    taken: set[int] = set()
    chosen: dict[int, int] = {}
    for route in sorted(routes, key=lambda r: (r.planned_start, r.pk)):
        route_needs = needs[route.pk]
        for driver in drivers:
            if (
                driver.courier_id in taken
                or not availability_covers(driver, route)
                or courier_unfit_reason(
                    skills=driver.skills, vehicle=driver.vehicle, needs=route_needs
                )
            ):
                continue
            courier = courier_claim(driver.courier_id)
            if courier is None:
                continue
            if courier_route_refusal(courier=courier, needs=route_needs) is not None:
                taken.add(courier.pk)
                continue
            try:
                route_dispatch(route=route, courier_id=courier.pk, actor=actor)
            except CourierBusy:
                taken.add(courier.pk)
                continue
            chosen[route.pk] = courier.pk
            taken.add(courier.pk)
            break
    return chosen


def routes_staff(*, plan: Plan, routes: list[Route], actor: User | None) -> dict[int, int]:
    """Hand out ``routes`` of the published ``plan`` (the caller holds the transaction):
    employee drivers first (``route_drivers_assign``), the others offered to crowd couriers
    one at a time. Returns route id → courier id of the routes dispatched now."""
    drivers = route_drivers_assign(plan=plan, routes=routes, actor=actor)
    for route in routes:
        if route.pk not in drivers:
            route_offer_next(route=route, actor=actor)
    return drivers
