"""Offering published routes without a driver to crowd couriers, one courier at a time.

A route is offered to the first crowd courier who is available at the hub for the route's
whole day, may take it (``eligibility.py``: active and approved, the skills its orders
need, a licence for a motor vehicle, no other active route that day), has not been asked
about it yet and has no other open offer. The courier accepts (the route is dispatched to
them, after the same rule is checked again on their locked row) or declines; an offer not
answered by ``expires_at`` expires, and the open offers of a courier who may no longer drive
(suspended, offboarded) are withdrawn (an accepted one too, when its route is handed back:
``staffing.courier_work_release``). Declined, expired and withdrawn offers pass the route to
the next courier; when nobody is left, a ``no_courier`` event tells the dispatcher. The
minute's sweep also offers routes that were left with no courier and no offer while
couriers are left to ask (``route_offers_resume``).

Partial unique constraints keep one live offer per route, one open offer per courier and
one active route per courier and day. Row locks: a courier's accept takes their courier row
first, then the offer and route; offering takes the route, then a candidate's courier row
with ``skip_locked`` (a courier being handled elsewhere right now is skipped), so no two
transactions wait on each other in opposite orders.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import Conflict, NotFound
from lastmile.core.state import transition
from lastmile.dispatch import events
from lastmile.dispatch.errors import DispatchErrorCode, OfferClosed, RouteTaken
from lastmile.dispatch.models import (
    OFFER_TRANSITIONS,
    OfferStatus,
    Plan,
    PlanEvent,
    PlanStatus,
    Route,
    RouteOffer,
    RouteStatus,
    Stop,
)
from lastmile.dispatch.services.eligibility import (
    availability_covers,
    courier_active_refusal,
    courier_claim,
    courier_route_refusal,
    courier_unfit_reason,
    couriers_busy,
    route_needs,
)
from lastmile.dispatch.services.routes import route_dispatch
from workforce.models import Courier, CourierKind, CourierStatus
from workforce.selectors import courier_availability_for

logger = logging.getLogger(__name__)

# How many expired offers one sweep handles before re-queueing itself.
EXPIRE_BATCH = 200


def route_offer_next(*, route: Route, actor: User | None = None) -> RouteOffer | None:
    """Offer ``route`` to the next suitable crowd courier (caller holds the transaction).

    Nothing happens for a route that has a courier, is not planned, belongs to a plan that is
    not published, or already has a live offer. Candidates come from the hub's availability;
    the chosen one's row is locked and checked again (may take the route, no open offer)
    before the offer is written, so two offers made at the same moment never reach one
    courier.
    """
    locked = (
        Route.objects.select_for_update(of=("self",)).select_related("plan__hub").get(pk=route.pk)
    )
    plan = locked.plan
    if (
        locked.courier_id is not None
        or locked.status != RouteStatus.PLANNED
        or plan.status != PlanStatus.PUBLISHED
        or RouteOffer.objects.filter(
            route=locked, status__in=[OfferStatus.OPEN, OfferStatus.ACCEPTED]
        ).exists()
    ):
        return None
    needs = route_needs(locked)
    skip = set(RouteOffer.objects.filter(route=locked).values_list("courier_id", flat=True))
    skip |= couriers_busy(day=plan.service_date)
    for candidate in courier_availability_for(hub=plan.hub, day=plan.service_date):
        if (
            candidate.kind != CourierKind.CROWD
            or candidate.courier_id in skip
            or not availability_covers(candidate, locked)
            or courier_unfit_reason(skills=candidate.skills, vehicle=candidate.vehicle, needs=needs)
        ):
            continue
        courier = courier_claim(candidate.courier_id)
        if (
            courier is None
            or courier_route_refusal(courier=courier, needs=needs) is not None
            or RouteOffer.objects.filter(courier=courier, status=OfferStatus.OPEN).exists()
        ):
            continue
        offer = RouteOffer.objects.create(
            route=locked,
            courier=courier,
            expires_at=timezone.now() + dt.timedelta(seconds=settings.DISPATCH_OFFER_TTL_S),
        )
        events.offer_sent(route=locked, courier_id=courier.pk, actor=actor)
        logger.info("route offered", extra={"route": locked.pk, "courier": courier.pk})
        return offer
    events.no_courier(route=locked, actor=actor)
    logger.warning("no courier left for route", extra={"route": locked.pk})
    return None


def _answer(offer: RouteOffer, target: str, actor: User | None) -> RouteOffer:
    """Move the locked ``offer`` to its answer (or withdrawn) with the plan's event."""

    def record(row: RouteOffer, previous: str, now: dt.datetime) -> None:
        if target == OfferStatus.WITHDRAWN:
            events.offer_withdrawn(offer=row, actor=actor)
        else:
            events.offer_answered(offer=row, answer=target, actor=actor)

    transition(
        offer,
        table=OFFER_TRANSITIONS,
        entity="Offer",
        target=target,
        record=record,
        stamps={
            status: "responded_at" for status in OfferStatus.values if status != OfferStatus.OPEN
        },
        lock=False,
    )
    return offer


