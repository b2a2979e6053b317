"""The hub screens through the Django test client, as the roles that use them."""

import pytest

from lastmile.accounts.roles import Role
from lastmile.hubs.models import Hub
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory, OpeningHoursFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hub_manager_client(client):
    client.force_login(StaffFactory(role=Role.HUB_MANAGER))
    return client


def test_hub_list_costs_a_fixed_number_of_queries(hub_manager_client, django_assert_num_queries):
    # given: realistic data, dozens of hubs with opening hours
    for hub in HubFactory.create_batch(40):
        OpeningHoursFactory(hub=hub)

    # then: session, user, 2 permission reads, 2 counts, the page, the time zone filter —
    # independent of the number of hubs
    with django_assert_num_queries(8):
        response = hub_manager_client.get("/admin/hubs/hub/")

    assert response.status_code == 200
    assert response.content.count(b"HUB-") >= 40


def test_change_page_shows_the_position_on_a_map(hub_manager_client):
    hub = HubFactory(latitude="52.499700", longitude="13.428800")

    response = hub_manager_client.get(f"/admin/hubs/hub/{hub.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="lm-map-picker"' in html
    assert 'data-lng-input="id_longitude"' in html
    assert "leaflet/leaflet.js" in html


def _form(**overrides):
    data = {
        "name": "Kreuzberg micro-hub",
        "code": "BER-KX",
        "kind": "micro_fulfillment",
        "address": "Skalitzer Straße 80, 10997 Berlin",
        "latitude": "52.4997",
        "longitude": "13.4288",
        "time_zone": "Europe/Berlin",
        "is_active": "on",
        "opening_hours-TOTAL_FORMS": "2",
        "opening_hours-INITIAL_FORMS": "0",
        "opening_hours-0-weekday": "0",
        "opening_hours-0-opens_at": "07:00",
        "opening_hours-0-closes_at": "12:00",
        "opening_hours-1-weekday": "0",
        "opening_hours-1-opens_at": "13:00",
        "opening_hours-1-closes_at": "20:00",
    }
    data.update(overrides)
    return data


def test_hub_manager_adds_a_hub_with_split_opening_hours(hub_manager_client):
    response = hub_manager_client.post("/admin/hubs/hub/add/", _form())

    assert response.status_code == 302
    hub = Hub.objects.get(code="BER-KX")
    assert hub.opening_hours.count() == 2


def test_out_of_range_latitude_shows_a_form_error_and_writes_nothing(hub_manager_client):
    response = hub_manager_client.post("/admin/hubs/hub/add/", _form(latitude="95"))

    assert response.status_code == 200
    assert "latitude" in response.context["adminform"].form.errors
    assert not Hub.objects.exists()


def test_overlapping_opening_hours_show_an_error(hub_manager_client):
    response = hub_manager_client.post(
        "/admin/hubs/hub/add/", _form(**{"opening_hours-1-opens_at": "11:00"})
    )

    assert response.status_code == 200
    assert "overlaps" in response.content.decode()
    assert not Hub.objects.exists()
