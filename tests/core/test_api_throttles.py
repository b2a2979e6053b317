"""API rate limits per credential: the N+1th request in the window is a problem+json 429."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from fleet import services
from tests.fleet.factories import VehicleTypeFactory
from tests.hubs.factories import HubFactory
from tests.workforce.factories import active_courier

pytestmark = pytest.mark.django_db

ROUTES_URL = "/api/v1/driver/routes/"
PINGS_URL = "/api/v1/fleet/telematics/pings/"


@pytest.fixture(autouse=True)
def _low_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"driver": "3/minute", "telematics": "2/minute"},
    }


def _courier_client(n: int) -> APIClient:
    # Only an active, approved courier passes the driver API's permission to reach the throttle.
    client = APIClient()
    client.force_authenticate(active_courier(n=n).user)
    return client


def _device_client(code: str) -> APIClient:
    vehicle = services.vehicle_create(
        code=code, vehicle_type=VehicleTypeFactory(), home_hub=HubFactory(), source="test"
    )
    _, token = services.device_create(vehicle=vehicle, name="unit", source="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {token}")
    return client


def _ping(seconds_ago: int) -> dict:
    at = timezone.now() - dt.timedelta(seconds=seconds_ago)
    return {"pings": [{"recorded_at": at.isoformat(), "latitude": 52.5, "longitude": 13.4}]}


def _assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert 0 < int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["status"] == 429
    assert body["code"] == "throttled"
    assert body["type"].endswith("/throttled")


def test_a_courier_past_the_driver_rate_gets_429_and_another_courier_does_not():
    # given: a courier who used the window's three requests
    courier, colleague = _courier_client(1), _courier_client(2)
    for _ in range(3):
        assert courier.get(ROUTES_URL).status_code == 200

    # when
    fourth = courier.get(ROUTES_URL)
    other = colleague.get(ROUTES_URL)

    # then
    _assert_throttled(fourth)
    assert other.status_code == 200


def test_every_driver_endpoint_counts_against_the_same_courier_budget():
    courier = _courier_client(1)
    for path in (ROUTES_URL, "/api/v1/driver/routes/999999/", "/api/v1/driver/stops/999999/fail/"):
        courier.generic("GET" if "fail" not in path else "POST", path)

    _assert_throttled(courier.post("/api/v1/driver/stops/999999/arrive/", {}, format="json"))


def test_a_device_past_the_telematics_rate_gets_429_and_another_device_does_not():
    device, other_device = _device_client("TH-EV01"), _device_client("TH-EV02")
    for n in range(2):
        assert device.post(PINGS_URL, _ping(60 - n), format="json").status_code == 200

    third = device.post(PINGS_URL, _ping(30), format="json")
    other = other_device.post(PINGS_URL, _ping(30), format="json")

    _assert_throttled(third)
    assert other.status_code == 200


def test_the_rate_follows_the_settings(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"driver": "1/minute", "telematics": "1/minute"},
    }
    courier = _courier_client(1)

    assert courier.get(ROUTES_URL).status_code == 200
    _assert_throttled(courier.get(ROUTES_URL))
