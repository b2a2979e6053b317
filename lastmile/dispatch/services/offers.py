"""Offering published routes without a driver to crowd couriers, one courier at a time.

A route is offered to the first crowd courier who is available at the hub for the route's
whole day, has the skills its orders need, has not been asked about it yet and holds no
other route or open offer in the plan. The courier accepts (the route is dispatched to
them) or declines; an offer not answered by ``expires_at`` expires. Declined and expired
offers pass the route to the next courier; when nobody is left, a ``no_courier`` event tells
the dispatcher. A partial unique constraint keeps one live offer per route, so two
couriers can never both take it.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import Conflict, NotFound
from lastmile.core.state import check_transition
from lastmile.dispatch.models import (
    OFFER_TRANSITIONS,
    OfferStatus,
    PlanEvent,
    PlanStatus,
    Route,
    RouteOffer,
    RouteStatus,
    Stop,
)
from lastmile.dispatch.services.routes import route_dispatch
from workforce.models import Courier, CourierKind
from workforce.selectors import courier_availability_for

logger = logging.getLogger(__name__)

# How many expired offers one sweep handles before re-queueing itself.
EXPIRE_BATCH = 200


def _route_skills(route: Route) -> set[str]:
    skills: set[str] = set()
    for needed in Stop.objects.filter(route=route, order__isnull=False).values_list(
        "order__required_skills", flat=True
    ):
        skills.update(needed or [])
    return skills


def _event(route: Route, kind: str, actor: User | None, **payload: object) -> None:
    PlanEvent.objects.create(
        plan_id=route.plan_id,
        kind=kind,
        actor=actor,
        payload={"route": route.pk, **payload},
        occurred_at=timezone.now(),
    )


def route_offer_next(*, route: Route, actor: User | None = None) -> RouteOffer | None:
    """Offer ``route`` to the next suitable crowd courier (caller holds the transaction).

    Nothing happens for a route that has a courier, is not planned, belongs to a plan that is
    not published, or already has a live offer.
    """
    locked = Route.objects.select_for_update().select_related("plan__hub").get(pk=route.pk)
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
    asked = set(RouteOffer.objects.filter(route=locked).values_list("courier_id", flat=True))
    busy = set(
        Route.objects.filter(plan=plan, courier__isnull=False).values_list("courier_id", flat=True)
    ) | set(
        RouteOffer.objects.filter(route__plan=plan, status=OfferStatus.OPEN).values_list(
            "courier_id", flat=True
        )
    )
    needed = _route_skills(locked)
    for candidate in courier_availability_for(hub=plan.hub, day=plan.service_date):
        if (
            candidate.kind != CourierKind.CROWD
            or candidate.courier_id in asked | busy
            or not (
                candidate.starts_at <= locked.planned_start
                and locked.planned_end <= candidate.ends_at
            )
            or not needed <= set(candidate.skills)
        ):
            continue
        offer = RouteOffer.objects.create(
            route=locked,
            courier_id=candidate.courier_id,
            expires_at=timezone.now() + dt.timedelta(seconds=settings.DISPATCH_OFFER_TTL_S),
        )
        _event(locked, PlanEvent.Kind.OFFER_SENT, actor, courier=candidate.courier_id)
        logger.info("route offered", extra={"route": locked.pk, "courier": candidate.courier_id})
        return offer
    _event(locked, PlanEvent.Kind.NO_COURIER, actor)
    logger.warning("no courier left for route", extra={"route": locked.pk})
    return None


def _answer(offer: RouteOffer, target: str, actor: User | None) -> RouteOffer:
    check_transition(OFFER_TRANSITIONS, entity="Offer", current=offer.status, target=target)
    offer.status, offer.responded_at = target, timezone.now()
    offer.save(update_fields=["status", "responded_at", "updated_at"])
    _event(
        offer.route,
        PlanEvent.Kind.OFFER_ANSWERED,
        actor,
        courier=offer.courier_id,
        answer=target,
    )
    return offer


def _own_open_offer(*, offer_id: int, courier: Courier) -> RouteOffer:
    """The courier's own offer, locked; anyone else's is not found (no IDOR)."""
    try:
        return (
            RouteOffer.objects.select_for_update()
            .select_related("route")
            .get(pk=offer_id, courier=courier)
        )
    except RouteOffer.DoesNotExist:
        raise NotFound("No such offer.") from None


@transaction.atomic
def route_offer_accept(*, offer_id: int, courier: Courier) -> RouteOffer:
    """The courier takes the route: offer accepted, route dispatched to them."""
    offer = _own_open_offer(offer_id=offer_id, courier=courier)
    if offer.status == OfferStatus.ACCEPTED:
        return offer  # a retried tap
    if offer.status == OfferStatus.OPEN and offer.expires_at <= timezone.now():
        raise Conflict("This offer has expired.", code="offer_expired")
    _answer(offer, OfferStatus.ACCEPTED, courier.user)
    route_dispatch(route=offer.route, courier_id=courier.pk, actor=courier.user)
    return offer


@transaction.atomic
def route_offer_decline(*, offer_id: int, courier: Courier) -> RouteOffer:
    """The courier says no; the route goes to the next courier."""
    offer = _own_open_offer(offer_id=offer_id, courier=courier)
    if offer.status == OfferStatus.DECLINED:
        return offer
    _answer(offer, OfferStatus.DECLINED, courier.user)
    route_offer_next(route=offer.route)
    return offer


@transaction.atomic
def route_offers_expire(*, now: dt.datetime | None = None) -> int:
    """Expire unanswered offers past their time and ask the next courier; returns how many.

    Rows another worker holds are skipped (they are being answered right now).
    """
    now = now or timezone.now()
    due = list(
        RouteOffer.objects.select_for_update(skip_locked=True)
        .select_related("route")
        .filter(status=OfferStatus.OPEN, expires_at__lte=now)
        .order_by("pk")[:EXPIRE_BATCH]
    )
    for offer in due:
        _answer(offer, OfferStatus.EXPIRED, None)
        route_offer_next(route=offer.route)
    return len(due)
