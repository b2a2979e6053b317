"""The hub manager's fleet screens through the Django test client."""

import datetime as dt
import json
import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from fleet import services
from fleet.models import (
    ChargingPlan,
    ChargingSession,
    Device,
    TelematicsPing,
    Vehicle,
    VehicleState,
    VehicleStatus,
)
from fleet.selectors import device_get_by_token
from lastmile.accounts.roles import Role
from tests.factories import StaffFactory
from tests.fleet.factories import (
    CargoBikeTypeFactory,
    ChargerFactory,
    ChargingSessionFactory,
    ChargingSiteFactory,
    TariffFactory,
    VehicleFactory,
    VehicleStateFactory,
    VehicleTypeFactory,
)
from tests.hubs.factories import HubFactory

pytestmark = pytest.mark.django_db

ADMIN = "/admin/fleet/"


@pytest.fixture
def hub_manager(client):
    client.force_login(StaffFactory(username="hanno", role=Role.HUB_MANAGER))
    return client


def _fleet(count: int) -> list[Vehicle]:
    hubs = [HubFactory(), HubFactory()]
    types = [VehicleTypeFactory(), VehicleTypeFactory()]
    vehicles = []
    for n in range(count):
        vehicle = VehicleFactory(vehicle_type=types[n % 2], home_hub=hubs[n % 2])
        if n % 5:
            VehicleStateFactory(vehicle=vehicle)
        vehicles.append(vehicle)
    return vehicles


# --- Pinned list costs ----------------------------------------------------------------------


