"""Who drives a published route: one rule for publishing and re-planning."""

from decimal import Decimal

import pytest

from fleet.models import VehicleState
from lastmile.dispatch.models import (
    ReplanStatus,
    ReplanTrigger,
    Route,
    RouteStatus,
)
from lastmile.dispatch.services import (
    plan_publish,
    route_dispatch,
    route_start,
)
from lastmile.dispatch.services.replanning import replan_request, replan_run
from lastmile.orders.models import Priority
from tests.dispatch.factories import at, multi_route_day, stored_plan
from tests.dispatch.test_publishing import driver, ready_plan
from tests.fleet.factories import VehicleFactory
from tests.orders.factories import OrderFactory
from workforce.models import Courier
from workforce.models import Vehicle as CourierVehicle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_replans(settings):
    settings.DISPATCH_REPLAN_TIME_LIMIT_S = 1
    settings.DISPATCH_REPLAN_DEBOUNCE_S = 60


def _driving_elsewhere(courier, day):
    """``courier`` holds a dispatched route of another hub's plan on ``day``."""
    other = stored_plan(day=day, routes=1, stops=2, unassigned=0).routes.get()
    route_dispatch(route=other, courier_id=courier.pk, actor=None)
    return other


def _published_two_vans(day, employees=2):
    """A published two-van day, each van dispatched to an employee driver."""
    board = multi_route_day(day=day, vans=2, orders=12, van_parcels=8)
    for _ in range(employees):
        driver(board.hub, day)
    plan = plan_publish(plan=ready_plan(board.hub, day), actor=None)
    routes = list(Route.objects.filter(plan=plan).select_related("courier").order_by("pk"))
    assert [r.status for r in routes] == [RouteStatus.DISPATCHED] * 2
    return board.hub, plan, routes


# --- 1. One rule for employee drivers ---------------------------------------------------------


def test_replanning_passes_over_an_employee_already_driving_another_hubs_route_that_day(tomorrow):
    # given: both vans out; a spare van; two employees free at this hub, the first of whom
    # (earliest in the availability list) already drives another hub's route that day
    hub, plan, (a, b) = _published_two_vans(tomorrow)
    for route in (a, b):
        route_start(route=route, courier=route.courier, at=at(hub, tomorrow, 9))
        VehicleState.objects.filter(vehicle=route.vehicle).update(
            recorded_at=at(hub, tomorrow, 9, 59),
            latitude=Decimal("52.450000"),
            longitude=hub.longitude,
        )
    spare = VehicleFactory(home_hub=hub, vehicle_type=a.vehicle.vehicle_type)
    elsewhere = driver(hub, tomorrow)
    _driving_elsewhere(elsewhere, tomorrow)
    free = driver(hub, tomorrow)
    OrderFactory(
        hub=hub,
        priority=Priority.URGENT,
        latitude=Decimal(hub.latitude) + Decimal("0.005000"),
        longitude=hub.longitude,
        window_start=at(hub, tomorrow, 10),
        window_end=at(hub, tomorrow, 10, 5),
    )
    replan = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER, now=at(hub, tomorrow, 10))
    # when
    done = replan_run(replan_id=replan.pk, now=at(hub, tomorrow, 10))
    # then: applied, and the new route went to the employee who was free
    assert done.status == ReplanStatus.APPLIED, done.error
    route = Route.objects.get(plan=plan, vehicle=spare)
    assert (route.status, route.courier_id) == (RouteStatus.DISPATCHED, free.pk)
    assert done.diff["new_routes"] == [{"route": route.pk, "vehicle": spare.code, "driver": True}]


def test_publishing_gives_no_van_to_an_employee_without_a_driving_licence(tomorrow):
    # given: two van routes; the only employee rides their own bicycle (no licence on file)
    hub = multi_route_day(day=tomorrow).hub
    rider = driver(hub, tomorrow)
    Courier.objects.filter(pk=rider.pk).update(vehicle=CourierVehicle.BIKE)
    # when
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    # then: no van is theirs; the routes wait for crowd couriers
    assert not Route.objects.filter(plan=plan, courier=rider).exists()
    assert not Route.objects.filter(plan=plan, status=RouteStatus.DISPATCHED).exists()


def test_a_licensed_employee_gets_the_van_the_unlicensed_one_is_passed_over_for(tomorrow):
    # given: the first employee has no licence, the second drives
    hub = multi_route_day(day=tomorrow, vans=1, orders=6).hub
    rider = driver(hub, tomorrow)
    Courier.objects.filter(pk=rider.pk).update(vehicle=CourierVehicle.BIKE)
    licensed = driver(hub, tomorrow)
    # when
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    # then
    assert Route.objects.get(plan=plan).courier_id == licensed.pk
