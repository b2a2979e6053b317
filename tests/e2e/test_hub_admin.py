"""A hub manager signs in and sets a hub's position by clicking on the map."""

import pytest

from lastmile.accounts.roles import Role
from lastmile.hubs.models import Hub
from tests.e2e.conftest import admin_login
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_wrong_password_shows_an_error(page, live_server):
    StaffFactory(username="dana", role=Role.DISPATCHER)

    admin_login(page, live_server, username="dana", password="wrong")

    assert (
        "Please enter the correct username and password" in page.locator(".errornote").inner_text()
    )


def test_hub_manager_moves_a_hub_by_clicking_the_map(page, live_server):
    # given
    StaffFactory(username="hanno", password="s3cret-pass", role=Role.HUB_MANAGER)
    hub = HubFactory(code="BER-KX", latitude="52.499700", longitude="13.428800")
    admin_login(page, live_server, username="hanno", password="s3cret-pass")
    page.goto(f"{live_server.url}/admin/hubs/hub/{hub.pk}/change/")
    map_box = page.locator(".lm-map-picker.leaflet-container")
    map_box.wait_for()
    assert page.locator(".leaflet-marker-icon").count() == 1

    # when: the manager clicks left of the pin (west) and saves
    box = map_box.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
    new_lng = float(page.input_value("#id_longitude"))
    page.click("input[name=_save]")
    page.locator(".messagelist .success").wait_for()

    # then: the saved position moved west, the latitude barely changed
    hub.refresh_from_db()
    assert new_lng < 13.4288
    assert float(hub.longitude) == pytest.approx(new_lng, abs=1e-6)
    assert float(hub.latitude) == pytest.approx(52.4997, abs=0.001)
    assert Hub.objects.count() == 1