@pytest.mark.parametrize("count", [30, 60])
def test_vehicle_list_with_its_map_costs_a_fixed_number_of_queries(
    hub_manager, django_assert_num_queries, count
):
    # given: dozens of vehicles at two hubs, most with a position and state of charge
    vehicles = _fleet(count)

    # then: session, user, 2 permission reads, hub and type filter choices, 2 counts, the
    # page with type, hub and live state joined — the map reads the same rows
    with django_assert_num_queries(9):
        response = hub_manager.get(f"{ADMIN}vehicle/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="action-select"') == count
    markers = json.loads(
        re.search(r'<script id="lm-fleet-markers" type="application/json">(.*?)</script>', html)[1]
    )
    assert len(markers) == sum(1 for n in range(count) if n % 5)
    assert {"code", "lat", "lng", "soc", "url"} <= set(markers[0])
    assert "fleet/js/vehicle_map.js" in html
    assert 'class="lm-soc"' in html
    assert vehicles[1].code in html


@pytest.mark.parametrize("count", [30, 45])
def test_device_list_costs_a_fixed_number_of_queries(hub_manager, django_assert_num_queries, count):
    for vehicle in _fleet(count):
        services.device_create(vehicle=vehicle, name=f"unit {vehicle.code}", source="test")

    # session, user, 2 permission reads, hub filter choices, 2 counts, the page
    with django_assert_num_queries(8):
        response = hub_manager.get(f"{ADMIN}device/")

    assert response.status_code == 200
    assert response.content.decode().count('class="action-select"') == count


@pytest.mark.parametrize("count", [30, 45])
def test_charger_list_costs_a_fixed_number_of_queries(
    hub_manager, django_assert_num_queries, count
):
    sites = [ChargingSiteFactory(), ChargingSiteFactory()]
    for n in range(count):
        ChargerFactory(site=sites[n % 2])

    # session, user, 2 permission reads, hub filter choices, 2 counts, the page
    with django_assert_num_queries(8):
        response = hub_manager.get(f"{ADMIN}charger/")

    assert response.content.decode().count('<td class="field-hub">') == count


@pytest.mark.parametrize("count", [30, 45])
def test_session_list_costs_a_fixed_number_of_queries(
    hub_manager, django_assert_num_queries, count
):
    ChargingSessionFactory.create_batch(count)

    # session, user, 2 permission reads, hub and source filter choices, 2 counts, the page,
    # 2 for the date hierarchy
    with django_assert_num_queries(11):
        response = hub_manager.get(f"{ADMIN}chargingsession/")

    assert response.status_code == 200
    assert response.content.decode().count("<tr") >= count


@pytest.mark.parametrize("count", [30, 40])
def test_ping_list_costs_a_fixed_number_of_queries(hub_manager, django_assert_num_queries, count):
    vehicle = services.vehicle_create(
        code="TH-EV01", vehicle_type=VehicleTypeFactory(), home_hub=HubFactory(), source="test"
    )
    device, _ = services.device_create(vehicle=vehicle, name="unit", source="test")
    now = timezone.now()
    services.pings_ingest(
        device=device,
        pings=[
            services.PingInput(
                recorded_at=now - dt.timedelta(seconds=10 * n), latitude=52.5, longitude=13.4
            )
            for n in range(count)
        ],
    )

    # session, user, 2 permission reads, hub filter choices, one bounded count (no full
    # count of a table of millions), the page
    with django_assert_num_queries(7):
        response = hub_manager.get(f"{ADMIN}telematicsping/")

    assert response.status_code == 200
    assert response.content.decode().count("TH-EV01") >= count


@pytest.mark.parametrize("count", [30, 40])
def test_plan_list_costs_a_fixed_number_of_queries(hub_manager, django_assert_num_queries, count):
    hubs = [HubFactory(), HubFactory()]
    start = timezone.now()
    ChargingPlan.objects.bulk_create(
        ChargingPlan(
            hub=hubs[n % 2],
            horizon_start=start + dt.timedelta(days=n),
            horizon_end=start + dt.timedelta(days=n, hours=12),
            power_cap_w=50_000,
            prices_minor_per_mwh=[30_000] * 48,
            efficiency_pct=90,
            source="test",
            status="ready",
        )
        for n in range(count)
    )

    # session, user, 2 permission reads, hub filter choices, 2 counts, the page, 2 for the
    # date hierarchy
    with django_assert_num_queries(10):
        response = hub_manager.get(f"{ADMIN}chargingplan/")

    assert response.content.decode().count("<tr") >= count


# --- Vehicles -------------------------------------------------------------------------------


def test_adding_a_vehicle_goes_through_the_service(hub_manager):
    vehicle_type, hub = VehicleTypeFactory(), HubFactory()

    response = hub_manager.post(
        f"{ADMIN}vehicle/add/",
        {
            "code": "th-ev09",
            "registration": "B-LM 109E",
            "vehicle_type": vehicle_type.pk,
            "home_hub": hub.pk,
            "skills": ["tail_lift"],
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    vehicle = Vehicle.objects.get()
    assert vehicle.code == "TH-EV09"
    assert vehicle.skills == ["tail_lift"]
    assert VehicleState.objects.filter(vehicle=vehicle).exists()
    assert vehicle.events.get().actor.username == "hanno"


def test_the_vehicle_page_shows_its_last_position_on_a_map(hub_manager):
    state = VehicleStateFactory(vehicle=VehicleFactory(code="TH-EV01"))

    response = hub_manager.get(f"{ADMIN}vehicle/{state.vehicle_id}/change/")

    html = response.content.decode()
    assert 'id="lm-fleet-vehicle-marker"' in html
    assert 'class="lm-fleet-map"' in html
    assert "leaflet/leaflet.js" in html


def test_maintenance_action_asks_for_a_reason_then_moves_each_vehicle(hub_manager):
    active, retired = VehicleFactory(), VehicleFactory(status=VehicleStatus.RETIRED)
    selection = {"action": "send_to_maintenance", ACTION_CHECKBOX_NAME: [active.pk, retired.pk]}

    ask = hub_manager.post(f"{ADMIN}vehicle/", selection)
    done = hub_manager.post(
        f"{ADMIN}vehicle/", {**selection, "apply": "1", "reason": "brakes"}, follow=True
    )

    assert b'name="reason"' in ask.content
    texts = " ".join(str(m) for m in done.context["messages"])
    assert "1 vehicles sent to maintenance" in texts
    assert "cannot move from 'retired'" in texts
    active.refresh_from_db()
    assert active.status == VehicleStatus.MAINTENANCE


def test_dispatchers_see_vehicles_but_do_not_change_them(client):
    vehicle = VehicleFactory()
    client.force_login(StaffFactory(role=Role.DISPATCHER))

    change = client.get(f"{ADMIN}vehicle/{vehicle.pk}/change/")

    assert client.get(f"{ADMIN}vehicle/").status_code == 200
    assert b'name="_save"' not in change.content
    assert client.get(f"{ADMIN}vehicle/add/").status_code == 403
    assert client.get(f"{ADMIN}charger/").status_code == 403


# --- Devices --------------------------------------------------------------------------------


def test_a_new_devices_token_is_shown_once_and_never_stored(hub_manager):
    vehicle = VehicleFactory(code="TH-EV01")

    response = hub_manager.post(f"{ADMIN}device/add/", {"vehicle": vehicle.pk, "name": "FMC650"})

    html = response.content.decode()
    token = re.search(r'<code class="lm-device-token"[^>]*>(lmd_[^<]+)</code>', html)[1]
    device = Device.objects.get()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert device_get_by_token(token=token) == device
    assert token not in device.token_hash
    # the change page never shows it again
    assert token not in hub_manager.get(f"{ADMIN}device/{device.pk}/change/").content.decode()


def test_rotating_tokens_shows_the_new_ones_and_the_old_stop_working(hub_manager):
    device, old = services.device_create(vehicle=VehicleFactory(), name="unit", source="test")

    response = hub_manager.post(
        f"{ADMIN}device/", {"action": "rotate_tokens", ACTION_CHECKBOX_NAME: [device.pk]}
    )

    new = re.search(r"(lmd_[0-9a-f]{12}_[^<]+)</code>", response.content.decode())[1]
    assert device_get_by_token(token=old) is None
    assert device_get_by_token(token=new) == device


# --- Charging -------------------------------------------------------------------------------


def test_the_plan_page_draws_a_timeline_per_charger_and_lists_shortfalls(
    hub_manager, eager_tasks, django_capture_on_commit_callbacks
):
    # given: two vans and a bike at a site with one AC charger and no socket for the bike
    hub = HubFactory(code="BER-TH")
    site = ChargingSiteFactory(hub=hub, power_cap_w=15_000)
    ChargerFactory(site=site, code="AC-01")
    ChargerFactory(site=site, code="AC-02")
    for code in ("TH-EV01", "TH-EV02"):
        services.vehicle_create(
            code=code, vehicle_type=VehicleTypeFactory(), home_hub=hub, source="test"
        )
    services.vehicle_create(
        code="TH-CB01", vehicle_type=CargoBikeTypeFactory(), home_hub=hub, source="test"
    )

    # when: the hub manager plans tonight from the site list
    with django_capture_on_commit_callbacks(execute=True):
        done = hub_manager.post(
            f"{ADMIN}chargingsite/",
            {"action": "plan_charging", ACTION_CHECKBOX_NAME: [site.pk]},
            follow=True,
        )
    plan = ChargingPlan.objects.get()
    page = hub_manager.get(f"{ADMIN}chargingplan/{plan.pk}/change/")

    # then
    html = page.content.decode()
    assert "requested for 3 vehicle(s)" in " ".join(str(m) for m in done.context["messages"])
    assert plan.status == "shortfall"  # the bike has no socket here
    assert html.count('class="lm-charger-lane"') == 2
    assert html.count('class="lm-charge-bar"') > 10
    assert "site cap 15.0 kW" in html
    assert 'class="lm-short"' in html
    assert "No operational charger fits it" in html


def test_recording_a_session_in_the_back_office_shows_refusals_on_the_form(hub_manager):
    site = ChargingSiteFactory(tariff=TariffFactory(prices=[25_000] * 24))
    charger = ChargerFactory(site=site, code="AC-01")
    van = VehicleFactory(home_hub=site.hub)
    start = timezone.localtime(timezone.now() - dt.timedelta(hours=4)).replace(microsecond=0)

    def post(energy_wh: int):
        return hub_manager.post(
            f"{ADMIN}chargingsession/add/",
            {
                "vehicle": van.pk,
                "charger": charger.pk,
                "started_at_0": start.strftime("%Y-%m-%d"),
                "started_at_1": start.strftime("%H:%M:%S"),
                "ended_at_0": start.strftime("%Y-%m-%d"),
                "ended_at_1": (start + dt.timedelta(hours=1)).strftime("%H:%M:%S"),
                "energy_wh": energy_wh,
            },
        )

    refused = post(30_000)
    recorded = post(10_000)

    assert refused.status_code == 200
    assert "energy_wh" in refused.context["adminform"].form.errors
    assert recorded.status_code == 302, recorded.context["adminform"].form.errors
    session = ChargingSession.objects.get()
    assert session.cost_minor == 250
    assert session.recorded_by.username == "hanno"


def test_a_tariff_needs_all_24_hours_in_the_back_office(hub_manager):
    data = {
        "name": "Night saver",
        "currency": "EUR",
        "rates-TOTAL_FORMS": "2",
        "rates-INITIAL_FORMS": "0",
        "rates-0-hour": "0",
        "rates-0-price_minor_per_mwh": "20000",
        "rates-1-hour": "1",
        "rates-1-price_minor_per_mwh": "20000",
    }

    response = hub_manager.post(f"{ADMIN}tariff/add/", data)
    form = hub_manager.get(f"{ADMIN}tariff/add/")

    assert response.status_code == 200
    assert "no price for hour(s) 2, 3" in response.content.decode()
    assert form.content.decode().count('name="rates-') >= 24 * 2


def test_the_ping_list_is_read_only(hub_manager):
    assert hub_manager.get(f"{ADMIN}telematicsping/add/").status_code == 403
    assert TelematicsPing.objects.count() == 0
