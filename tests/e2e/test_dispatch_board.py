"""A dispatcher plans tomorrow on the dispatch board, watches it finish, and moves a stop."""

import datetime as dt
import os

import pytest
from django.utils import timezone

from lastmile import celery_app
from lastmile.accounts.roles import Role
from lastmile.dispatch.models import Plan, PlanStatus, Route
from tests.dispatch.factories import multi_route_day
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
    page.wait_for_function("document.getElementById('board-progress').value === 100")
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
    page.wait_for_function(
        "([sel, text]) => { const e = document.querySelector(sel); return e && e.innerText !== text; }",
        arg=[f".lm-route[data-route-id='{target.pk}'] .lm-route-totals", before],
    )
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
