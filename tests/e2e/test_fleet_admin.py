"""A hub manager sees the fleet's last positions on the vehicle list's map."""

import pytest

from lastmile.accounts.roles import Role
from tests.e2e.conftest import admin_login
from tests.factories import StaffFactory
from tests.fleet.factories import VehicleFactory, VehicleStateFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_hub_manager_sees_one_marker_per_vehicle_with_a_position(page, live_server):
    # given: five vehicles with a position, one without
    StaffFactory(username="hanno", password="s3cret-pass", role=Role.HUB_MANAGER)
    for n in range(5):
        VehicleStateFactory(vehicle=VehicleFactory(code=f"TH-EV0{n}"))
    VehicleFactory(code="TH-EV09")
    admin_login(page, live_server, username="hanno", password="s3cret-pass")

    # when
    page.goto(f"{live_server.url}/admin/fleet/vehicle/")
    page.locator(".lm-fleet-map.leaflet-container").wait_for()

    # then: five circles drawn, and a click opens the vehicle's popup with its state of charge
    markers = page.locator("path.lm-vehicle-marker")
    assert markers.count() == 5
    assert page.locator(".lm-fleet-map").get_attribute("data-marker-count") == "5"
    markers.first.click(force=True)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "State of charge" in popup.inner_text()
