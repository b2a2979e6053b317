"""A dispatcher plans tomorrow on the dispatch board, watches it finish, and moves a stop."""

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fleet.models import Vehicle, VehicleState
from lastmile import celery_app
from lastmile.accounts.roles import Role
from lastmile.dispatch.models import Plan, PlanStatus, Route, Stop, UnassignedOrder
from tests.dispatch.factories import multi_route_day, stored_plan
from tests.e2e.conftest import admin_login
from tests.factories import StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def planning_in_process(settings):
    # A short solve, run inside the request (no broker in this test): the answer to "Plan"
    # is then the finished run, and the page must still show it reaching 100 %.
    settings.DISPATCH_TIME_LIMIT_S = 1
    settings.DISPATCH_OSRM_URL = ""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def test_dispatcher_plans_sees_the_routes_and_moves_a_stop(page, live_server, planning_in_process):
    # given: three small vans and 30 orders tomorrow, so the plan needs several routes
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    day = multi_route_day(day=tomorrow, vans=3, orders=30, van_parcels=14, code="BER-BOARD")
    StaffFactory(username="dora", password="s3cret-pass", role=Role.DISPATCHER)
    admin_login(page, live_server, username="dora", password="s3cret-pass")

    # when: she opens the board and presses Plan
    page.goto(f"{live_server.url}/dispatch/board/?hub={day.hub.code}&date={tomorrow:%Y-%m-%d}")
    board = page.locator("#board-map")
    page.wait_for_selector("#board-map[data-drawn]", state="attached")
    assert board.get_attribute("data-route-count") == "0"
    page.click("#btn-plan")

    # then: the bar reaches 100 % and one line per route is drawn
    # (locator waits, not wait_for_function: Playwright evaluates a string predicate with
    # eval, which the page's Content-Security-Policy refuses)
    page.wait_for_selector("#board-progress[value='100']", state="attached")
    assert "100 %" in page.inner_text("#board-progress-label")
    plan = Plan.objects.get(hub=day.hub, service_date=tomorrow)
    assert plan.status == PlanStatus.READY
    routes = list(Route.objects.filter(plan=plan).order_by("colour_index"))
    assert len(routes) >= 2
    page.wait_for_selector(f"#board-map[data-route-count='{len(routes)}']", state="attached")
    assert page.locator(".lm-route").count() == len(routes)
    assert board.get_attribute("data-stop-count") == str(plan.routed_count)
    assert page.locator("#btn-publish").is_visible()

    # when: she picks a stop of the longest route in the sidebar and moves it to another
    source = max(routes, key=lambda r: (r.load_parcels, -r.pk))
    target = min(routes, key=lambda r: (r.load_parcels, r.pk))
    target_totals = page.locator(f".lm-route[data-route-id='{target.pk}'] .lm-route-totals")
    before = target_totals.inner_text()
    page.click(f".lm-route[data-route-id='{source.pk}'] summary")
    page.locator(f".lm-route[data-route-id='{source.pk}'] .lm-stop-row").first.click()
    assert "Stop #1" in page.inner_text("#move-selected")
    page.select_option("#move-target", str(target.pk))
    page.click("#btn-move")

    # then: the target's totals in the sidebar change, and the message says so
    expect(target_totals).not_to_have_text(before)
    assert "moved to" in page.inner_text("#board-message")
    target.refresh_from_db()
    assert f"{target.distance_m / 1000:.1f} km" in target_totals.inner_text()
    if os.environ.get("BOARD_SCREENSHOT"):
        page.screenshot(path=os.environ["BOARD_SCREENSHOT"], full_page=True)


def test_an_error_from_the_server_is_shown_not_swallowed(page, live_server, planning_in_process):
    # given: a day in the past, which planning refuses
    day = multi_route_day(day=timezone.localdate(), vans=1, orders=2, code="BER-PAST")
    StaffFactory(username="dora", password="s3cret-pass", role=Role.DISPATCHER)
    admin_login(page, live_server, username="dora", password="s3cret-pass")
    yesterday = timezone.localdate() - dt.timedelta(days=1)

    # when
    page.goto(f"{live_server.url}/dispatch/board/?hub={day.hub.code}&date={yesterday:%Y-%m-%d}")
    page.wait_for_selector("#board-map[data-drawn]", state="attached")
    page.click("#btn-plan")

    # then
    message = page.locator("#board-message")
    message.wait_for()
    assert "has passed" in message.inner_text()
    assert not Plan.objects.exists()


def test_dispatcher_replans_a_published_day_and_reads_what_changed(
    page, live_server, planning_in_process, settings
):
    # given: tomorrow is planned and published; then one more order comes in
    settings.DISPATCH_REPLAN_TIME_LIMIT_S = 1
    from lastmile.dispatch.services import plan_publish, plan_request, plan_run
    from tests.dispatch.factories import at
    from tests.orders.factories import OrderFactory

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    day = multi_route_day(day=tomorrow, vans=2, orders=10, van_parcels=8, code="BER-REPLAN")
    requested = plan_request(hub=day.hub, service_date=tomorrow, actor=None, enqueue=False)
    plan = plan_run(plan_id=requested.pk)
    plan = plan_publish(plan=plan, actor=None)
    routed = plan.routed_count
    extra = OrderFactory(
        hub=day.hub, window_start=at(day.hub, tomorrow, 12), window_end=at(day.hub, tomorrow, 16)
    )
    StaffFactory(username="dora", password="s3cret-pass", role=Role.DISPATCHER)
    admin_login(page, live_server, username="dora", password="s3cret-pass")
    page.goto(f"{live_server.url}/dispatch/board/?hub={day.hub.code}&date={tomorrow:%Y-%m-%d}")
    page.wait_for_selector(f"#board-map[data-stop-count='{routed}']", state="attached")
    assert not page.locator("#btn-publish").is_visible()

    # when: she presses "Re-plan now"
    page.click("#btn-replan")

    # then: the new order is drawn and the re-plan lists it as added
    page.wait_for_selector(f"#board-map[data-stop-count='{routed + 1}']", state="attached")
    entry = page.locator("#board-replan-list li").first
    assert "Requested by a dispatcher" in entry.inner_text()
    assert f"Added (1): {extra.external_reference}" in entry.inner_text()
    assert "Re-planned: 1 added" in page.inner_text("#board-message")


