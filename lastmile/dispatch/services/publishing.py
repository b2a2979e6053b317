"""Publishing a ready plan: its orders become planned with an ETA window, its routes get drivers.

Dedicated (employee) drivers available at the hub that day and not already driving a route
that day (at any hub) are assigned directly, earliest route first, each to one route whose
whole day falls inside their availability and whose orders' skills they have; such a route
is dispatched. Routes left without a driver are offered to crowd couriers one at a time
(``offers.py``). Everything happens in one transaction: a plan is published with all its
orders planned, or not at all.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from lastmile.accounts.models import User
from lastmile.core.state import check_transition
from lastmile.dispatch.models import (
    PLAN_TRANSITIONS,
    Plan,
    PlanStatus,
    Route,
    Stop,
    StopKind,
)
from lastmile.dispatch.services.eligibility import couriers_busy
from lastmile.dispatch.services.offers import route_offer_next
from lastmile.dispatch.services.plans import plan_transition
from lastmile.dispatch.services.routes import route_dispatch
from lastmile.orders.services import order_plan
from workforce.models import CourierKind
from workforce.selectors import CourierAvailability, courier_availability_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EtaWindow:
    start: dt.datetime
    end: dt.datetime


def stop_route_ref(stop: Stop, *, plan_id: int) -> str:
    """How an order's timeline names the route stop serving it: plan/route/sequence."""
    return f"{plan_id}/{stop.route_id}/{stop.sequence}"


def eta_window(stop: Stop) -> EtaWindow:
    """The window promised to the customer: ``DISPATCH_ETA_WINDOW_S`` around the planned
    arrival, shifted (not shrunk) to stay inside the booked window where it can."""
    width = dt.timedelta(seconds=settings.DISPATCH_ETA_WINDOW_S)
    start = stop.planned_start - width / 2
    if stop.window_start is not None and start < stop.window_start:
        start = stop.window_start
    if stop.window_end is not None and start + width > stop.window_end:
        start = max(stop.window_end - width, stop.window_start or stop.window_end - width)
    return EtaWindow(start, start + width)


def drivers_for(
    routes: list[Route], available: list[CourierAvailability], skills_of: dict[int, set[str]]
) -> dict[int, int]:
    """Route id → courier id: each dedicated driver once, earliest route first."""
    taken: set[int] = set()
    chosen: dict[int, int] = {}
    drivers = [a for a in available if a.kind == CourierKind.EMPLOYEE]
    for route in sorted(routes, key=lambda r: (r.planned_start, r.pk)):
        for driver in drivers:
            if driver.courier_id in taken:
                continue
            covers = driver.starts_at <= route.planned_start and route.planned_end <= driver.ends_at
            if covers and skills_of.get(route.pk, set()) <= set(driver.skills):
                chosen[route.pk] = driver.courier_id
                taken.add(driver.courier_id)
                break
    return chosen


@transaction.atomic
def plan_publish(*, plan: Plan, actor: User | None) -> Plan:
    """Publish a ready plan (ready → published); see the module docstring.

    Publishing a published plan again changes nothing. Orders are moved in pk order (row
    locks in a fixed order), each with its route and ETA window in the order's timeline.
    """
    locked = Plan.objects.select_for_update().select_related("hub").get(pk=plan.pk)
    if locked.status == PlanStatus.PUBLISHED:
        return locked
    # Checked before any order moves: only a ready plan may be published.
    check_transition(
        PLAN_TRANSITIONS, entity="Plan", current=locked.status, target=PlanStatus.PUBLISHED
    )
    routes = list(locked.routes.select_related("vehicle").order_by("pk"))
    stops = list(
        Stop.objects.filter(route__plan=locked, kind=StopKind.DELIVERY, order__isnull=False)
        .select_related("order", "route")
        .order_by("order_id")
    )
    skills_of: dict[int, set[str]] = {}
    for stop in stops:
        skills_of.setdefault(stop.route_id, set()).update(stop.order.required_skills)

    for stop in stops:
        window = eta_window(stop)
        order_plan(
            order=stop.order,
            source="system",
            actor=actor,
            route_ref=stop_route_ref(stop, plan_id=locked.pk),
            eta_start=window.start,
            eta_end=window.end,
        )
    # One active route per courier and day: a driver already on another hub's route that
    # day is not available here (the database refuses a second one all the same).
    busy = couriers_busy(day=locked.service_date)
    available = [
        a
        for a in courier_availability_for(hub=locked.hub, day=locked.service_date)
        if a.courier_id not in busy
    ]
    drivers = drivers_for(routes, available, skills_of)
    for route in routes:
        if route.pk in drivers:
            route_dispatch(route=route, courier_id=drivers[route.pk], actor=actor)
    published = plan_transition(
        locked,
        target=PlanStatus.PUBLISHED,
        actor=actor,
        payload={
            "orders": len(stops),
            "routes": len(routes),
            "routes_with_driver": len(drivers),
            "routes_waiting_for_courier": len(routes) - len(drivers),
        },
    )
    # Routes still without a driver go to crowd couriers, one offer at a time.
    for route in routes:
        if route.pk not in drivers and route.stops.exists():
            route_offer_next(route=route, actor=actor)
    logger.info(
        "plan published",
        extra={"plan": locked.pk, "orders": len(stops), "drivers": len(drivers)},
    )
    return published
