"""The fleet API through DRF's test client: device auth, ingest, vehicles, sessions, plans."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from fleet import services
from fleet.models import ChargingPlan, ChargingSession, TelematicsPing, VehicleState
from lastmile.accounts.roles import Role
from tests.api_schema import assert_code_documented
from tests.factories import StaffFactory
from tests.fleet.factories import (
    ChargerFactory,
    ChargingSiteFactory,
    VehicleStateFactory,
    VehicleTypeFactory,
)
from tests.hubs.factories import HubFactory

pytestmark = pytest.mark.django_db

PINGS_URL = "/api/v1/fleet/telematics/pings/"
VEHICLES_URL = "/api/v1/fleet/vehicles/"
SESSIONS_URL = "/api/v1/fleet/charging-sessions/"
PLANS_URL = "/api/v1/fleet/charging-plans/"


def _vehicle(code: str, hub=None):
    return services.vehicle_create(
        code=code, vehicle_type=VehicleTypeFactory(), home_hub=hub or HubFactory(), source="test"
    )


@pytest.fixture
def van_with_token():
    vehicle = _vehicle("TH-EV01")
    device, token = services.device_create(vehicle=vehicle, name="unit", source="test")
    return vehicle, device, token


def device_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {token}")
    return client


def staff_client(role: str | None) -> APIClient:
    client = APIClient()
    client.force_authenticate(StaffFactory(role=role))
    return client


def fix(minutes_ago: float, **overrides) -> dict:
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return {
        "recorded_at": at.isoformat(),
        "latitude": 52.4997,
        "longitude": 13.4288,
        "speed_kmh": 21.3,
        "heading_deg": 271.4,
        "soc_pct": 63.5,
        "odometer_m": 12_345_678,
        **overrides,
    }


# --- Device authentication ------------------------------------------------------------------


def test_without_a_token_the_device_is_asked_to_authenticate():
    response = APIClient().post(PINGS_URL, {"pings": [fix(1)]}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Device realm="telematics"'
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "token",
    ["lmd_000000000000_nope", "garbage", "lmd_short_x"],
)
def test_an_unknown_or_malformed_token_is_refused(van_with_token, token):
    response = device_client(token).post(PINGS_URL, {"pings": [fix(1)]}, format="json")

    assert response.status_code == 401
    assert TelematicsPing.objects.count() == 0


def test_a_right_prefix_with_a_wrong_secret_is_refused(van_with_token):
    _, _, token = van_with_token
    forged = token[: token.rindex("_") + 1] + "x" * 43

    response = device_client(forged).post(PINGS_URL, {"pings": [fix(1)]}, format="json")

    assert response.status_code == 401


def test_a_revoked_device_can_no_longer_post(van_with_token):
    _, device, token = van_with_token
    services.device_revoke(device=device, source="test")

    response = device_client(token).post(PINGS_URL, {"pings": [fix(1)]}, format="json")

    assert response.status_code == 401


def test_a_staff_session_cannot_post_pings():
    response = staff_client(Role.HUB_MANAGER).post(PINGS_URL, {"pings": [fix(1)]}, format="json")

    assert response.status_code in (401, 403)
    assert TelematicsPing.objects.count() == 0


def test_a_device_token_does_not_open_staff_endpoints(van_with_token):
    _, _, token = van_with_token

    response = device_client(token).get(VEHICLES_URL)

    assert response.status_code in (401, 403)


# --- Ingest ---------------------------------------------------------------------------------


def test_a_batch_is_stored_and_the_same_batch_again_is_all_duplicates(van_with_token):
    vehicle, _, token = van_with_token
    client = device_client(token)
    batch = {"pings": [fix(3), fix(1), fix(2)]}

    first = client.post(PINGS_URL, batch, format="json")
    again = client.post(PINGS_URL, batch, format="json")

    assert first.status_code == 200, first.json()
    assert first.json() | {"newest_recorded_at": None} == {
        "vehicle": "TH-EV01",
        "received": 3,
        "stored": 3,
        "duplicates": 0,
        "newest_recorded_at": None,
    }
    assert again.json()["stored"] == 0
    assert again.json()["duplicates"] == 3
    assert TelematicsPing.objects.filter(vehicle=vehicle).count() == 3
    state = VehicleState.objects.get(vehicle=vehicle)
    assert float(state.soc_pct) == 63.5
    assert state.heading_deg == 271


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"latitude": 123.4}, "latitude"),
        ({"soc_pct": 101}, "soc_pct"),
        ({"recorded_at": (timezone.now() + dt.timedelta(days=1)).isoformat()}, "recorded_at"),
        ({"recorded_at": "2026-05-04T08:00:00"}, "recorded_at"),  # no offset
        ({"latitude": "north"}, "latitude"),
        ({"odometer_m": -5}, "odometer_m"),
    ],
)
def test_a_bad_ping_is_a_400_naming_the_ping_and_field_and_nothing_is_stored(
    van_with_token, bad, field
):
    # given: a batch whose third ping is bad
    vehicle, _, token = van_with_token

    # when
    response = device_client(token).post(
        PINGS_URL, {"pings": [fix(3), fix(2), fix(1, **bad)]}, format="json"
    )

    # then
    body = response.json()
    assert response.status_code == 400, body
    assert response["Content-Type"].startswith("application/problem+json")
    assert body["code"] == "invalid"
    assert list(body["errors"]["pings"]) == ["2"]
    assert field in body["errors"]["pings"]["2"]
    assert TelematicsPing.objects.count() == 0
    assert VehicleState.objects.get(vehicle=vehicle).recorded_at is None


def test_a_body_that_is_not_a_batch_is_a_400(van_with_token):
    _, _, token = van_with_token
    client = device_client(token)

    empty = client.post(PINGS_URL, {"pings": []}, format="json")
    not_json = client.post(PINGS_URL, "not json", content_type="application/json")
    too_many = client.post(PINGS_URL, {"pings": [fix(1)] * 1001}, format="json")

    assert empty.status_code == 400
    assert "pings" in empty.json()["errors"]
    assert not_json.status_code == 400
    assert too_many.status_code == 400


def test_a_device_cannot_post_for_another_vehicle(van_with_token):
    # given: two vans, each with its own device
    van_a, _, token_a = van_with_token
    van_b = _vehicle("TH-EV02")
    services.device_create(vehicle=van_b, name="unit b", source="test")
    client = device_client(token_a)

    # when: A's token names B in the body, at the top and in a ping
    top = client.post(PINGS_URL, {"vehicle": "TH-EV02", "pings": [fix(1)]}, format="json")
    inside = client.post(PINGS_URL, {"pings": [fix(1, vehicle_id=van_b.pk)]}, format="json")
    plain = client.post(PINGS_URL, {"pings": [fix(1)]}, format="json")

    # then: naming a vehicle is refused; a plain batch lands on A, never on B
    assert top.status_code == 400
    assert "token decides the vehicle" in top.json()["errors"]["vehicle"][0]
    assert inside.status_code == 400
    assert "vehicle_id" in inside.json()["errors"]["pings"]["0"]
    assert plain.status_code == 200
    assert plain.json()["vehicle"] == "TH-EV01"
    assert TelematicsPing.objects.filter(vehicle=van_b).count() == 0
    assert TelematicsPing.objects.filter(vehicle=van_a).count() == 1
    assert VehicleState.objects.get(vehicle=van_b).recorded_at is None


# --- Vehicles -------------------------------------------------------------------------------


def test_vehicle_list_costs_the_same_queries_for_any_page(django_assert_num_queries):
    # given: 40 vehicles at two hubs, most with a live state
    hubs = [HubFactory(code="BER-TH"), HubFactory(code="BER-KX")]
    vehicles = [_vehicle(f"V-{n:03d}", hubs[n % 2]) for n in range(40)]
    for vehicle in vehicles[:30]:
        VehicleState.objects.filter(vehicle=vehicle).delete()
        VehicleStateFactory(vehicle=vehicle)
    client = staff_client(Role.DISPATCHER)

    # then: the user's permissions (2), the page with type, hub and state joined
    with django_assert_num_queries(3):
        response = client.get(VEHICLES_URL)

    body = response.json()
    assert response.status_code == 200
    assert len(body["results"]) == 40
    first = body["results"][0]
    assert first["code"] == "V-000"
    assert first["kind"] == "e_van"
    assert first["state"]["soc_pct"] is not None
    assert body["results"][35]["state"]["recorded_at"] is None


def test_vehicle_list_filters_by_hub_status_and_kind():
    hub = HubFactory(code="BER-TH")
    _vehicle("A-1", hub)
    services.vehicle_send_to_maintenance(vehicle=_vehicle("A-2", hub), reason="tyres", source="t")
    _vehicle("B-1")
    client = staff_client(Role.HUB_MANAGER)

    by_hub = client.get(VEHICLES_URL, {"hub": "BER-TH"}).json()["results"]
    in_shop = client.get(VEHICLES_URL, {"status": "maintenance"}).json()["results"]
    bikes = client.get(VEHICLES_URL, {"kind": "e_cargo_bike"}).json()["results"]
    bad = client.get(VEHICLES_URL, {"status": "flying"})

    assert [v["code"] for v in by_hub] == ["A-1", "A-2"]
    assert [v["code"] for v in in_shop] == ["A-2"]
    assert bikes == []
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]


def test_staff_without_a_fleet_role_cannot_list_vehicles():
    assert staff_client(Role.WORKFORCE_MANAGER).get(VEHICLES_URL).status_code == 403
    assert APIClient().get(VEHICLES_URL).status_code == 403


# --- Charging sessions ----------------------------------------------------------------------


@pytest.fixture
def depot():
    hub = HubFactory(code="BER-TH")
    site = ChargingSiteFactory(hub=hub, tariff__prices=[20_000] * 6 + [30_000] * 18)
    charger = ChargerFactory(site=site, code="AC-01")
    vehicle = _vehicle("TH-EV01", hub)
    return hub, site, charger, vehicle


def session_body(**overrides) -> dict:
    start = timezone.now().replace(microsecond=0) - dt.timedelta(hours=5)
    return {
        "vehicle": "TH-EV01",
        "hub": "BER-TH",
        "charger": "AC-01",
        "started_at": start.isoformat(),
        "ended_at": (start + dt.timedelta(hours=2)).isoformat(),
        "energy_wh": 20_000,
        "start_soc_pct": "21.0",
        "end_soc_pct": "50.5",
        **overrides,
    }


def test_a_session_is_recorded_priced_and_a_repeat_is_the_same_session(depot):
    client = staff_client(Role.HUB_MANAGER)

    created = client.post(SESSIONS_URL, session_body(), format="json")
    repeated = client.post(SESSIONS_URL, session_body(), format="json")

    assert created.status_code == 201, created.json()
    assert repeated.status_code == 200
    assert repeated.json()["id"] == created.json()["id"]
    assert created.json()["cost_minor"] > 0
    assert ChargingSession.objects.count() == 1


def test_an_overlapping_session_is_a_409_and_an_implausible_one_a_400(depot):
    client = staff_client(Role.HUB_MANAGER)
    client.post(SESSIONS_URL, session_body(), format="json")
    first_start = dt.datetime.fromisoformat(session_body()["started_at"])

    overlap = client.post(
        SESSIONS_URL,
        session_body(
            started_at=(first_start + dt.timedelta(hours=1)).isoformat(),
            ended_at=(first_start + dt.timedelta(hours=3)).isoformat(),
        ),
        format="json",
    )
    too_much = client.post(
        SESSIONS_URL,
        session_body(
            started_at=(first_start - dt.timedelta(hours=3)).isoformat(),
            ended_at=(first_start - dt.timedelta(hours=2)).isoformat(),
            energy_wh=50_000,
        ),
        format="json",
    )
    unknown = client.post(SESSIONS_URL, session_body(vehicle="NOPE"), format="json")

    assert overlap.status_code == 409
    assert overlap.json()["code"] == "session_overlap"
    assert_code_documented(overlap)
    assert too_much.status_code == 400
    assert_code_documented(too_much)
    assert "energy_wh" in too_much.json()["errors"]
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {"vehicle": ["No vehicle with this code."]}


def test_dispatchers_cannot_record_sessions(depot):
    response = staff_client(Role.DISPATCHER).post(SESSIONS_URL, session_body(), format="json")

    assert response.status_code == 403


# --- Charging plans -------------------------------------------------------------------------


def test_a_plan_is_requested_solved_in_the_background_and_read_back(
    depot, eager_tasks, django_capture_on_commit_callbacks
):
    # given: the depot's van at 20 %, and a dispatcher-known route need of 30 kWh
    site = depot[1]
    client = staff_client(Role.HUB_MANAGER)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        requested = client.post(
            PLANS_URL,
            {
                "hub": "BER-TH",
                "vehicles": [{"vehicle": "TH-EV01", "energy_need_wh": 30_000, "soc_pct": 20}],
            },
            format="json",
        )
    detail = client.get(requested["Location"])

    # then: accepted at once, solved by the task; the target is the need plus the reserve
    assert requested.status_code == 202, requested.json()
    assert requested.json()["status"] == "pending"
    body = detail.json()
    assert body["status"] == "ready"
    row = body["vehicles"][0]
    usable = 75_000 * 92 // 100
    assert row["target_energy_wh"] == 30_000 + usable * 10 // 100
    assert row["need_wh"] == row["target_energy_wh"] - int(usable * 0.2)
    assert row["planned_wh"] >= row["need_wh"]
    assert row["charger"] == "AC-01"
    assert row["slots"]
    assert all(s["power_w"] <= 11_000 for s in row["slots"])
    assert ChargingPlan.objects.get().peak_w <= site.power_cap_w


def test_a_plan_request_with_bad_input_is_a_400(depot):
    client = staff_client(Role.HUB_MANAGER)

    unknown_hub = client.post(PLANS_URL, {"hub": "XX-00"}, format="json")
    unknown_vehicle = client.post(
        PLANS_URL, {"hub": "BER-TH", "vehicles": [{"vehicle": "ZZ-1"}]}, format="json"
    )
    bad_soc = client.post(
        PLANS_URL,
        {"hub": "BER-TH", "vehicles": [{"vehicle": "TH-EV01", "soc_pct": 140}]},
        format="json",
    )

    assert unknown_hub.status_code == 400
    assert unknown_hub.json()["errors"] == {"hub": ["No hub with this code."]}
    assert unknown_vehicle.status_code == 400
    assert bad_soc.status_code == 400
    assert "soc_pct" in bad_soc.json()["errors"]["vehicles"]["0"]
    assert ChargingPlan.objects.count() == 0


def test_a_plan_request_for_a_hub_without_charging_site_is_a_documented_400():
    # given: a hub nobody has set up charging for
    hub = HubFactory()
    client = staff_client(Role.HUB_MANAGER)

    # when
    answer = client.post(PLANS_URL, {"hub": hub.code}, format="json")

    # then: the code the client branches on is the one the schema lists for this 400
    assert answer.status_code == 400
    assert answer.json()["code"] == "no_charging_site"
    assert_code_documented(answer)
    assert ChargingPlan.objects.count() == 0


def test_dispatchers_read_plans_but_do_not_request_them(depot):
    plan = services.charging_plan_request(hub=depot[0], source="test", enqueue=False)
    client = staff_client(Role.DISPATCHER)

    assert client.post(PLANS_URL, {"hub": "BER-TH"}, format="json").status_code == 403
    assert client.get(f"{PLANS_URL}{plan.pk}/").status_code == 200
    assert client.get(f"{PLANS_URL}{plan.pk + 1}/").status_code == 404


def test_the_schema_describes_the_fleet_endpoints_and_the_device_token():
    schema = staff_client(Role.HUB_MANAGER).get("/api/v1/schema/").content.decode()

    for path in (PINGS_URL, VEHICLES_URL, SESSIONS_URL, PLANS_URL):
        assert path in schema
    assert "deviceToken" in schema


# --- Malformed input is a 400, never a 500 ----------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"recorded_at": "2026-02-30T10:00:00Z"}, "recorded_at"),  # well-formed, no such day
        ({"odometer_m": 10**20}, "odometer_m"),  # beyond the database's bigint
        ({"latitude": True}, "latitude"),  # a boolean is not a coordinate
        ({"soc_pct": False}, "soc_pct"),
    ],
)
def test_an_impossible_ping_value_is_a_400_not_a_server_error(van_with_token, bad, field):
    _, _, token = van_with_token

    response = device_client(token).post(PINGS_URL, {"pings": [fix(1, **bad)]}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]["pings"]["0"]
    assert TelematicsPing.objects.count() == 0


def test_an_oversized_batch_is_refused_before_any_ping_is_parsed(van_with_token, monkeypatch):
    # given: a batch far over the limit, and a ping serializer that counts its calls
    from fleet.api.views import PingSerializer

    _, _, token = van_with_token
    calls = []
    original = PingSerializer.to_internal_value
    monkeypatch.setattr(
        PingSerializer,
        "to_internal_value",
        lambda self, data: calls.append(1) or original(self, data),
    )

    # when
    response = device_client(token).post(PINGS_URL, {"pings": [fix(1)] * 5000}, format="json")

    # then: refused on its length alone, without the cost of validating 5,000 pings
    assert response.status_code == 400
    assert "pings" in response.json()["errors"]
    assert calls == []


def test_an_impossible_session_time_is_a_400(depot):
    response = staff_client(Role.HUB_MANAGER).post(
        SESSIONS_URL, session_body(started_at="2026-02-30T10:00:00Z"), format="json"
    )

    assert response.status_code == 400, response.content
    assert "started_at" in response.json()["errors"]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"vehicle": "TH-EV01", "ready_by": "2026-02-30T06:30:00+01:00"}, "ready_by"),
        ({"vehicle": "TH-EV01", "energy_need_wh": 10**15}, "energy_need_wh"),
    ],
)
def test_an_impossible_plan_input_is_a_400(depot, row, field):
    response = staff_client(Role.HUB_MANAGER).post(
        PLANS_URL, {"hub": "BER-TH", "vehicles": [row]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]["vehicles"]["0"]
    assert ChargingPlan.objects.count() == 0


def test_a_vehicle_named_twice_in_a_plan_request_is_a_400(depot):
    response = staff_client(Role.HUB_MANAGER).post(
        PLANS_URL,
        {"hub": "BER-TH", "vehicles": [{"vehicle": "TH-EV01"}, {"vehicle": "TH-EV01"}]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "TH-EV01" in response.json()["errors"]["vehicles"][0]
    assert ChargingPlan.objects.count() == 0