def _own_offer(*, offer_id: int, courier: Courier) -> RouteOffer:
    """The courier's own offer and its route, locked; anyone else's is not found (no IDOR)."""
    try:
        return (
            RouteOffer.objects.select_for_update(of=("self", "route"))
            .select_related("route")
            .get(pk=offer_id, courier=courier)
        )
    except RouteOffer.DoesNotExist:
        raise NotFound("No such offer.") from None


@transaction.atomic
def route_offer_accept(*, offer_id: int, courier: Courier) -> RouteOffer:
    """The courier takes the route: offer accepted, route dispatched to them.

    Checked on the courier's locked row, in this order: they may still drive (403
    ``courier_not_active``), the offer is theirs (404) and open (409 ``offer_closed``,
    ``offer_expired``), nobody holds the route (409 ``route_taken``), they fit it (409
    ``courier_unfit``) and hold no other active route that day (409 ``courier_busy``).
    Accepting an offer already accepted returns it unchanged (a retried tap).
    """
    me = (
        Courier.objects.select_for_update(of=("self",))
        .select_related("user", "application")
        .get(pk=courier.pk)
    )
    refusal = courier_active_refusal(me)
    if refusal is not None:
        raise refusal
    offer = _own_offer(offer_id=offer_id, courier=me)
    if offer.status == OfferStatus.ACCEPTED:
        return offer  # a retried tap
    if offer.status != OfferStatus.OPEN:
        raise OfferClosed(status=offer.status)
    if offer.expires_at <= timezone.now():
        raise Conflict("This offer has expired.", code=DispatchErrorCode.OFFER_EXPIRED)
    if offer.route.courier_id is not None or offer.route.status != RouteStatus.PLANNED:
        raise RouteTaken()
    refusal = courier_route_refusal(courier=me, needs=route_needs(offer.route))
    if refusal is not None:
        raise refusal
    _answer(offer, OfferStatus.ACCEPTED, me.user)
    route_dispatch(route=offer.route, courier_id=me.pk, actor=me.user)
    return offer


@transaction.atomic
def route_offer_decline(*, offer_id: int, courier: Courier) -> RouteOffer:
    """The courier says no; the route goes to the next courier. Declining an offer already
    declined changes nothing; one no longer open is a 409 ``offer_closed``."""
    offer = _own_offer(offer_id=offer_id, courier=courier)
    if offer.status == OfferStatus.DECLINED:
        return offer
    if offer.status != OfferStatus.OPEN:
        raise OfferClosed(status=offer.status)
    _answer(offer, OfferStatus.DECLINED, courier.user)
    route_offer_next(route=offer.route)
    return offer


def route_offer_withdraw(*, offer: RouteOffer, pass_on: bool = True) -> RouteOffer:
    """Withdraw the locked open or accepted ``offer`` of a courier who may no longer drive,
    with an ``offer_withdrawn`` event (the caller holds the transaction); with ``pass_on``
    the route is offered to the next courier."""
    _answer(offer, OfferStatus.WITHDRAWN, None)
    logger.info(
        "route offer withdrawn",
        extra={"offer": offer.pk, "courier": offer.courier_id, "status": offer.courier.status},
    )
    if pass_on:
        route_offer_next(route=offer.route)
    return offer


@transaction.atomic
def route_offers_withdraw(*, courier_id: int) -> int:
    """Withdraw the open offers of a courier who may no longer drive (suspended,
    offboarded): each gets an ``offer_withdrawn`` event and its route goes to the next
    courier. Returns how many; a courier active again (reactivated meanwhile) keeps theirs.
    Offers are locked in pk order."""
    offers = list(
        RouteOffer.objects.select_for_update(of=("self", "route"))
        .select_related("route", "courier")
        .filter(courier_id=courier_id, status=OfferStatus.OPEN)
        .exclude(courier__status=CourierStatus.ACTIVE)
        .order_by("pk")
    )
    for offer in offers:
        route_offer_withdraw(offer=offer)
    return len(offers)


