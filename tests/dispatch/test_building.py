"""The routing problem dispatch builds from the database: clock, demand, skills, selection."""

import datetime as dt

import pytest

from fleet.models import VehicleStatus
from lastmile.dispatch.services import PlanningError, planning_input_build
from lastmile.dispatch.services.building import job_id_for
from lastmile.dispatch.services.reading import local_midnight, moment_at
from lastmile.orders.models import DeliveryOption, OrderStatus, Priority
from lastmile.routing.problem import PRIORITY_NORMAL, PRIORITY_URGENT, Load, TimeWindow
from tests.dispatch.conftest import at
from tests.fleet.factories import CargoBikeTypeFactory, VehicleFactory
from tests.hubs.factories import HubFactory, OpeningHoursFactory
from tests.orders.factories import OrderFactory, ParcelFactory

pytestmark = pytest.mark.django_db

# Europe/Berlin springs forward at 02:00 on the last Sunday of March: 2026-03-29 has 23 hours.
DST_SPRING = dt.date(2026, 3, 29)
DST_AUTUMN = dt.date(2026, 10, 25)  # ... and falls back on 2026-10-25: 25 hours.
HOUR = 3600


def _hub_with_van(**hub_fields):
    hub = HubFactory(**hub_fields)
    VehicleFactory(home_hub=hub)
    return hub


def test_windows_are_seconds_since_local_midnight_in_the_hubs_zone():
    # given: a hub in New York while the back-office runs on Berlin time
    hub = _hub_with_van(time_zone="America/New_York", latitude="40.7", longitude="-74.0")
    day = dt.date(2026, 6, 10)
    order = OrderFactory(
        hub=hub,
        latitude="40.71",
        longitude="-74.01",
        window_start=at(hub, day, 10),
        window_end=at(hub, day, 12, 30),
    )

    # when
    built = planning_input_build(hub=hub, service_date=day)

    # then: 10:00 New York is 36,000 s after New York's midnight
    job = built.problem.jobs_by_id()[job_id_for(order)]
    assert job.time_windows == (TimeWindow(10 * HOUR, 12 * HOUR + 30 * 60),)
    assert built.at(10 * HOUR) == order.window_start


@pytest.mark.parametrize(
    ("day", "elapsed_at_ten"),
    [(DST_SPRING, 9 * HOUR), (DST_AUTUMN, 11 * HOUR)],
    ids=["spring-forward", "fall-back"],
)
def test_windows_on_a_dst_day_count_real_elapsed_seconds(day, elapsed_at_ten):
    # given: an order at 10:00-12:00 Berlin time on the day the clocks change
    hub = _hub_with_van(time_zone="Europe/Berlin")
    OpeningHoursFactory(hub=hub, weekday=day.weekday(), opens_at=dt.time(6), closes_at=dt.time(20))
    order = OrderFactory(hub=hub, window_start=at(hub, day, 10), window_end=at(hub, day, 12))

    # when
    built = planning_input_build(hub=hub, service_date=day)

    # then: 10:00 is 9 (spring) or 11 (autumn) hours after midnight, and back again
    window = built.problem.jobs_by_id()[job_id_for(order)].time_windows[0]
    assert (window.start_s, window.end_s) == (elapsed_at_ten, elapsed_at_ten + 2 * HOUR)
    assert moment_at(window.start_s, midnight=built.midnight) == order.window_start
    assert built.shift == TimeWindow(elapsed_at_ten - 4 * HOUR, elapsed_at_ten + 10 * HOUR)
    assert built.shift_source == "opening_hours"
    assert local_midnight(hub=hub, day=day).utcoffset() == dt.timedelta(0)


def test_demand_sums_parcels_and_rounds_volume_up_per_parcel():
    # given: two parcels, 1,001 cm³ + 1 mm³ (rounds up) and exactly 6,000 cm³
    hub = _hub_with_van()
    day = dt.date(2026, 6, 10)
    order = OrderFactory(
        hub=hub, window_start=at(hub, day, 9), window_end=at(hub, day, 11), parcels=0
    )
    ParcelFactory(order=order, weight_g=1200, length_mm=1001, width_mm=1000, height_mm=1)
    ParcelFactory(order=order, weight_g=800, length_mm=300, width_mm=200, height_mm=100)

    # when
    built = planning_input_build(hub=hub, service_date=day)

    # then
    job = built.problem.jobs_by_id()[job_id_for(order)]
    assert job.demand == Load(weight_g=2000, volume_cm3=1001 + 6000, parcels=2)


