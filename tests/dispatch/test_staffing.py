"""Who drives a published route: one rule for publishing, re-planning and a courier's
suspension, and routes left un-offered picked up by the minute's sweep."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from fleet.models import VehicleState
from lastmile.dispatch.models import (
    OfferStatus,
    PlanEvent,
    ReplanStatus,
    ReplanTrigger,
    Route,
    RouteOffer,
    RouteStatus,
)
from lastmile.dispatch.services import (
    plan_publish,
    route_dispatch,
    route_offer_accept,
    route_start,
)
from lastmile.dispatch.services.offers import route_offers_resume
from lastmile.dispatch.services.replanning import replan_run
from lastmile.dispatch.services.requests import replan_request
from lastmile.dispatch.tasks import expire_offers_task, release_courier_work_task
from lastmile.orders.models import Priority
from tests.dispatch.factories import at, multi_route_day, stored_plan
from tests.dispatch.test_publishing import driver, ready_plan
from tests.factories import UserFactory
from tests.fleet.factories import VehicleFactory
from tests.orders.factories import OrderFactory
from workforce.models import Courier, CourierKind, CourierStatus
from workforce.models import Vehicle as CourierVehicle
from workforce.services import courier_reactivate, courier_suspend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("short_replans")]


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


def _suspend(courier, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        courier_suspend(courier=courier, actor=UserFactory(), reason="Complaint under review")


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


# --- 2. A barred courier's work is handed back --------------------------------------------------


def test_suspending_an_employee_hands_their_route_not_started_to_a_free_employee(
    client, tomorrow, eager_tasks, django_capture_on_commit_callbacks
):
    # given: both vans dispatched to employees; a third employee becomes free afterwards
    hub, plan, (first, _) = _published_two_vans(tomorrow)
    barred = first.courier
    spare = driver(hub, tomorrow)
    # when
    _suspend(barred, django_capture_on_commit_callbacks)
    # then: the route went back through planned, with the courier named, to the free employee
    route = Route.objects.get(pk=first.pk)
    assert (route.status, route.courier_id) == (RouteStatus.DISPATCHED, spare.pk)
    back = PlanEvent.objects.get(
        plan=plan, kind=PlanEvent.Kind.STATUS_CHANGED, payload__route=route.pk
    )
    assert back.payload == {
        "route": route.pk,
        "from": RouteStatus.DISPATCHED,
        "to": RouteStatus.PLANNED,
        "courier": barred.pk,
        "courier_status": CourierStatus.SUSPENDED,
    }
    # and the new driver sees it in the driver API
    client.force_login(spare.user)
    listed = client.get(reverse("api:driver:route-list"))
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [route.pk]


def test_suspending_a_crowd_courier_offers_their_accepted_route_to_the_next_courier(
    client, small_day, tomorrow, eager_tasks, django_capture_on_commit_callbacks
):
    # given: a crowd courier accepted a route; another crowd courier is free
    hub, _, _ = small_day
    taker = driver(hub, tomorrow, kind=CourierKind.CROWD)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    accepted = RouteOffer.objects.get(route__plan=plan, courier=taker, status=OfferStatus.OPEN)
    route_offer_accept(offer_id=accepted.pk, courier=taker)
    nxt = driver(hub, tomorrow, kind=CourierKind.CROWD)
    # when
    _suspend(taker, django_capture_on_commit_callbacks)
    # then: the route has no courier, the accepted offer is withdrawn, the next courier has it
    route = Route.objects.get(pk=accepted.route_id)
    assert (route.status, route.courier_id, route.service_date) == (RouteStatus.PLANNED, None, None)
    assert RouteOffer.objects.get(pk=accepted.pk).status == OfferStatus.WITHDRAWN
    offer = RouteOffer.objects.get(route=route, status=OfferStatus.OPEN)
    assert offer.courier_id == nxt.pk
    client.force_login(nxt.user)
    listed = client.get(reverse("api:driver:offer-list"))
    assert [o["id"] for o in listed.json()] == [offer.pk]
    taken = client.post(reverse("api:driver:offer-accept", args=[offer.pk]))
    assert taken.status_code == 200
    assert Route.objects.get(pk=route.pk).courier_id == nxt.pk


def test_a_route_in_progress_stays_with_the_suspended_courier_and_the_dispatcher_is_told(
    tomorrow, eager_tasks, django_capture_on_commit_callbacks
):
    # given: the courier left the hub
    hub, plan, (first, _) = _published_two_vans(tomorrow)
    barred = first.courier
    route_start(route=first, courier=barred, at=at(hub, tomorrow, 9))
    driver(hub, tomorrow)
    # when: suspended, and the hand-back delivered twice
    _suspend(barred, django_capture_on_commit_callbacks)
    again = release_courier_work_task.delay(barred.pk).get()
    # then: still theirs, one event for the dispatcher
    route = Route.objects.get(pk=first.pk)
    assert (route.status, route.courier_id) == (RouteStatus.IN_PROGRESS, barred.pk)
    event = PlanEvent.objects.get(plan=plan, kind=PlanEvent.Kind.COURIER_BARRED)
    assert event.payload["route"] == route.pk
    assert event.payload["courier"] == barred.pk
    assert event.payload["courier_status"] == CourierStatus.SUSPENDED
    assert again["routes_in_progress"] == []


def test_handing_back_twice_moves_the_route_once(
    small_day, tomorrow, eager_tasks, django_capture_on_commit_callbacks
):
    # given: a suspended crowd courier's accepted route went back on offer
    hub, _, _ = small_day
    taker = driver(hub, tomorrow, kind=CourierKind.CROWD)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    offer = RouteOffer.objects.get(route__plan=plan, courier=taker)
    route_offer_accept(offer_id=offer.pk, courier=taker)
    _suspend(taker, django_capture_on_commit_callbacks)
    events = PlanEvent.objects.filter(plan=plan).count()
    # when
    again = release_courier_work_task.delay(taker.pk).get()
    # then
    assert again == {"offers_withdrawn": 0, "routes_released": [], "routes_in_progress": []}
    assert PlanEvent.objects.filter(plan=plan).count() == events


def test_a_courier_reactivated_before_the_hand_back_runs_keeps_their_route(
    tomorrow, eager_tasks, django_capture_on_commit_callbacks
):
    # given: suspended, the hand-back not run yet, then reactivated
    _, _, (first, _) = _published_two_vans(tomorrow)
    courier = first.courier
    with django_capture_on_commit_callbacks(execute=False):
        courier_suspend(courier=courier, actor=None, reason="Checking a complaint")
    courier_reactivate(courier=courier, actor=None)
    # when
    release_courier_work_task.delay(courier.pk).get()
    # then
    route = Route.objects.get(pk=first.pk)
    assert (route.status, route.courier_id) == (RouteStatus.DISPATCHED, courier.pk)


def test_the_minute_sweep_hands_back_routes_a_lost_hand_back_left_with_a_barred_courier(
    tomorrow, eager_tasks, django_capture_on_commit_callbacks
):
    # given: suspended while the broker was down (the hand-back was never sent)
    hub, _, (first, _) = _published_two_vans(tomorrow)
    barred = first.courier
    spare = driver(hub, tomorrow)
    with django_capture_on_commit_callbacks(execute=False):
        courier_suspend(courier=barred, actor=None, reason="Expired licence")
    # when
    expire_offers_task.delay().get()
    # then
    assert Route.objects.get(pk=first.pk).courier_id == spare.pk


# --- 3. Routes left un-offered are offered by the sweep -----------------------------------------


def _close_without_passing_on(offer):
    """What the duplicate-offer migration did: the offer withdrawn, nobody asked next."""
    now = timezone.now()
    RouteOffer.objects.filter(pk=offer.pk).update(status=OfferStatus.WITHDRAWN, responded_at=now)
    PlanEvent.objects.create(
        plan_id=offer.route.plan_id,
        kind=PlanEvent.Kind.OFFER_WITHDRAWN,
        payload={"route": offer.route_id, "courier": offer.courier_id, "reason": "duplicate"},
        occurred_at=now,
    )


def test_the_minute_sweep_offers_a_route_whose_offer_was_closed_without_asking_the_next(
    client, small_day, tomorrow, eager_tasks
):
    # given: a route's offer closed without passing it on; a crowd courier is free now
    hub, _, _ = small_day
    first = driver(hub, tomorrow, kind=CourierKind.CROWD)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    offer = RouteOffer.objects.get(route__plan=plan, courier=first, status=OfferStatus.OPEN)
    _close_without_passing_on(offer)
    later = driver(hub, tomorrow, kind=CourierKind.CROWD)
    # when: the minute's sweep runs, twice
    expire_offers_task.delay().get()
    expire_offers_task.delay().get()
    # then: the route is on offer once more, and the courier sees it in the driver API
    reoffer = RouteOffer.objects.get(route=offer.route, status=OfferStatus.OPEN)
    assert reoffer.courier_id == later.pk
    assert RouteOffer.objects.filter(route=offer.route).count() == 2
    client.force_login(reoffer.courier.user)
    listed = client.get(reverse("api:driver:offer-list"))
    assert [o["id"] for o in listed.json()] == [reoffer.pk]


def test_a_route_nobody_is_left_to_ask_about_is_not_offered_again_each_minute(tomorrow):
    # given: a published day whose routes found nobody (``no_courier`` recorded)
    hub = multi_route_day(day=tomorrow).hub
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    told = PlanEvent.objects.filter(plan=plan, kind=PlanEvent.Kind.NO_COURIER).count()
    assert told == Route.objects.filter(plan=plan).count()
    # when
    handled = route_offers_resume()
    # then: nothing asked, nothing written
    assert handled == 0
    assert PlanEvent.objects.filter(plan=plan, kind=PlanEvent.Kind.NO_COURIER).count() == told


def test_routes_of_a_day_that_has_passed_are_not_offered(small_day, tomorrow):
    # given: an un-offered route of a published plan, looked at two days later
    hub, _, _ = small_day
    first = driver(hub, tomorrow, kind=CourierKind.CROWD)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    _close_without_passing_on(RouteOffer.objects.get(route__plan=plan, courier=first))
    driver(hub, tomorrow, kind=CourierKind.CROWD)
    # when
    handled = route_offers_resume(now=timezone.now() + dt.timedelta(days=2))
    # then
    assert handled == 0
    assert not RouteOffer.objects.filter(route__plan=plan, status=OfferStatus.OPEN).exists()