XSS = "<img src=x onerror=window.pwned=1>"


def _screen_point(page, lat: float, lng: float) -> tuple[float, float]:
    # Markers are drawn on one canvas (no DOM node each): ask the map where a position is,
    # once the first draw's animated fit has come to rest (a point read mid-flight misses).
    point = page.evaluate(
        """([lat, lng]) => new Promise((resolve) => {
            const map = window.lmBoard.map;
            let timer = setTimeout(done, 400);
            map.on("movestart zoomstart", () => clearTimeout(timer));
            map.on("moveend zoomend", () => { clearTimeout(timer); timer = setTimeout(done, 400); });
            function done() {
                const p = map.latLngToContainerPoint([lat, lng]);
                const box = window.lmBoard.mapEl.getBoundingClientRect();
                resolve([box.left + p.x, box.top + p.y]);
            }
        })""",
        [lat, lng],
    )
    return point[0], point[1]


def _park_vehicles_away(vans) -> None:
    # The vans' last positions would sit on top of the first stops.
    VehicleState.objects.filter(vehicle__in=vans).update(
        latitude=Decimal("52.530000"), longitude=Decimal("13.470000")
    )


def test_order_text_shows_literally_in_the_stop_tooltip_and_popup(
    page, live_server, planning_in_process
):
    # given: a planned day where a merchant imported an order whose reference and recipient
    # name are markup
    from lastmile.dispatch.services import plan_request, plan_run

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    day = multi_route_day(day=tomorrow, vans=2, orders=6, van_parcels=8, code="BER-XSS")
    hostile = day.orders[0]
    hostile.external_reference = XSS
    hostile.recipient_name = XSS
    hostile.save(update_fields=["external_reference", "recipient_name"])
    requested = plan_request(hub=day.hub, service_date=tomorrow, actor=None, enqueue=False)
    plan_run(plan_id=requested.pk)
    stop = Stop.objects.get(order=hostile)
    _park_vehicles_away(day.vans)
    StaffFactory(username="dora", password="s3cret-pass", role=Role.DISPATCHER)
    admin_login(page, live_server, username="dora", password="s3cret-pass")
    page.goto(f"{live_server.url}/dispatch/board/?hub={day.hub.code}&date={tomorrow:%Y-%m-%d}")
    page.wait_for_selector("#board-map[data-stop-count='6']", state="attached")
    page.locator("#board-map").scroll_into_view_if_needed()

    # when: the dispatcher hovers the stop
    x, y = _screen_point(page, float(stop.latitude), float(stop.longitude))
    page.mouse.move(x, y)

    # then: the tooltip shows the reference as text
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for(state="attached")
    assert XSS in tooltip.inner_text()
    assert tooltip.locator("img").count() == 0

    # when: she clicks it
    page.mouse.click(x, y)

    # then: the popup shows reference and recipient as text, and no markup ran
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert popup.inner_text().count(XSS) == 2
    assert hostile.address in popup.inner_text()
    assert page.locator("#board-map img[src=x]").count() == 0
    page.wait_for_timeout(300)  # an injected image's error handler would have run by now
    assert page.evaluate("typeof window.pwned") == "undefined"


def test_order_text_shows_literally_in_an_unassigned_orders_tooltip_and_popup(page, live_server):
    # given: a ready plan that left out an order whose reference is markup
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    plan = stored_plan(day=tomorrow, routes=1, stops=2, unassigned=1)
    _park_vehicles_away(Vehicle.objects.filter(home_hub=plan.hub))
    left_out = UnassignedOrder.objects.get(plan=plan).order
    left_out.external_reference = XSS
    left_out.save(update_fields=["external_reference"])
    StaffFactory(username="dora", password="s3cret-pass", role=Role.DISPATCHER)
    admin_login(page, live_server, username="dora", password="s3cret-pass")
    page.goto(f"{live_server.url}/dispatch/board/?hub={plan.hub.code}&date={tomorrow:%Y-%m-%d}")
    page.wait_for_selector("#board-map[data-unassigned-count='1']", state="attached")
    page.locator("#board-map").scroll_into_view_if_needed()

    # when: the dispatcher hovers the unassigned order, then clicks it
    x, y = _screen_point(page, float(left_out.latitude), float(left_out.longitude))
    page.mouse.move(x, y)
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    tooltip_text = tooltip.inner_text()
    page.mouse.click(x, y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()

    # then: both show the reference as text, and no markup ran
    assert f"Unassigned {XSS}" in tooltip_text
    assert f"Unassigned: {XSS}" in popup.inner_text()
    assert page.locator("#board-map img[src=x]").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.pwned") == "undefined"
