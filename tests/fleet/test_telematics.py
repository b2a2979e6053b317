"""Telematics ingest and retention through the services."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from fleet import services
from fleet.models import TelematicsPing, VehicleState
from fleet.services import PingInput
from lastmile.core.errors import ValidationFailed
from tests.fleet.factories import VehicleFactory, VehicleTypeFactory
from tests.hubs.factories import HubFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def device():
    vehicle = services.vehicle_create(
        code="TH-EV01",
        vehicle_type=VehicleTypeFactory(),
        home_hub=HubFactory(),
        source="test",
    )
    device, _ = services.device_create(vehicle=vehicle, name="unit", source="test")
    return device


def ping(minutes_before: int, **overrides) -> PingInput:
    values = {
        "recorded_at": NOW - dt.timedelta(minutes=minutes_before),
        "latitude": 52.5 + minutes_before / 1000,
        "longitude": 13.4,
        "speed_kmh": 22.5,
        "heading_deg": 180,
        "soc_pct": 60 + minutes_before / 10,
        "odometer_m": 1_000_000 - minutes_before * 300,
    }
    return PingInput(**{**values, **overrides})


def test_a_batch_is_stored_and_moves_the_live_state_to_the_newest_fix(device):
    result = services.pings_ingest(device=device, pings=[ping(10), ping(1), ping(5)], now=NOW)

    state = VehicleState.objects.get(vehicle=device.vehicle)
    assert (result.received, result.stored, result.duplicates) == (3, 3, 0)
    assert state.recorded_at == NOW - dt.timedelta(minutes=1)
    assert state.latitude == Decimal("52.501000")
    assert state.soc_pct == Decimal("60.1")
    assert state.odometer_m == 999_700
    device.refresh_from_db()
    assert device.last_seen_at == NOW


def test_sending_the_same_batch_again_stores_nothing_new(device):
    batch = [ping(3), ping(2), ping(1)]
    services.pings_ingest(device=device, pings=batch, now=NOW)

    again = services.pings_ingest(device=device, pings=batch, now=NOW)

    assert (again.stored, again.duplicates) == (0, 3)
    assert TelematicsPing.objects.count() == 3


def test_repeats_inside_one_batch_count_once(device):
    result = services.pings_ingest(device=device, pings=[ping(2), ping(2), ping(1)], now=NOW)

    assert (result.stored, result.duplicates) == (2, 1)


def test_an_older_batch_arriving_late_is_stored_but_does_not_move_the_vehicle_back(device):
    services.pings_ingest(device=device, pings=[ping(1)], now=NOW)

    late = services.pings_ingest(device=device, pings=[ping(30), ping(20)], now=NOW)

    state = VehicleState.objects.get(vehicle=device.vehicle)
    assert late.stored == 2
    assert state.recorded_at == NOW - dt.timedelta(minutes=1)
    assert state.soc_pct == Decimal("60.1")
    assert TelematicsPing.objects.count() == 3


def test_a_newer_fix_without_state_of_charge_keeps_the_last_known_one(device):
    services.pings_ingest(device=device, pings=[ping(5, soc_pct=44)], now=NOW)

    services.pings_ingest(device=device, pings=[ping(1, soc_pct=None)], now=NOW)

    state = VehicleState.objects.get(vehicle=device.vehicle)
    assert state.recorded_at == NOW - dt.timedelta(minutes=1)
    assert state.soc_pct == Decimal("44.0")
    assert state.soc_recorded_at == NOW - dt.timedelta(minutes=5)


def test_a_vehicle_without_a_state_row_gets_one_on_its_first_ping():
    vehicle = VehicleFactory()  # made outside vehicle_create: no state row
    device, _ = services.device_create(vehicle=vehicle, name="unit", source="test")

    services.pings_ingest(device=device, pings=[ping(1)], now=NOW)

    assert VehicleState.objects.get(vehicle=vehicle).recorded_at == NOW - dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"latitude": 91.0}, "latitude"),
        ({"longitude": -180.5}, "longitude"),
        ({"soc_pct": 100.5}, "soc_pct"),
        ({"soc_pct": float("nan")}, "soc_pct"),
        ({"speed_kmh": -3.0}, "speed_kmh"),
        ({"heading_deg": 360.0}, "heading_deg"),
        ({"recorded_at": NOW + dt.timedelta(hours=2)}, "recorded_at"),
        ({"recorded_at": NOW - dt.timedelta(days=400)}, "recorded_at"),
        ({"recorded_at": NOW.replace(tzinfo=None)}, "recorded_at"),  # naive
    ],
)
def test_one_bad_ping_refuses_the_whole_batch_with_its_index_and_field(device, bad, field):
    # given: two good pings and a bad one in the middle
    batch = [ping(3), ping(2, **bad), ping(1)]

    # when
    with pytest.raises(ValidationFailed) as refused:
        services.pings_ingest(device=device, pings=batch, now=NOW)

    # then: the error names ping 1 and the field; nothing was stored, the state is untouched
    assert list(refused.value.errors["pings"]) == ["1"]
    assert list(refused.value.errors["pings"]["1"]) == [field]
    assert TelematicsPing.objects.count() == 0
    assert VehicleState.objects.get(vehicle=device.vehicle).recorded_at is None


def test_a_batch_must_not_be_empty_or_too_large(device):
    with pytest.raises(ValidationFailed):
        services.pings_ingest(device=device, pings=[], now=NOW)
    with pytest.raises(ValidationFailed):
        services.pings_ingest(device=device, pings=[ping(1)] * 1001, now=NOW)


def test_a_heading_just_under_north_is_stored_as_north(device):
    services.pings_ingest(device=device, pings=[ping(1, heading_deg=359.7)], now=NOW)

    assert TelematicsPing.objects.get().heading_deg == 0


def test_prune_deletes_only_pings_older_than_the_cutoff_in_batches(device):
    # given: five old pings and two recent ones
    old = [ping(60 * 24 * 10 + n, latitude=52.5, soc_pct=50, odometer_m=None) for n in range(5)]
    services.pings_ingest(device=device, pings=[*old, ping(2), ping(1)], now=NOW)
    cutoff = NOW - dt.timedelta(days=1)

    # when: two rows per batch, at most two batches per run
    first = services.pings_prune(older_than=cutoff, batch_size=2, max_batches=2)
    second = services.pings_prune(older_than=cutoff, batch_size=2, max_batches=2)
    third = services.pings_prune(older_than=cutoff, batch_size=2, max_batches=2)

    # then: the first run stops after four and says so; running again finishes; the state stays
    assert (first.deleted, first.done) == (4, False)
    assert (second.deleted, second.done) == (1, True)
    assert (third.deleted, third.done) == (0, True)
    assert TelematicsPing.objects.count() == 2
    assert VehicleState.objects.get(vehicle=device.vehicle).recorded_at == NOW - dt.timedelta(
        minutes=1
    )


def test_retention_follows_the_setting(device, settings):
    settings.FLEET_PING_RETENTION_DAYS = 7

    with pytest.raises(ValidationFailed) as refused:
        services.pings_ingest(
            device=device, pings=[ping(60 * 24 * 8, soc_pct=50, odometer_m=None)], now=NOW
        )

    assert "7-day retention" in refused.value.errors["pings"]["0"]["recorded_at"][0]
    assert timezone.is_aware(NOW)
