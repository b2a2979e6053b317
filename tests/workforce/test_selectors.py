"""Reads for dispatch and managers: availability, coverage, performance from recorded events."""

import datetime as dt

import pytest
from django.utils import timezone

from lastmile.orders import services as order_services
from lastmile.orders.models import OrderStatus
from tests.orders.factories import OrderFactory
from tests.workforce.factories import active_courier
from workforce import selectors, services
from workforce.models import AvailabilitySlot, CourierStatus, CoverageNeed, Shift, ShiftStatus

pytestmark = pytest.mark.django_db


def _slot(courier, hub, day, start, end):
    return AvailabilitySlot.objects.create(
        courier=courier, hub=hub, day=day, starts_at=dt.time(*start), ends_at=dt.time(*end)
    )


def test_availability_for_a_hub_and_day_lists_active_couriers_in_the_hubs_zone(hub):
    day = timezone.localdate() + dt.timedelta(days=1)
    ada, ben, cem = (active_courier(hub=hub, n=n) for n in range(3))
    _slot(ada, hub, day, (8, 0), (12, 0))
    _slot(ben, hub, day, (7, 30), (9, 0))
    _slot(cem, hub, day, (10, 0), (14, 0))
    _slot(ada, hub, day + dt.timedelta(days=1), (8, 0), (12, 0))
    cem.__class__.objects.filter(pk=cem.pk).update(status=CourierStatus.SUSPENDED)

    available = selectors.courier_availability_for(hub=hub, day=day)

    assert [(a.courier_id, a.starts_at.hour, a.starts_at.minute) for a in available] == [
        (ben.pk, 7, 30),
        (ada.pk, 8, 0),
    ]
    assert available[1].starts_at.tzinfo is not None
    assert available[1].ends_at == dt.datetime.combine(day, dt.time(12), tzinfo=hub.zone)
    assert available[1].vehicle == "bike"


def test_availability_costs_one_query(hub, django_assert_num_queries):
    day = timezone.localdate() + dt.timedelta(days=1)
    for n in range(5):
        _slot(active_courier(hub=hub, n=n), hub, day, (8, 0), (12, 0))

    with django_assert_num_queries(1):
        selectors.courier_availability_for(hub=hub, day=day)


def test_coverage_compares_courier_hours_with_the_need_per_hour(hub):
    day = timezone.localdate() + dt.timedelta(days=1)
    ada, ben = active_courier(hub=hub, n=1), active_courier(hub=hub, n=2)
    _slot(ada, hub, day, (8, 0), (12, 0))
    _slot(ben, hub, day, (8, 30), (10, 0))
    CoverageNeed.objects.create(
        hub=hub, weekday=day.weekday(), starts_at=dt.time(8), ends_at=dt.time(12), couriers=2
    )

    hours = {h.hour: h for h in selectors.hub_coverage(hub=hub, day=day)}

    assert (float(hours[8].available), hours[8].needed, hours[8].status) == (1.5, 2, "short")
    assert (float(hours[9].available), hours[9].status) == (2.0, "covered")
    assert (float(hours[11].available), float(hours[11].gap)) == (1.0, -1.0)
    assert (float(hours[13].available), hours[13].needed, hours[13].status) == (0.0, 0, "none")


def test_availability_service_refuses_past_days_overlaps_and_inactive_couriers(hub):
    from lastmile.core.errors import Conflict, ValidationFailed

    courier = active_courier(hub=hub)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    services.availability_slot_add(
        courier=courier, hub=hub, day=tomorrow, starts_at=dt.time(8), ends_at=dt.time(12)
    )

    with pytest.raises(ValidationFailed) as past:
        services.availability_slot_add(
            courier=courier,
            hub=hub,
            day=tomorrow - dt.timedelta(days=3),
            starts_at=dt.time(8),
            ends_at=dt.time(9),
        )
    with pytest.raises(ValidationFailed) as overlap:
        services.availability_slot_add(
            courier=courier, hub=hub, day=tomorrow, starts_at=dt.time(11), ends_at=dt.time(13)
        )
    courier.__class__.objects.filter(pk=courier.pk).update(status=CourierStatus.SUSPENDED)
    with pytest.raises(Conflict):
        services.availability_slot_add(
            courier=courier, hub=hub, day=tomorrow, starts_at=dt.time(14), ends_at=dt.time(15)
        )

    assert "day" in past.value.errors
    assert "starts_at" in overlap.value.errors


