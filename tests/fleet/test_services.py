"""Fleet writes: vehicle types and the vehicle state machine, devices, tariffs, sessions."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from fleet import services
from fleet.models import (
    AppendOnlyError,
    Device,
    FleetEvent,
    VehicleKind,
    VehicleState,
    VehicleStatus,
)
from fleet.selectors import device_get_by_token
from lastmile.core.errors import Conflict, InvalidTransition, ValidationFailed
from tests.fleet.factories import (
    CargoBikeTypeFactory,
    ChargerFactory,
    ChargingSiteFactory,
    TariffFactory,
    VehicleTypeFactory,
)
from tests.hubs.factories import HubFactory

pytestmark = pytest.mark.django_db


def _van(code="TH-EV01", hub=None):
    return services.vehicle_create(
        code=code, vehicle_type=VehicleTypeFactory(), home_hub=hub or HubFactory(), source="test"
    )


# --- Vehicle types --------------------------------------------------------------------------


def test_an_electric_type_needs_battery_consumption_and_a_way_to_charge():
    with pytest.raises(ValidationError) as refused:
        services.vehicle_type_create(
            name="Half an e-van",
            kind=VehicleKind.E_VAN,
            capacity_weight_g=1_000_000,
            capacity_volume_cm3=10_000_000,
            capacity_parcels=150,
            co2_g_per_km=0,
        )

    assert "Electric kinds need battery" in str(refused.value)


def test_loaded_consumption_cannot_be_below_empty():
    with pytest.raises(ValidationError, match="Loaded consumption"):
        VehicleTypeFactory.build(
            consumption_wh_per_km=300, consumption_loaded_wh_per_km=200
        ).full_clean()


def test_a_combustion_van_needs_a_co2_figure_and_no_battery():
    with pytest.raises(ValidationError):
        services.vehicle_type_create(
            name="Diesel without CO2",
            kind=VehicleKind.ICE_VAN,
            capacity_weight_g=1_000_000,
            capacity_volume_cm3=10_000_000,
            capacity_parcels=150,
        )


# --- Vehicles and their status --------------------------------------------------------------


def test_a_new_vehicle_is_active_with_an_empty_live_state_and_a_creation_event():
    vehicle = services.vehicle_create(
        code=" th-ev01 ",
        vehicle_type=VehicleTypeFactory(),
        home_hub=HubFactory(),
        skills=["tail_lift", "tail_lift"],
        source="test",
    )

    assert vehicle.code == "TH-EV01"
    assert vehicle.status == VehicleStatus.ACTIVE
    assert vehicle.skills == ["tail_lift"]
    assert VehicleState.objects.get(vehicle=vehicle).recorded_at is None
    assert vehicle.events.get().kind == FleetEvent.Kind.VEHICLE_CREATED


def test_an_unknown_skill_is_refused():
    with pytest.raises(ValidationError, match="Unknown skill"):
        services.vehicle_create(
            code="X-1",
            vehicle_type=VehicleTypeFactory(),
            home_hub=HubFactory(),
            skills=["jetpack"],
            source="test",
        )


def test_maintenance_and_back_each_write_one_event_and_repeating_is_a_no_op():
    vehicle = _van()

    services.vehicle_send_to_maintenance(vehicle=vehicle, reason="brakes", source="test")
    services.vehicle_send_to_maintenance(vehicle=vehicle, reason="brakes", source="test")
    back = services.vehicle_return_to_service(vehicle=vehicle, source="test")

    moves = list(
        vehicle.events.filter(kind=FleetEvent.Kind.VEHICLE_STATUS_CHANGED).values_list(
            "from_status", "to_status"
        )
    )
    assert back.status == VehicleStatus.ACTIVE
    assert moves == [("active", "maintenance"), ("maintenance", "active")]


def test_a_retired_vehicle_cannot_come_back_and_its_devices_are_revoked():
    vehicle = _van()
    device, token = services.device_create(vehicle=vehicle, name="unit", source="test")

    services.vehicle_retire(vehicle=vehicle, reason="sold", source="test")

    with pytest.raises(InvalidTransition) as refused:
        services.vehicle_return_to_service(vehicle=vehicle, source="test")
    assert refused.value.status == 409
    device.refresh_from_db()
    assert device.revoked_at is not None
    assert device_get_by_token(token=token) is None
    with pytest.raises(Conflict):
        services.device_create(vehicle=vehicle, name="another", source="test")


def test_leaving_service_needs_a_reason():
    with pytest.raises(ValidationFailed):
        services.vehicle_send_to_maintenance(vehicle=_van(), reason=" ", source="test")


def test_vehicle_update_changes_only_editable_details():
    vehicle = _van()
    other_hub = HubFactory()

    updated = services.vehicle_update(
        vehicle=vehicle, changes={"home_hub": other_hub, "registration": "b-lm 1e"}, source="t"
    )

    assert updated.home_hub == other_hub
    assert updated.registration == "B-LM 1E"
    with pytest.raises(ValidationFailed):
        services.vehicle_update(vehicle=vehicle, changes={"status": "retired"}, source="t")


def test_events_are_append_only():
    event = _van().events.get()

    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


# --- Devices --------------------------------------------------------------------------------


def test_a_device_token_is_returned_once_and_only_its_hash_is_stored():
    device, token = services.device_create(vehicle=_van(), name="unit", source="test")

    stored = Device.objects.get(pk=device.pk)
    assert token.startswith(f"lmd_{stored.token_prefix}_")
    assert token not in {stored.token_hash, stored.token_prefix}
    assert len(stored.token_hash) == 64
    assert device_get_by_token(token=token) == stored


def test_rotating_a_token_retires_the_old_one():
    device, old = services.device_create(vehicle=_van(), name="unit", source="test")

    new = services.device_rotate_token(device=device, source="test")

    assert device_get_by_token(token=old) is None
    assert device_get_by_token(token=new).pk == device.pk
    assert FleetEvent.objects.filter(kind=FleetEvent.Kind.DEVICE_TOKEN_ROTATED).count() == 1


# --- Tariffs and sessions -------------------------------------------------------------------


def test_a_tariff_needs_a_price_for_every_hour():
    with pytest.raises(ValidationFailed) as refused:
        services.tariff_create(name="Short", hourly_prices_minor_per_mwh=[20_000] * 23)

    assert "hourly_prices" in refused.value.errors


@pytest.fixture
def depot():
    hub = HubFactory()
    # 20 ct/kWh from midnight to 06:00, 40 ct/kWh from 06:00 (hub time, Europe/Berlin)
    site = ChargingSiteFactory(hub=hub, tariff=TariffFactory(prices=[20_000] * 6 + [40_000] * 18))
    return site, ChargerFactory(site=site, code="AC-01"), _van(hub=hub)


def test_a_session_is_priced_by_the_hours_it_spans(depot):
    site, charger, van = depot
    start = dt.datetime(2026, 3, 10, 5, 0, tzinfo=site.hub.zone)  # 05:00-07:00 local

    session, created = services.charging_session_record(
        vehicle=van,
        charger=charger,
        started_at=start,
        ended_at=start + dt.timedelta(hours=2),
        energy_wh=20_000,
        source="test",
    )

    # half the energy at 20 ct, half at 40 ct
    assert created
    assert session.cost_minor == 10 * 20 + 10 * 40


def test_a_session_overlapping_another_on_the_charger_is_a_conflict(depot):
    site, charger, van = depot
    other = _van(code="TH-EV02", hub=site.hub)
    start = timezone.now() - dt.timedelta(hours=6)
    services.charging_session_record(
        vehicle=van,
        charger=charger,
        started_at=start,
        ended_at=start + dt.timedelta(hours=2),
        energy_wh=10_000,
        source="test",
    )

    with pytest.raises(Conflict) as refused:
        services.charging_session_record(
            vehicle=other,
            charger=charger,
            started_at=start + dt.timedelta(hours=1),
            ended_at=start + dt.timedelta(hours=3),
            energy_wh=10_000,
            source="test",
        )

    assert refused.value.code == "session_overlap"


def test_a_bike_cannot_record_a_session_on_a_type_2_charger(depot):
    site, charger, _ = depot
    bike = services.vehicle_create(
        code="TH-CB01", vehicle_type=CargoBikeTypeFactory(), home_hub=site.hub, source="test"
    )
    start = timezone.now() - dt.timedelta(hours=3)

    with pytest.raises(ValidationFailed) as refused:
        services.charging_session_record(
            vehicle=bike,
            charger=charger,
            started_at=start,
            ended_at=start + dt.timedelta(hours=1),
            energy_wh=500,
            source="test",
        )

    assert "cannot charge on AC-01" in refused.value.errors["charger"][0]


def test_a_session_in_the_future_or_backwards_is_refused(depot):
    _, charger, van = depot
    now = timezone.now()

    with pytest.raises(ValidationFailed) as future:
        services.charging_session_record(
            vehicle=van,
            charger=charger,
            started_at=now + dt.timedelta(hours=1),
            ended_at=now + dt.timedelta(hours=2),
            energy_wh=1_000,
            source="test",
        )
    with pytest.raises(ValidationFailed) as backwards:
        services.charging_session_record(
            vehicle=van,
            charger=charger,
            started_at=now - dt.timedelta(hours=1),
            ended_at=now - dt.timedelta(hours=2),
            energy_wh=1_000,
            source="test",
        )

    assert "ended_at" in future.value.errors
    assert "ended_at" in backwards.value.errors
