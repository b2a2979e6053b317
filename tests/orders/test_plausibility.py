"""The hub's plausibility checks on their own: limits from settings, levels, edge cases."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from lastmile.orders.models import Order
from lastmile.orders.plausibility import (
    HubCapacity,
    Limits,
    ParcelSize,
    check_levels,
    order_plausibility,
    parcel_plausibility,
    plausibility_limits,
)
from tests.hubs.factories import HubFactory
from tests.orders.factories import PartnerFactory
from tests.orders.implausible_file import fixture_file, kreuzberg_hub

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
TODAY = dt.date(2026, 12, 3)
LIMITS = Limits(
    levels=check_levels({}),
    today=TODAY,
    max_days_ahead=60,
    hub_latitude=52.4986,
    hub_longitude=13.4209,
    radius_km=30,
    window_max_s=12 * 3600,
    window_min_s=30 * 60,
    capacity=HubCapacity(weight_g=1_000_000, volume_cm3=11_000_000),
    zone=BERLIN,
)


def window(day: dt.date, start: tuple[int, int], end_day: dt.date, end: tuple[int, int]):
    return {
        "window_start": dt.datetime.combine(day, dt.time(*start), tzinfo=BERLIN),
        "window_end": dt.datetime.combine(end_day, dt.time(*end), tzinfo=BERLIN),
    }


TOMORROW = TODAY + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (window(TOMORROW, (10, 0), TOMORROW, (12, 0)), []),
        (window(TODAY, (10, 0), TODAY, (12, 0)), []),  # today is not in the past
        (window(TOMORROW, (8, 0), TOMORROW, (20, 0)), []),  # twelve hours, at the limit
        (window(TOMORROW, (23, 0), TOMORROW + dt.timedelta(days=1), (0, 0)), []),  # to midnight
        (window(TOMORROW, (7, 0), TOMORROW, (20, 0)), [("window_end", "13:00 h long")]),
        (window(TOMORROW, (10, 0), TOMORROW, (10, 29)), [("window_end", "29 min long")]),
        (
            window(TOMORROW, (22, 0), TOMORROW + dt.timedelta(days=1), (1, 0)),
            [("window_end", "spans two days")],
        ),
        (
            window(TODAY - dt.timedelta(days=1), (10, 0), TODAY - dt.timedelta(days=1), (12, 0)),
            [("window_start", "in the past")],
        ),
        (
            window(TODAY + dt.timedelta(days=61), (10, 0), TODAY + dt.timedelta(days=61), (12, 0)),
            [("window_start", "more than 60 days ahead")],
        ),
    ],
)
def test_dates_and_windows(times, expected):
    findings = order_plausibility(
        limits=LIMITS, latitude=Decimal("52.5"), longitude=Decimal("13.42"), **times
    )

    assert len(findings) == len(expected)
    for finding, (field, text) in zip(findings, expected, strict=True):
        assert finding.field == field
        assert text in finding.message


def test_the_radius_is_measured_from_the_hub_along_the_great_circle():
    # Potsdam (about 27 km from Kreuzberg) is inside 30 km; Munich (about 500 km) is not.
    potsdam = order_plausibility(
        limits=LIMITS,
        latitude=Decimal("52.3906"),
        longitude=Decimal("13.0645"),
        window_start=None,
        window_end=None,
    )
    munich = order_plausibility(
        limits=LIMITS,
        latitude=Decimal("48.137154"),
        longitude=Decimal("11.576124"),
        window_start=None,
        window_end=None,
    )

    assert potsdam == []
    assert [(f.field, f.level) for f in munich] == [("address", "warning")]
    assert "502.3 km" in munich[0].message


def test_parcels_are_checked_against_the_largest_vehicle_by_weight_and_by_size():
    fits = parcel_plausibility(limits=LIMITS, parcel=ParcelSize(1_000_000, 2000, 2000, 2000))
    too_heavy = parcel_plausibility(limits=LIMITS, parcel=ParcelSize(1_000_001, 10, 10, 10))
    too_large = parcel_plausibility(limits=LIMITS, parcel=ParcelSize(1000, 3000, 2000, 2000))
    unread = parcel_plausibility(limits=LIMITS, parcel=ParcelSize(None, None, 2000, 2000))

    assert fits == []
    assert [(f.field, f.level) for f in too_heavy] == [("weight_g", "error")]
    assert [(f.field, f.level) for f in too_large] == [("volume", "error")]
    assert "12.00 m³" in too_large[0].message
    assert unread == []


@pytest.mark.parametrize(
    "configured", [{"radius": "maybe"}, {"distance": "error"}], ids=["level", "check"]
)
def test_a_mistyped_level_setting_is_refused(configured):
    with pytest.raises(ImproperlyConfigured):
        check_levels(configured)


@pytest.mark.django_db
def test_a_hub_without_vehicles_has_no_capacity_to_check_against():
    hub = HubFactory()

    assert plausibility_limits(hub=hub).capacity is None


@pytest.mark.django_db
def test_the_largest_vehicle_of_the_hub_sets_the_capacity():
    hub = kreuzberg_hub()  # a cargo bike (150 kg) and an e-van (1 t)

    assert plausibility_limits(hub=hub).capacity == HubCapacity(1_000_000, 11_000_000)


@pytest.mark.django_db
def test_the_command_line_import_writes_orders_with_warnings_only_when_asked(tmp_path):
    # given: the file for tomorrow, on disk
    PartnerFactory(slug="kiezkaufhaus")
    kreuzberg_hub()
    path = tmp_path / "orders.csv"
    path.write_bytes(fixture_file("csv", timezone.localdate() + dt.timedelta(days=1)))
    arguments = [str(path), "--partner", "kiezkaufhaus", "--hub", "BER-KX"]

    # when / then: without --accept-warnings nothing is written
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_orders", *arguments)
    assert not Order.objects.exists()

    # when / then: with it, the good orders and those with warnings are
    call_command("import_orders", *arguments, "--accept-warnings")
    assert Order.objects.count() == 6
