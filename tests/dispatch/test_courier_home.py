"""An approved courier's home leads with their work: the route and its progress, the routes
offered to them and when they said they can work next; an applicant's with the application."""

import pytest
from django.urls import reverse
from django.utils.formats import date_format

from lastmile.dispatch.models import RouteOffer
from lastmile.dispatch.services import route_start, stop_deliver
from tests.dispatch import test_offers, test_stop_updates
from tests.workforce.factories import CourierFactory, PayRuleFactory
from workforce.models import CourierKind

pytestmark = pytest.mark.django_db

# The days these tests start from: a started route of three stops, and a published plan
# with crowd offers.
route_day = test_stop_updates.route_day
published = test_offers.published
_stops = test_stop_updates._stops

HOME = "/courier/"


def test_the_home_of_a_courier_on_the_road_leads_with_the_route_and_its_progress(client, route_day):
    # given: a started route, one of three stops delivered
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    first, second, _ = _stops(route)
    stop_deliver(stop=first, courier=courier, recipient_name="Anna")
    client.force_login(courier.user)

    # when
    html = client.get(HOME).content.decode()

    # then: the route card comes first, with its progress, next stop and a way in
    today = html.index('id="today"')
    assert today < html.index('id="next-availability"') < html.index('id="application-heading"')
    card = html[today : html.index('id="next-availability"')]
    assert "1 of 3 stops done" in card
    assert '<progress max="3" value="1">' in card
    assert second.order.address in card
    assert f'href="{reverse("dispatch_portal:route", args=[route.pk])}"' in card
    assert "Continue the route" in card
    # and the next availability, then the application only as a status line
    slot = courier.availability.get()
    availability = html[
        html.index('id="next-availability"') : html.index('id="application-heading"')
    ]
    assert f"<strong>{date_format(slot.day, 'l j F')}</strong> · 06:00–21:00" in availability
    assert "Submit application" not in html
    assert 'id="application-status">Approved<' in html


def test_the_home_shows_open_offers_with_their_pay(client, published):
    # given
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    PayRuleFactory(hub=plan.hub, courier_kind=CourierKind.CROWD)
    client.force_login(first.user)

    # when
    html = client.get(HOME).content.decode()

    # then
    card = html[html.index('id="today"') : html.index('id="next-availability"')]
    assert f'id="today-offer-{offer.pk}"' in card
    assert " EUR</strong>" in card
    assert f'href="{reverse("dispatch_portal:offers")}"' in card
    assert "No route for you today or tomorrow yet." in card


def test_an_applicants_home_is_their_application(client):
    applicant = CourierFactory()
    client.force_login(applicant.user)

    html = client.get(HOME).content.decode()

    assert 'id="today"' not in html
    assert 'id="next-availability"' not in html
    assert "Submit application" in html
    assert "Personal details" in html


def test_another_couriers_route_is_neither_on_my_home_nor_open_to_me(client, route_day):
    # given: the route is someone else's; I am an approved courier at the same hub
    route, _, other = route_day
    stop = _stops(route)[0]
    client.force_login(other.user)

    # when
    home = client.get(HOME).content.decode()
    page = client.get(
        reverse("dispatch_portal:route", args=[route.pk]), {"open": f"deliver-{stop.pk}"}
    )

    # then
    assert "No route for you today or tomorrow yet." in home
    assert reverse("dispatch_portal:route", args=[route.pk]) not in home
    assert page.status_code == 404