# --- Performance ----------------------------------------------------------------------------


def _attempt(
    courier, *, at: dt.datetime, delivered: bool, in_window: bool = True, second: bool = False
):
    window_start = at - dt.timedelta(hours=1) if in_window else at - dt.timedelta(hours=5)
    order = OrderFactory(
        hub=courier.home_hub,
        status=OrderStatus.OUT_FOR_DELIVERY,
        window_start=window_start,
        window_end=window_start + dt.timedelta(hours=2),
        attempt_count=1 if second else 0,
    )
    if delivered:
        return order_services.order_deliver(
            order=order, recipient_name="A", attempted_at=at, source="courier", actor=courier.user
        )
    return order_services.order_fail(
        order=order,
        reason="recipient_absent",
        attempted_at=at,
        source="courier",
        actor=courier.user,
    )


def test_performance_is_computed_from_attempts_shifts_and_ratings(hub):
    # given: four stops on a 2-hour shift — 3 delivered (2 in their window), 1 failed first
    # attempt, and one second attempt that delivered; two ratings
    courier = active_courier(hub=hub)
    other = active_courier(hub=hub, n=5)
    start = timezone.now() - dt.timedelta(days=2)
    Shift.objects.create(
        courier=courier,
        hub=hub,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=2),
        status=ShiftStatus.COMPLETED,
        started_at=start,
        ended_at=start + dt.timedelta(hours=2),
        worked_s=7200,
    )
    a = _attempt(courier, at=start + dt.timedelta(minutes=10), delivered=True)
    b = _attempt(courier, at=start + dt.timedelta(minutes=30), delivered=True, in_window=False)
    _attempt(courier, at=start + dt.timedelta(minutes=50), delivered=False)
    _attempt(courier, at=start + dt.timedelta(minutes=70), delivered=True, second=True)
    _attempt(other, at=start, delivered=False)
    services.delivery_rating_record(attempt=a, stars=5)
    services.delivery_rating_record(attempt=b, stars=4)

    # when
    perf = selectors.courier_performance(courier=courier)

    # then
    assert (perf.stops, perf.deliveries) == (4, 3)
    assert perf.on_time_rate == pytest.approx(66.7)  # 2 of 3 deliveries inside the window
    assert perf.first_attempt_success_rate == pytest.approx(66.7)  # 2 of 3 first attempts
    assert perf.stops_per_hour == 2.0
    assert (perf.rating_avg, perf.rating_count) == (4.5, 2)


def test_performance_of_a_courier_without_work_is_empty(hub):
    perf = selectors.courier_performance(courier=active_courier(hub=hub))

    assert (perf.on_time_rate, perf.first_attempt_success_rate, perf.stops_per_hour) == (
        None,
        None,
        None,
    )
    assert perf.rating_avg is None


def test_a_rating_is_recorded_once_and_only_for_a_couriers_delivery(hub):
    from lastmile.core.errors import Conflict, ValidationFailed

    courier = active_courier(hub=hub)
    delivered = _attempt(courier, at=timezone.now(), delivered=True)
    failed = _attempt(courier, at=timezone.now(), delivered=False)
    services.delivery_rating_record(attempt=delivered, stars=5)

    with pytest.raises(Conflict):
        services.delivery_rating_record(attempt=delivered, stars=1)
    with pytest.raises(ValidationFailed):
        services.delivery_rating_record(attempt=failed, stars=3)
    with pytest.raises(ValidationFailed):
        services.delivery_rating_record(attempt=delivered, stars=6)