@transaction.atomic
def route_offers_expire(*, now: dt.datetime | None = None) -> int:
    """Expire unanswered offers past their time, withdraw open offers of couriers who may
    no longer drive (should the withdrawal sent at their suspension have been lost), and ask
    the next courier; returns how many offers were closed.

    Rows another worker holds are skipped (they are being answered right now).
    """
    now = now or timezone.now()
    due = list(
        RouteOffer.objects.select_for_update(skip_locked=True, of=("self", "route"))
        .select_related("route", "courier")
        .filter(status=OfferStatus.OPEN)
        .filter(Q(expires_at__lte=now) | ~Q(courier__status=CourierStatus.ACTIVE))
        .order_by("pk")[:EXPIRE_BATCH]
    )
    for offer in due:
        if offer.courier.status != CourierStatus.ACTIVE:
            route_offer_withdraw(offer=offer)
        else:
            _answer(offer, OfferStatus.EXPIRED, None)
            route_offer_next(route=offer.route)
    return len(due)


def plans_today_or_later(*, now: dt.datetime) -> Q:
    """A route filter: its published plan's day is today or later in its hub's zone (one
    query for the zones of recent published plans)."""
    recent = Plan.objects.filter(
        status=PlanStatus.PUBLISHED, service_date__gte=now.date() - dt.timedelta(days=1)
    )
    today = Q(pk__in=[])
    for zone in recent.values_list("hub__time_zone", flat=True).distinct():
        local = timezone.localdate(now, zoneinfo.ZoneInfo(zone))
        today |= Q(
            plan__status=PlanStatus.PUBLISHED,
            plan__hub__time_zone=zone,
            plan__service_date__gte=local,
        )
    return today


# Before any offer: a route never offered counts every ``no_courier`` event.
_NEVER = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def routes_waiting_for_offer(*, now: dt.datetime) -> QuerySet[Route]:
    """Routes of published plans of today or later (in their hub's zone) with stops, no
    courier and no live offer, whose last hand-out did not end in ``no_courier``: a
    ``no_courier`` event written after their last offer closed (or at all, never offered)
    records that nobody was left to ask, so such a route waits for the dispatcher."""
    today = plans_today_or_later(now=now)
    last_offer = (
        RouteOffer.objects.filter(route=OuterRef("pk"))
        .annotate(closed=Coalesce("responded_at", "created_at"))
        .order_by("-closed")
        .values("closed")[:1]
    )
    nobody_left = PlanEvent.objects.annotate(
        route_id=Cast(KT("payload__route"), BigIntegerField())
    ).filter(
        plan_id=OuterRef("plan_id"),
        kind=PlanEvent.Kind.NO_COURIER,
        route_id=OuterRef("pk"),
        occurred_at__gte=OuterRef("last_offer_at"),
    )
    return (
        Route.objects.filter(today, status=RouteStatus.PLANNED, courier__isnull=True)
        .filter(plan__status=PlanStatus.PUBLISHED)
        .filter(Exists(Stop.objects.filter(route=OuterRef("pk"))))
        .exclude(
            Exists(
                RouteOffer.objects.filter(
                    route=OuterRef("pk"), status__in=[OfferStatus.OPEN, OfferStatus.ACCEPTED]
                )
            )
        )
        .annotate(last_offer_at=Coalesce(Subquery(last_offer), Value(_NEVER)))
        .exclude(Exists(nobody_left))
    )


@transaction.atomic
def route_offers_resume(*, now: dt.datetime | None = None) -> int:
    """Offer the routes ``routes_waiting_for_offer`` finds (left un-offered when an offer was
    closed without asking the next courier), at most ``EXPIRE_BATCH`` per call, oldest
    first; returns how many were handled. Each ends with an open offer or a ``no_courier``
    event, so running it again leaves them alone. Routes another worker holds are skipped.
    """
    now = now or timezone.now()
    routes = list(
        routes_waiting_for_offer(now=now)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")[:EXPIRE_BATCH]
    )
    for route in routes:
        route_offer_next(route=route)
    if routes:
        logger.info("un-offered routes offered again", extra={"routes": [r.pk for r in routes]})
    return len(routes)