def test_skills_priority_and_service_time_come_from_the_order():
    hub = _hub_with_van()
    day = dt.date(2026, 6, 10)
    urgent = OrderFactory(
        hub=hub,
        window_start=at(hub, day, 9),
        window_end=at(hub, day, 11),
        required_skills=["cold_chain", "age_check"],
        priority=Priority.URGENT,
        service_s=420,
    )
    plain = OrderFactory(hub=hub, window_start=at(hub, day, 9), window_end=at(hub, day, 11))

    jobs = planning_input_build(hub=hub, service_date=day).problem.jobs_by_id()

    assert jobs[job_id_for(urgent)].skills == frozenset({"cold_chain", "age_check"})
    assert jobs[job_id_for(urgent)].priority == PRIORITY_URGENT
    assert jobs[job_id_for(urgent)].service_s == 420
    assert jobs[job_id_for(plain)].skills == frozenset()
    assert jobs[job_id_for(plain)].priority == PRIORITY_NORMAL


def test_only_the_hubs_door_orders_of_that_day_in_a_plannable_status_are_taken():
    # given
    hub, other_hub = _hub_with_van(), _hub_with_van()
    day = dt.date(2026, 6, 10)

    def order(**fields):
        fields.setdefault("hub", hub)
        fields.setdefault("window_start", at(fields["hub"], day, 9))
        fields.setdefault("window_end", at(fields["hub"], day, 11))
        return OrderFactory(**fields)

    taken = [
        order(status=OrderStatus.CREATED),
        order(status=OrderStatus.RESCHEDULED),
        order(status=OrderStatus.PLANNED),
    ]
    order(status=OrderStatus.CANCELLED)
    order(status=OrderStatus.DELIVERED)
    order(status=OrderStatus.OUT_FOR_DELIVERY)
    order(status=OrderStatus.FAILED)
    order(delivery_option=DeliveryOption.LOCKER)
    order(hub=other_hub)
    order(
        window_start=at(hub, day + dt.timedelta(days=1), 9),
        window_end=at(hub, day + dt.timedelta(days=1), 11),
    )

    # when
    built = planning_input_build(hub=hub, service_date=day)

    # then
    assert set(built.orders) == {job_id_for(o) for o in taken}
    assert {j.id for j in built.problem.jobs} == {job_id_for(o) for o in taken}
    assert len(built.problem.locations) == 1 + len(taken)


def test_vehicles_are_the_hubs_active_ones_and_bikes_may_reload():
    # given
    hub = HubFactory()
    van = VehicleFactory(home_hub=hub, skills=["tail_lift"])
    bike = VehicleFactory(home_hub=hub, vehicle_type=CargoBikeTypeFactory())
    VehicleFactory(home_hub=hub, status=VehicleStatus.MAINTENANCE)
    VehicleFactory()  # another hub's

    # when: a day without opening hours uses the default shift
    built = planning_input_build(hub=hub, service_date=dt.date(2026, 6, 10))

    # then
    vehicles = {v.id: v for v in built.problem.vehicles}
    assert set(vehicles) == {van.code, bike.code}
    assert vehicles[van.code].skills == frozenset({"tail_lift"})
    assert vehicles[van.code].max_trips == 1
    assert vehicles[bike.code].profile == "cargo_bike"
    assert vehicles[bike.code].max_trips == 3
    assert vehicles[bike.code].reload_s == 600
    assert vehicles[van.code].start == vehicles[van.code].end == 0
    assert vehicles[van.code].energy is not None
    assert built.shift == TimeWindow(8 * HOUR, 18 * HOUR)
    assert built.shift_source == "default"
    assert set(built.problem.matrices) == {"van", "cargo_bike"}


def test_orders_without_any_active_vehicle_are_a_clear_error():
    hub = HubFactory(code="NO-VANS")
    day = dt.date(2026, 6, 10)
    OrderFactory(hub=hub, window_start=at(hub, day, 9), window_end=at(hub, day, 11))

    with pytest.raises(PlanningError, match="NO-VANS has no active vehicle to plan 1 orders"):
        planning_input_build(hub=hub, service_date=day)
