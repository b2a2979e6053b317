"""Publishing a ready plan: its orders become planned with an ETA window, its routes get drivers.

Dedicated (employee) drivers are assigned directly by the rule re-planning and a courier's
suspension share (``staffing.route_drivers_assign``: available at the hub for the route's
whole day, not busy that day at any hub, fit for the route, earliest route first); such a
route is dispatched. Routes left without a driver are offered to crowd couriers one at a
time (``offers.py``). Everything happens in one transaction: a plan is published with all its
orders planned, or not at all.
"""

from __future__ import annotations

import logging

from django.db import transaction

from lastmile.accounts.models import User
from lastmile.core.state import check_transition
from lastmile.dispatch.models import (
    PLAN_TRANSITIONS,
    Plan,
    PlanStatus,
    Stop,
    StopKind,
)
from lastmile.dispatch.services.etas import eta_window
from lastmile.dispatch.services.offers import route_offer_next
from lastmile.dispatch.services.plans import plan_transition
from lastmile.dispatch.services.staffing import route_drivers_assign
from lastmile.orders.services import order_plan

logger = logging.getLogger(__name__)


def stop_route_ref(stop: Stop, *, plan_id: int) -> str:
    """How an order's timeline names the route stop serving it: plan/route/sequence."""
    return f"{plan_id}/{stop.route_id}/{stop.sequence}"


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
    drivers = route_drivers_assign(plan=locked, routes=routes, actor=actor)
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
