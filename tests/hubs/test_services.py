import datetime as dt
import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from lastmile.hubs.models import Hub
from lastmile.hubs.selectors import hub_service_windows
from lastmile.hubs.services import hub_create, hub_set_opening_hours

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Berlin Tempelhof depot",
    "code": "BER-TH",
    "address": "Ringbahnstraße 40, 12099 Berlin",
    "latitude": "52.465800",
    "longitude": "13.396300",
    "time_zone": "Europe/Berlin",
}


def test_hub_is_created_with_its_opening_hours():
    hub = hub_create(
        **VALID, opening_hours=[(0, dt.time(6), dt.time(21)), (5, dt.time(8), dt.time(14))]
    )

    assert hub.kind == Hub.Kind.DEPOT
    assert hub.opening_hours.count() == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", "91"),
        ("latitude", "-90.5"),
        ("longitude", "180.01"),
        ("time_zone", "Europe/Atlantis"),
        ("code", "ber th"),
        ("kind", "warehouse"),
    ],
)
def test_invalid_hub_fields_are_refused_per_field(field, value):
    with pytest.raises(ValidationError) as excinfo:
        hub_create(**{**VALID, field: value})

    assert field in excinfo.value.message_dict
    assert Hub.objects.count() == 0


def test_duplicate_code_is_refused():
    hub_create(**VALID)

    with pytest.raises(ValidationError) as excinfo:
        hub_create(**{**VALID, "name": "Another"})

    assert "code" in excinfo.value.message_dict


def test_overlapping_opening_hours_are_refused_and_the_old_ones_kept():
    hub = hub_create(**VALID, opening_hours=[(0, dt.time(6), dt.time(21))])

    with pytest.raises(ValidationError, match="overlaps"):
        hub_set_opening_hours(
            hub=hub, intervals=[(1, dt.time(6), dt.time(12)), (1, dt.time(11), dt.time(18))]
        )

    assert list(hub.opening_hours.values_list("weekday", flat=True)) == [0]


def test_closing_before_opening_is_refused():
    hub = hub_create(**VALID)

    with pytest.raises(ValidationError):
        hub_set_opening_hours(hub=hub, intervals=[(2, dt.time(18), dt.time(6))])


def test_service_windows_are_aware_datetimes_in_the_hubs_zone_across_dst():
    # given: a hub open 06:00-21:00 every day
    hub = hub_create(**VALID, opening_hours=[(d, dt.time(6), dt.time(21)) for d in range(7)])
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")

    # when: the day clocks go forward (29 March 2026) and a normal Monday
    dst_day = hub_service_windows(hub=hub, day=dt.date(2026, 3, 29))
    monday = hub_service_windows(hub=hub, day=dt.date(2026, 11, 23))

    # then: 06:00 local is 04:00 UTC in summer time and 05:00 UTC in winter
    assert dst_day[0][0] == dt.datetime(2026, 3, 29, 6, tzinfo=berlin)
    assert dst_day[0][0].utcoffset() == dt.timedelta(hours=2)
    assert monday[0][0].astimezone(dt.UTC).hour == 5


def test_a_day_without_opening_hours_is_closed():
    hub = hub_create(**VALID, opening_hours=[(0, dt.time(6), dt.time(21))])

    assert hub_service_windows(hub=hub, day=dt.date(2026, 11, 29)) == []  # a Sunday
