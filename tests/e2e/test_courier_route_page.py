"""A courier works a 40-stop route on a phone (390×844): the next stop leads, its buttons are
big, the proof and reason forms open only when tapped, and the page stays short."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from lastmile.dispatch.models import (
    Plan,
    PlanStatus,
    Route,
    RouteStatus,
    Stop,
    StopKind,
    StopStatus,
)
from lastmile.dispatch.services import route_start, stop_deliver
from lastmile.orders.models import OrderStatus
from tests.dispatch.test_publishing import driver
from tests.e2e.conftest import new_context
from tests.fleet.factories import VehicleFactory
from tests.hubs.factories import HubFactory
from tests.orders.factories import OrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STOPS = 40
DONE = 3
# With every stop's forms open this page was 22,869 px long at 390 px wide; a phone tool is
# far shorter.
MAX_PAGE_HEIGHT_PX = 3_500
BUTTONS = ("Arrived", "Delivered", "Failed")


def _at(hub, day, hour, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=hub.zone)


def _started_route(day):
    """A dispatched route of 40 delivery stops, started, its first three delivered."""
    hub = HubFactory(latitude="52.500000", longitude="13.400000")
    courier = driver(hub, day)
    plan = Plan.objects.create(hub=hub, service_date=day, status=PlanStatus.PUBLISHED)
    start = _at(hub, day, 8)
    route = Route.objects.create(
        plan=plan,
        vehicle=VehicleFactory(home_hub=hub),
        courier=courier,
        status=RouteStatus.DISPATCHED,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=7),
        distance_m=42_500,
    )
    for n in range(1, STOPS + 1):
        order = OrderFactory(
            hub=hub,
            status=OrderStatus.PLANNED,
            address=f"Oranienstraße {n}, 10999 Berlin",
            latitude=Decimal("52.500000") + Decimal(n) / 1000,
            longitude=Decimal("13.400000") + Decimal(n % 7) / 1000,
            access_notes=f"<b>Door code {1000 + n}</b>, rear building" if n == DONE + 1 else "",
            window_start=_at(hub, day, 8),
            window_end=_at(hub, day, 18),
        )
        arrival = start + dt.timedelta(minutes=10 * n)
        Stop.objects.create(
            route=route,
            sequence=n,
            kind=StopKind.DELIVERY,
            order=order,
            latitude=order.latitude,
            longitude=order.longitude,
            planned_arrival=arrival,
            planned_start=arrival,
            planned_departure=arrival + dt.timedelta(minutes=3),
            window_start=order.window_start,
            window_end=order.window_end,
            eta=arrival,
        )
    route_start(route=route, courier=courier)
    for stop in Stop.objects.filter(route=route, sequence__lte=DONE).order_by("sequence"):
        stop_deliver(stop=stop, courier=courier, recipient_name="Anna")
    return route, courier


def _sign_in(page, live_server, courier):
    page.goto(f"{live_server.url}/courier/login/")
    page.fill("#id_username", courier.user.username)
    page.fill("#id_password", "s3cret-pass")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/courier/")


def test_a_courier_works_the_next_stop_on_a_phone(chromium, live_server, settings, csp_violations):
    # given: a started 40-stop route, three stops delivered, the courier signed in on a phone
    settings.MAP_TILES_URL = f"{live_server.url}/no-tiles/{{z}}/{{x}}/{{y}}.png"
    route, courier = _started_route(timezone.localdate() + dt.timedelta(days=1))
    phone = new_context(chromium, csp_violations, viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.set_default_timeout(15_000)
    _sign_in(page, live_server, courier)

    # when: they open their route
    page.goto(f"{live_server.url}/courier/offers/route/{route.pk}/")

    # then: the next stop (4) is the first card, open; the delivered ones are folded at the end
    cards = page.locator("#stops-to-do > li")
    assert cards.count() == STOPS - DONE
    first = cards.first
    assert first.locator(".stop-n").inner_text() == str(DONE + 1)
    assert "Oranienstraße 4," in first.locator(".stop-title").inner_text()
    assert first.locator("details").get_attribute("open") is not None
    assert cards.nth(1).locator("details").get_attribute("open") is None
    assert page.locator("#stops-done li").count() == DONE
    assert not page.locator("#stops-done li").first.is_visible()
    # each number once: no list numbering besides the badge
    assert first.evaluate("li => getComputedStyle(li).listStyleType") == "none"

    # and its three buttons are equal and thumb-sized
    boxes = [first.get_by_role("button", name=name).bounding_box() for name in BUTTONS]
    assert all(box["height"] >= 44 for box in boxes), boxes
    assert len({round(box["width"]) for box in boxes}) == 1, boxes
    assert len({round(box["height"]) for box in boxes}) == 1, boxes

    # and the forms wait for their button
    deliver_form, fail_form = first.locator("form.stop-form").all()
    assert not deliver_form.is_visible()
    assert not fail_form.is_visible()

    # and the access notes are there as text, with a link to navigate to the address
    notes = first.locator(".access-notes")
    assert "<b>Door code 1004</b>, rear building" in notes.inner_text()
    assert notes.locator("b").count() == 0
    stop = Stop.objects.get(route=route, sequence=DONE + 1)
    nav = first.get_by_role("link", name="Navigate")
    assert nav.get_attribute("href") == (
        f"https://www.google.com/maps/dir/?api=1&destination={stop.latitude}%2C{stop.longitude}"
    )

    # and a map of the route is drawn from the page's data (the hub and 40 markers)
    page.wait_for_function("document.querySelectorAll('#route-map path').length > 40")

    # and the page is far shorter than when every stop showed both forms
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < MAX_PAGE_HEIGHT_PX, height

    # when: they tap Failed, then Delivered
    first.get_by_role("button", name="Failed").click()
    # then: the reasons appear, and give way to the proof form on Delivered
    assert fail_form.is_visible()
    assert not deliver_form.is_visible()
    first.get_by_role("button", name="Delivered").click()
    assert deliver_form.is_visible()
    assert not fail_form.is_visible()
    assert first.get_by_label("Received by").evaluate("el => el === document.activeElement")

    # when: they record the delivery
    first.get_by_label("Received by").fill("Mr. Jensen")
    first.get_by_role("button", name="Confirm delivery").click()

    # then: stop 5 leads the list and four stops are done
    page.get_by_text("Stop 4 delivered.").wait_for()
    assert page.locator("#stops-to-do > li").first.locator(".stop-n").inner_text() == "5"
    assert page.locator("#stops-done li").count() == DONE + 1
    assert Stop.objects.get(pk=stop.pk).status == StopStatus.COMPLETED
