"""Who drives a published route, and handing back the work of a courier who may no longer drive.

Publishing, re-planning and a courier's suspension staff routes the same way: an employee
driver free that day takes a route directly (``route_drivers_assign``), the other routes are
offered to crowd couriers one at a time (``offers.py``). Who may drive is the one rule of
``eligibility.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.dispatch import events
from lastmile.dispatch.errors import CourierBusy
from lastmile.dispatch.models import (
    ACTIVE_ROUTE_STATUSES,
    OfferStatus,
    Plan,
    PlanEvent,
    Route,
    RouteOffer,
    RouteStatus,
)
from lastmile.dispatch.services.eligibility import (
    availability_covers,
    courier_claim,
    courier_route_refusal,
    courier_unfit_reason,
    couriers_busy,
    routes_needs,
)
from lastmile.dispatch.services.offers import (
    EXPIRE_BATCH,
    plans_today_or_later,
    route_offer_next,
    route_offer_withdraw,
    route_offers_expire,
    route_offers_resume,
    route_offers_withdraw,
)
from lastmile.dispatch.services.routes import route_dispatch, route_transition
from workforce.models import Courier, CourierKind, CourierStatus
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


@dataclass
class WorkReleased:
    """What ``courier_work_release`` did: offers withdrawn, routes handed back (and to whom
    they went, when to an employee driver), routes in progress left with the courier."""

    offers_withdrawn: int = 0
    routes_released: list[int] = field(default_factory=list)
    routes_redispatched: dict[int, int] = field(default_factory=dict)
    routes_in_progress: list[int] = field(default_factory=list)


def _barred_event(route: Route, courier: Courier, at: dt.datetime) -> bool:
    """Tell the dispatcher the route in progress is driven by a barred courier, once per
    suspension or offboarding; ``False`` when that was already said."""
    said = events.courier_barred_payload(route=route, courier=courier)
    if PlanEvent.objects.filter(
        plan_id=route.plan_id,
        kind=PlanEvent.Kind.COURIER_BARRED,
        payload__route=said["route"],
        payload__courier=said["courier"],
        payload__since=said["since"],
    ).exists():
        return False
    events.courier_barred(route=route, courier=courier, occurred_at=at)
    return True


@transaction.atomic
def courier_work_release(*, courier_id: int, now: dt.datetime | None = None) -> WorkReleased:
    """Take back the work of a courier who may no longer drive (suspended, offboarded).

    Their open offers are withdrawn and passed on. Each route of today or later (in its
    hub's zone) dispatched to them and not started goes back to ``planned`` through the
    route transition (an event naming the courier), loses its courier, has their accepted
    offer withdrawn, and is handed out again as publishing would (an employee driver if one
    is free, else offers to crowd couriers). A route in progress stays with them (the
    parcels are in their van) and the plan gets a ``courier_barred`` event for the
    dispatcher. A courier active again (reactivated meanwhile) keeps everything; running
    it twice gives one effect. Locks: the courier row, then offers and routes in pk order.
    """
    now = now or timezone.now()
    courier = Courier.objects.select_for_update(of=("self",)).filter(pk=courier_id).first()
    released = WorkReleased()
    if courier is None or courier.status == CourierStatus.ACTIVE:
        return released
    released.offers_withdrawn = route_offers_withdraw(courier_id=courier_id)
    routes = [
        route
        for route in Route.objects.select_for_update(of=("self",))
        .select_related("plan__hub")
        .filter(
            courier_id=courier_id,
            status__in=ACTIVE_ROUTE_STATUSES,
            service_date__gte=now.date() - dt.timedelta(days=1),
        )
        .order_by("pk")
        if route.service_date >= timezone.localdate(now, route.plan.hub.zone)
    ]
    for route in routes:
        if route.status == RouteStatus.IN_PROGRESS:
            if _barred_event(route, courier, now):
                released.routes_in_progress.append(route.pk)
                logger.warning(
                    "barred courier is driving a route",
                    extra={"route": route.pk, "courier": courier_id, "status": courier.status},
                )
            continue
        for offer in (
            RouteOffer.objects.select_for_update(of=("self",))
            .select_related("route", "courier")
            .filter(route=route, courier_id=courier_id, status=OfferStatus.ACCEPTED)
        ):
            route_offer_withdraw(offer=offer, pass_on=False)
        route_transition(
            route,
            target=RouteStatus.PLANNED,
            actor_id=None,
            at=now,
            detail={"courier": courier_id, "courier_status": courier.status},
        )
        released.routes_released.append(route.pk)
        logger.info("route handed back", extra={"route": route.pk, "courier": courier_id})
        released.routes_redispatched.update(
            routes_staff(plan=route.plan, routes=[route], actor=None)
        )
    return released


def couriers_barred_with_routes(*, now: dt.datetime, limit: int) -> list[int]:
    """Couriers no longer active who still hold a dispatched route of today or later: the
    hand-back their suspension sent was lost (broker down) or has not run yet."""
    return list(
        Route.objects.filter(plans_today_or_later(now=now), status=RouteStatus.DISPATCHED)
        .exclude(courier__status=CourierStatus.ACTIVE)
        .order_by("courier_id")
        .values_list("courier_id", flat=True)
        .distinct()[:limit]
    )


def offers_sweep(*, now: dt.datetime | None = None) -> tuple[int, bool]:
    """The minute's sweep of crowd offers: unanswered offers expire and go to the next
    courier; the work of couriers barred meanwhile whose hand-back was lost is taken back;
    routes left with no courier and no open offer, while couriers are left to ask, are offered.

    Each part works one batch (``EXPIRE_BATCH``). Returns how many offers expired and whether
    any batch was full, so the caller sweeps again until a backlog has drained.
    """
    expired = route_offers_expire()
    barred = couriers_barred_with_routes(now=now or timezone.now(), limit=EXPIRE_BATCH)
    for courier_id in barred:
        courier_work_release(courier_id=courier_id)
    resumed = route_offers_resume()
    return expired, max(expired, len(barred), resumed) >= EXPIRE_BATCH
