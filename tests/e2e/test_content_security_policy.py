"""The back-office pages work under the Content-Security-Policy, and it stops injected script.

The ``page`` fixture fails a test whose pages reported any CSP violation; these tests walk
the pages no other browser test opens and check each one still does its job.
"""

import datetime as dt

import pytest
from django.utils import timezone

from lastmile.accounts.roles import Role
from tests.dispatch.factories import stored_plan
from tests.e2e.conftest import admin_login
from tests.factories import StaffFactory
from tests.fleet.factories import VehicleFactory, VehicleStateFactory
from tests.hubs.factories import HubFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_admin_maps_board_and_api_docs_work_under_the_policy(page, live_server, page_errors):
    # given: a superuser, a hub, a vehicle with a position and a ready plan
    StaffFactory(username="root", password="s3cret-pass", is_superuser=True)
    hub = HubFactory(code="BER-CSP")
    VehicleStateFactory(vehicle=VehicleFactory(code="TH-EV01"))
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    plan = stored_plan(day=tomorrow, routes=2, stops=4, unassigned=1)

    # when / then: the courier portal's sign-up page renders its form
    page.goto(f"{live_server.url}/courier/signup/")
    page.locator("#id_email").wait_for()

    # the admin index, and a hub's form with its map picker drawing tiles
    admin_login(page, live_server, username="root", password="s3cret-pass")
    page.locator("#content-main").wait_for()
    page.goto(f"{live_server.url}/admin/hubs/hub/{hub.pk}/change/")
    page.locator(".lm-map-picker.leaflet-container img.leaflet-tile").first.wait_for(
        state="attached"
    )

    # the vehicle list with its fleet map
    page.goto(f"{live_server.url}/admin/fleet/vehicle/")
    page.locator(".lm-fleet-map path.lm-vehicle-marker").first.wait_for()

    # the order list and its import page, the payout batches
    for path in ("orders/order/", "orders/order/import/", "workforce/payoutbatch/"):
        response = page.goto(f"{live_server.url}/admin/{path}")
        assert response.status == 200, path
        page.locator("#content").wait_for()

    # the dispatch board drawing a plan
    page.goto(f"{live_server.url}/dispatch/board/?hub={plan.hub.code}&date={tomorrow:%Y-%m-%d}")
    page.wait_for_selector("#board-map[data-stop-count='4']", state="attached")

    # the browsable API
    page.goto(f"{live_server.url}/api/v1/fleet/vehicles/")
    page.locator(".response-info").wait_for()

    # the API docs: Swagger UI starts and lists the operations from the schema
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()

    assert page_errors == []


def test_markup_slipped_into_a_page_cannot_run_script(page, live_server, csp_violations):
    # given: a dispatcher on the board
    StaffFactory(username="dora", password="s3cret-pass", role=Role.DISPATCHER)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    plan = stored_plan(day=tomorrow, routes=1, stops=2, unassigned=0)
    admin_login(page, live_server, username="dora", password="s3cret-pass")
    page.goto(f"{live_server.url}/dispatch/board/?hub={plan.hub.code}&date={tomorrow:%Y-%m-%d}")
    page.wait_for_selector("#board-map[data-drawn]", state="attached")

    # when: markup with an inline handler and an inline script lands in the page as HTML
    page.evaluate(
        """() => {
            document.body.insertAdjacentHTML("beforeend", "<img src=x onerror=window.pwned=1>");
            const script = document.createElement("script");
            script.textContent = "window.pwned = 2";
            document.body.appendChild(script);
        }"""
    )
    page.wait_for_timeout(300)

    # then: neither ran; the browser reported both to the page
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert any("script-src-attr" in v for v in csp_violations), csp_violations
    assert any("script-src-elem" in v for v in csp_violations), csp_violations
    csp_violations.clear()  # expected here; the fixture fails on any left
