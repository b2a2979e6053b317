"""Routes without a driver are offered to crowd couriers one at a time, taken exactly once."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from lastmile.core.errors import Conflict, NotFound
from lastmile.dispatch.models import OfferStatus, PlanEvent, Route, RouteOffer, RouteStatus
from lastmile.dispatch.services import (
    plan_publish,
    route_offer_accept,
    route_offer_decline,
    route_offers_expire,
)
from lastmile.dispatch.tasks import expire_offers_task
from tests.dispatch.test_publishing import driver, ready_plan
from workforce.models import CourierKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(small_day, tomorrow):
    """A published plan whose routes have no employee driver; two crowd couriers available."""
    hub, _, _ = small_day
    first = driver(hub, tomorrow, kind=CourierKind.CROWD)
    second = driver(hub, tomorrow, kind=CourierKind.CROWD)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    return plan, first, second


def test_publishing_offers_each_route_without_a_driver_to_one_crowd_courier(published):
    plan, first, second = published
    routes = Route.objects.filter(plan=plan).exclude(stops=None).distinct()

    offers = RouteOffer.objects.filter(route__plan=plan, status=OfferStatus.OPEN)

    # two couriers, so at most two routes are on offer, each to a different courier
    assert offers.count() == min(2, routes.count())
    assert len({o.courier_id for o in offers}) == offers.count()
    assert {o.courier_id for o in offers} <= {first.pk, second.pk}


def test_accepting_dispatches_the_route_to_the_courier_and_a_retry_changes_nothing(published):
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first, status=OfferStatus.OPEN)

    route_offer_accept(offer_id=offer.pk, courier=first)
    route_offer_accept(offer_id=offer.pk, courier=first)

    route = Route.objects.get(pk=offer.route_id)
    assert (route.status, route.courier_id) == (RouteStatus.DISPATCHED, first.pk)
    assert PlanEvent.objects.filter(plan=plan, kind=PlanEvent.Kind.ROUTE_DISPATCHED).count() == 1


def test_another_courier_cannot_answer_an_offer_that_is_not_theirs(published):
    plan, first, second = published
    offer = RouteOffer.objects.filter(route__plan=plan, courier=first).get()

    with pytest.raises(NotFound):
        route_offer_accept(offer_id=offer.pk, courier=second)
    with pytest.raises(NotFound):
        route_offer_decline(offer_id=offer.pk, courier=second)


def test_declining_passes_the_route_to_the_next_courier_who_was_not_asked(small_day, tomorrow):
    # given: one route's worth of couriers: the first declines, a third is free
    hub, _, _ = small_day
    couriers = [driver(hub, tomorrow, kind=CourierKind.CROWD) for _ in range(4)]
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    offer = RouteOffer.objects.filter(route__plan=plan, status=OfferStatus.OPEN).first()
    asker = next(c for c in couriers if c.pk == offer.courier_id)
    # when
    route_offer_decline(offer_id=offer.pk, courier=asker)
    # then
    nxt = RouteOffer.objects.get(route=offer.route, status=OfferStatus.OPEN)
    assert nxt.courier_id != asker.pk
    assert RouteOffer.objects.get(pk=offer.pk).status == OfferStatus.DECLINED


def test_an_expired_offer_cannot_be_accepted_and_the_sweep_moves_it_on(published, eager_tasks):
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    RouteOffer.objects.filter(pk=offer.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )

    with pytest.raises(Conflict, match="expired"):
        route_offer_accept(offer_id=offer.pk, courier=first)
    swept = expire_offers_task.delay().get()

    assert swept == 1
    assert RouteOffer.objects.get(pk=offer.pk).status == OfferStatus.EXPIRED
    assert route_offers_expire() == 0  # nothing left to expire: running it again does nothing


def test_when_nobody_is_left_the_dispatcher_is_told(small_day, tomorrow):
    hub, _, _ = small_day
    only = driver(hub, tomorrow, kind=CourierKind.CROWD)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    offer = RouteOffer.objects.get(route__plan=plan, courier=only)

    route_offer_decline(offer_id=offer.pk, courier=only)

    assert PlanEvent.objects.filter(plan=plan, kind=PlanEvent.Kind.NO_COURIER).exists()
    assert not RouteOffer.objects.filter(route=offer.route, status=OfferStatus.OPEN).exists()


def test_the_courier_sees_and_accepts_an_offer_in_the_portal(client, published):
    # given
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    client.force_login(first.user)
    # when
    page = client.get(reverse("dispatch_portal:offers"))
    done = client.post(reverse("dispatch_portal:offer_accept", args=[offer.pk]), follow=True)
    # then
    assert page.status_code == 200
    assert reverse("dispatch_portal:offer_accept", args=[offer.pk]).encode() in page.content
    assert b"The route is yours" in done.content
    assert Route.objects.get(pk=offer.route_id).courier_id == first.pk


def test_the_portal_hides_other_couriers_offers_and_anonymous_visitors_sign_in(client, published):
    plan, first, second = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    url = reverse("dispatch_portal:offer_accept", args=[offer.pk])

    anonymous = client.post(url)
    client.force_login(second.user)
    other = client.post(url)

    assert anonymous.status_code == 302
    assert "/courier/login/" in anonymous["Location"]
    assert other.status_code == 404
    assert Route.objects.get(pk=offer.route_id).courier_id is None


def test_the_offers_page_links_the_courier_to_the_routes_they_took(client, published):
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    route_offer_accept(offer_id=offer.pk, courier=first)
    client.force_login(first.user)

    page = client.get(reverse("dispatch_portal:offers"))

    assert reverse("dispatch_portal:route", args=[offer.route_id]).encode() in page.content
