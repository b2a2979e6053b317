"""Publishing a ready plan: orders planned with an ETA window, dedicated drivers on routes."""

import datetime as dt

import pytest
from django.utils import timezone

from lastmile.core.errors import InvalidTransition
from lastmile.dispatch.models import PlanEvent, PlanStatus, Route, RouteStatus, Stop, StopKind
from lastmile.dispatch.services import plan_publish, plan_request, plan_run
from lastmile.dispatch.services.etas import eta_window
from lastmile.orders.models import Order, OrderEvent, OrderStatus
from tests.dispatch.conftest import at
from tests.factories import UserFactory
from tests.workforce.factories import CourierFactory
from workforce.models import (
    ApplicationStatus,
    AvailabilitySlot,
    CourierApplication,
    CourierKind,
    CourierStatus,
)
from workforce.models import Vehicle as CourierVehicle

pytestmark = pytest.mark.django_db


def ready_plan(hub, day):
    plan = plan_run(plan_id=plan_request(hub=hub, service_date=day, actor=None).pk)
    assert plan.status == PlanStatus.READY
    return plan


def driver(hub, day, *, kind=CourierKind.EMPLOYEE, hours=(6, 21)):
    courier = CourierFactory(
        kind=kind, status=CourierStatus.ACTIVE, home_hub=hub, vehicle=CourierVehicle.NONE
    )
    # An active courier is an approved one (approval is what activates a courier).
    CourierApplication.objects.filter(courier=courier).update(
        status=ApplicationStatus.APPROVED, submitted_at=timezone.now()
    )
    AvailabilitySlot.objects.create(
        courier=courier, hub=hub, day=day, starts_at=dt.time(hours[0]), ends_at=dt.time(hours[1])
    )
    return courier


def test_publishing_plans_every_routed_order_with_an_eta_window_in_its_timeline(
    small_day, tomorrow
):
    # given
    hub, _, _ = small_day
    plan = ready_plan(hub, tomorrow)
    dispatcher = UserFactory()
    # when
    published = plan_publish(plan=plan, actor=dispatcher)
    # then
    assert published.status == PlanStatus.PUBLISHED
    stops = Stop.objects.filter(route__plan=plan, kind=StopKind.DELIVERY).select_related("order")
    assert stops.exists()
    for stop in stops:
        assert stop.order.status == OrderStatus.PLANNED
        event = OrderEvent.objects.filter(order=stop.order, to_status=OrderStatus.PLANNED).get()
        start = dt.datetime.fromisoformat(event.payload["eta_start"])
        end = dt.datetime.fromisoformat(event.payload["eta_end"])
        assert end - start == dt.timedelta(hours=1)
        assert stop.window_start <= start
        assert end <= stop.window_end
        assert event.actor == dispatcher
    unrouted = Order.objects.filter(hub=hub).exclude(pk__in=stops.values("order"))
    assert all(o.status == OrderStatus.CREATED for o in unrouted)


def test_dedicated_drivers_take_routes_and_the_rest_wait_for_crowd_couriers(small_day, tomorrow):
    # given: one employee driver and one crowd courier available all day
    hub, _, _ = small_day
    plan = ready_plan(hub, tomorrow)
    employee = driver(hub, tomorrow)
    driver(hub, tomorrow, kind=CourierKind.CROWD)
    routes = Route.objects.filter(plan=plan).count()
    # when
    plan_publish(plan=plan, actor=None)
    # then: the employee drives the earliest route; crowd couriers get offers, not routes
    dispatched = Route.objects.filter(plan=plan, status=RouteStatus.DISPATCHED)
    assert [r.courier_id for r in dispatched] == [employee.pk]
    assert Route.objects.filter(plan=plan, status=RouteStatus.PLANNED).count() == routes - 1
    assert PlanEvent.objects.filter(plan=plan, kind=PlanEvent.Kind.ROUTE_DISPATCHED).count() == 1


def test_a_driver_whose_availability_ends_too_early_is_not_given_the_route(small_day, tomorrow):
    hub, _, _ = small_day
    plan = ready_plan(hub, tomorrow)
    driver(hub, tomorrow, hours=(6, 9))

    plan_publish(plan=plan, actor=None)

    assert not Route.objects.filter(plan=plan, courier__isnull=False).exists()


def test_publishing_twice_changes_nothing_the_second_time(small_day, tomorrow):
    hub, _, _ = small_day
    plan = ready_plan(hub, tomorrow)
    plan_publish(plan=plan, actor=None)
    events = OrderEvent.objects.count(), PlanEvent.objects.count()

    again = plan_publish(plan=plan, actor=None)

    assert again.status == PlanStatus.PUBLISHED
    assert (OrderEvent.objects.count(), PlanEvent.objects.count()) == events


def test_only_a_ready_plan_can_be_published_and_a_refusal_moves_no_order(small_day, tomorrow):
    hub, _, _ = small_day
    queued = plan_request(hub=hub, service_date=tomorrow, actor=None)

    with pytest.raises(InvalidTransition):
        plan_publish(plan=queued, actor=None)

    assert not Order.objects.filter(status=OrderStatus.PLANNED).exists()


def test_the_eta_window_shifts_to_stay_inside_the_booked_window(small_day, tomorrow):
    hub, _, _ = small_day
    early = Stop(
        planned_start=at(hub, tomorrow, 9, 5),
        window_start=at(hub, tomorrow, 9),
        window_end=at(hub, tomorrow, 12),
    )
    late = Stop(
        planned_start=at(hub, tomorrow, 11, 50),
        window_start=at(hub, tomorrow, 9),
        window_end=at(hub, tomorrow, 12),
    )
    assert (eta_window(early).start, eta_window(early).end) == (
        at(hub, tomorrow, 9),
        at(hub, tomorrow, 10),
    )
    assert (eta_window(late).start, eta_window(late).end) == (
        at(hub, tomorrow, 11),
        at(hub, tomorrow, 12),
    )
