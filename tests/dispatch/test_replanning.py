"""Re-planning a published day while it is driven: triggers, debounce, the live problem, the
diff, and what stays fixed (settled stops, vehicle positions, parcels on board)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from fleet.models import VehicleState
from lastmile.accounts.roles import Role
from lastmile.core.errors import ValidationFailed
from lastmile.dispatch.models import (
    Plan,
    PlanEvent,
    PlanStatus,
    Replan,
    ReplanStatus,
    ReplanTrigger,
    Route,
    RouteStatus,
    Stop,
    StopKind,
    StopStatus,
    UnassignedOrder,
)
from lastmile.dispatch.services import (
    plan_publish,
    route_start,
    stop_arrive,
    stop_deliver,
    stop_fail,
)
from lastmile.dispatch.services.building import job_id_for, replan_input_build
from lastmile.dispatch.services.reading import live_day_read
from lastmile.dispatch.services.replanning import replan_run
from lastmile.dispatch.services.requests import (
    live_days_watch,
    replan_ask,
    replan_request,
    replans_sweep,
)
from lastmile.dispatch.tasks import replan_hub_day_task
from lastmile.orders.models import FailureReason, OrderEvent, OrderStatus, Priority
from lastmile.orders.services import order_cancel
from lastmile.routing.checker import check
from lastmile.routing.params import Backend, SolverParams
from lastmile.routing.solver import solve
from tests.api_schema import assert_code_documented
from tests.dispatch.factories import at, multi_route_day
from tests.dispatch.test_publishing import driver, ready_plan
from tests.factories import StaffFactory
from tests.fleet.factories import VehicleFactory
from tests.hubs.factories import HubFactory
from tests.orders.factories import OrderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("short_replans")]


def _published(day):
    board = multi_route_day(day=day, vans=2, orders=12, van_parcels=8)
    for _ in range(2):
        driver(board.hub, day)
    plan = ready_plan(board.hub, day)
    plan = plan_publish(plan=plan, actor=None)
    routes = list(Route.objects.filter(plan=plan).select_related("courier").order_by("pk"))
    assert len(routes) == 2
    assert all(r.status == RouteStatus.DISPATCHED for r in routes)
    return board, plan, routes


def _order_stops(route):
    return list(
        Stop.objects.filter(route=route, kind=StopKind.DELIVERY)
        .select_related("order")
        .order_by("sequence")
    )


def _settled_rows(route):
    return {
        s.pk: (s.status, s.sequence, s.actual_arrival, s.actual_departure, s.order_id)
        for s in Stop.objects.filter(route=route).exclude(status=StopStatus.PENDING)
    }


def test_mid_route_urgent_order_and_failed_delivery_are_replanned_keeping_what_is_done(
    tomorrow,
):
    # given: both vans out since 09:00; van A delivered two stops and failed the third
    # (recipient absent: retried later today), van B delivered one
    board, plan, (a, b) = _published(tomorrow)
    hub = board.hub
    for route in (a, b):
        route_start(route=route, courier=route.courier, at=at(hub, tomorrow, 9))
    first, second, third, *_ = _order_stops(a)
    stop_deliver(stop=first, courier=a.courier, recipient_name="Anna", at=at(hub, tomorrow, 9, 20))
    stop_deliver(stop=second, courier=a.courier, recipient_name="Ben", at=at(hub, tomorrow, 9, 40))
    stop_fail(
        stop=third,
        courier=a.courier,
        reason=FailureReason.RECIPIENT_ABSENT,
        at=at(hub, tomorrow, 10),
    )
    b_first = _order_stops(b)[0]
    stop_deliver(stop=b_first, courier=b.courier, recipient_name="Cem", at=at(hub, tomorrow, 9, 30))
    # the failure asked for a re-plan; an urgent order arrives and the watcher joins it
    urgent = OrderFactory(
        hub=hub,
        priority=Priority.URGENT,
        latitude=Decimal("52.505000"),
        longitude=Decimal("13.430000"),
        window_start=at(hub, tomorrow, 10, 30),
        window_end=at(hub, tomorrow, 14),
    )
    live_days_watch(now=at(hub, tomorrow, 10, 5))
    replan = Replan.objects.get(plan=plan)
    assert [t["kind"] for t in replan.triggers] == [
        ReplanTrigger.FAILED_DELIVERY,
        ReplanTrigger.NEW_ORDER,
    ]
    settled_a, settled_b = _settled_rows(a), _settled_rows(b)
    retried = third.order
    # when
    done = replan_run(replan_id=replan.pk, now=at(hub, tomorrow, 10, 10))
    # then: applied; every settled stop exactly as it was
    assert done.status == ReplanStatus.APPLIED, done.error
    assert {k: v for k, v in _settled_rows(a).items() if k in settled_a} == settled_a
    assert {k: v for k, v in _settled_rows(b).items() if k in settled_b} == settled_b
    assert done.diff["kept_settled"] == 4
    # each van starts where it is: the stop it left last, at the re-plan's time
    starts = done.stats["starts"]
    assert (starts[a.vehicle.code]["latitude"], starts[a.vehicle.code]["longitude"]) == (
        float(third.latitude),
        float(third.longitude),
    )
    assert starts[a.vehicle.code]["source"] == "stop"
    assert (starts[b.vehicle.code]["latitude"], starts[b.vehicle.code]["longitude"]) == (
        float(b_first.latitude),
        float(b_first.longitude),
    )
    assert dt.datetime.fromisoformat(starts[a.vehicle.code]["at"]) == at(hub, tomorrow, 10, 10)
    # the retry stays on van A (the parcel is on board), in its new window, out for delivery
    retry_stop = Stop.objects.get(order=retried, status=StopStatus.PENDING)
    assert retry_stop.route_id == a.pk
    retried.refresh_from_db()
    assert retried.status == OrderStatus.OUT_FOR_DELIVERY
    assert retry_stop.window_start == at(hub, tomorrow, 11)
    assert retry_stop.planned_start >= at(hub, tomorrow, 11)
    # the urgent order is on a route, after a reload at the hub (both vans are out)
    urgent_stop = Stop.objects.get(order=urgent, status=StopStatus.PENDING)
    route_stops = list(Stop.objects.filter(route_id=urgent_stop.route_id).order_by("sequence"))
    before = route_stops[: route_stops.index(urgent_stop)]
    reloads = [s for s in before if s.kind == StopKind.RELOAD and s.status == StopStatus.PENDING]
    assert reloads
    # loading at the hub takes its time, and the order leaves after it
    assert reloads[-1].planned_departure - reloads[-1].planned_arrival >= dt.timedelta(
        seconds=django_settings.DISPATCH_RELOAD_S
    )
    assert urgent_stop.planned_arrival > reloads[-1].planned_departure
    urgent.refresh_from_db()
    assert urgent.status == OrderStatus.PLANNED
    # the diff names both additions; pending stops come after the settled ones, on time
    added = {row["order"]: row["why"] for row in done.diff["added"]}
    assert added == {urgent.pk: "new", retried.pk: "retry"}
    for route in (a, b):
        rows = list(Stop.objects.filter(route=route).order_by("sequence"))
        pending = [s for s in rows if s.status == StopStatus.PENDING]
        settled = [s for s in rows if s.status != StopStatus.PENDING]
        assert max(s.sequence for s in settled) < min(s.sequence for s in pending)
        for stop in pending:
            assert stop.planned_start >= at(hub, tomorrow, 10, 10)
            if stop.order_id:
                assert stop.window_start <= stop.planned_start <= stop.window_end
    event = PlanEvent.objects.get(plan=plan, kind=PlanEvent.Kind.REPLANNED)
    assert event.payload["added"] == 2


def test_a_courier_fetches_a_replanned_order_at_the_hub_and_delivers_it(client, tomorrow):
    # given: van A on the road (it left the hub); an urgent order re-planned onto it behind a
    # reload stop
    board, plan, (a, b) = _published(tomorrow)
    hub = board.hub
    _leave_the_hub(a, hub, tomorrow)
    Route.objects.filter(pk=b.pk).update(status=RouteStatus.COMPLETED)  # only A is out
    urgent = OrderFactory(
        hub=hub, window_start=at(hub, tomorrow, 9), window_end=at(hub, tomorrow, 19)
    )
    now = at(hub, tomorrow, 9, 20)
    replan = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER, now=now)
    assert replan_run(replan_id=replan.pk, now=now).status == "applied"
    reload = Stop.objects.get(route=a, kind=StopKind.RELOAD, status=StopStatus.PENDING)
    fetched = Stop.objects.get(order=urgent, status=StopStatus.PENDING)
    assert fetched.route_id == a.pk
    client.force_login(a.courier.user)
    # when: the courier says the reload is done, then delivers the order (through the API)
    refused = client.post(reverse("api:driver:stop-complete", args=[fetched.pk]))
    loaded = client.post(reverse("api:driver:stop-complete", args=[reload.pk]))
    urgent.refresh_from_db()
    status_after_loading = urgent.status
    delivered = client.post(
        reverse("api:driver:stop-deliver", args=[fetched.pk]), {"recipient_name": "Fay"}
    )
    # then
    assert refused.status_code == 409
    assert refused.json()["code"] == "order_stop"
    assert_code_documented(refused)
    assert loaded.status_code == 200
    assert loaded.json()["stop"]["status"] == StopStatus.COMPLETED
    assert status_after_loading == OrderStatus.OUT_FOR_DELIVERY
    assert delivered.status_code == 200
    urgent.refresh_from_db()
    assert urgent.status == OrderStatus.DELIVERED


def test_my_route_offers_done_for_a_reload_and_delivery_forms_for_orders(client, tomorrow):
    # given: a started route with a reload stop after a re-plan
    board, plan, (a, b) = _published(tomorrow)
    hub = board.hub
    _leave_the_hub(a, hub, tomorrow)
    Route.objects.filter(pk=b.pk).update(status=RouteStatus.COMPLETED)
    OrderFactory(hub=hub, window_start=at(hub, tomorrow, 9), window_end=at(hub, tomorrow, 19))
    now = at(hub, tomorrow, 9, 20)
    replan = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER, now=now)
    replan_run(replan_id=replan.pk, now=now)
    reload = Stop.objects.get(route=a, kind=StopKind.RELOAD, status=StopStatus.PENDING)
    client.force_login(a.courier.user)
    # when
    page = client.get(reverse("dispatch_portal:route", args=[a.pk]))
    done = client.post(reverse("dispatch_portal:stop_complete", args=[reload.pk]))
    # then
    body = page.content.decode()
    assert "Loaded, leaving the hub" in body
    assert reverse("dispatch_portal:stop_complete", args=[reload.pk]) in body
    assert done.status_code == 302
    reload.refresh_from_db()
    assert reload.status == StopStatus.COMPLETED


def test_an_urgent_order_nobody_on_the_road_can_reach_in_time_goes_out_with_a_free_van(tomorrow):
    # given: both vans out since 09:00; a third van and a driver are free at the hub
    board, plan, (a, b) = _published(tomorrow)
    hub = board.hub
    for route in (a, b):
        route_start(route=route, courier=route.courier, at=at(hub, tomorrow, 9))
        # at 09:59 both report a fix some 5 km south of the hub
        VehicleState.objects.filter(vehicle=route.vehicle).update(
            recorded_at=at(hub, tomorrow, 9, 59),
            latitude=Decimal("52.450000"),
            longitude=hub.longitude,
        )
    spare = VehicleFactory(home_hub=hub, vehicle_type=a.vehicle.vehicle_type)
    free_driver = driver(hub, tomorrow)
    # an order next to the hub that must be served within minutes
    urgent = OrderFactory(
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
    # then: a new route for the spare van, driven by the free driver, serves it
    assert done.status == ReplanStatus.APPLIED, done.error
    route = Route.objects.get(plan=plan, vehicle=spare)
    assert route.courier == free_driver
    assert route.status == RouteStatus.DISPATCHED
    assert list(route.stops.values_list("order_id", flat=True)) == [urgent.pk]
    assert done.diff["new_routes"] == [{"route": route.pk, "vehicle": spare.code, "driver": True}]
    assert done.diff["added"][0]["vehicle"] == spare.code


def test_triggers_within_the_debounce_join_one_replan(tomorrow, django_capture_on_commit_callbacks):
    # given
    _, plan, _ = _published(tomorrow)
    # when
    with django_capture_on_commit_callbacks() as sent:
        first = replan_request(plan=plan, trigger=ReplanTrigger.MANUAL)
        second = replan_request(plan=plan, trigger=ReplanTrigger.LATE, detail={"route": 1})
    # then: one row, both triggers, one task sent
    assert first.pk == second.pk
    assert second.joined
    assert [t["kind"] for t in Replan.objects.get().triggers] == ["manual", "late"]
    assert len(sent) == 1


def test_a_replan_that_is_not_queued_does_nothing(tomorrow):
    _, plan, _ = _published(tomorrow)
    replan = replan_request(plan=plan, trigger=ReplanTrigger.MANUAL)
    assert replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 8)).status == "applied"
    # when: the task is delivered again
    again = replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 8))
    # then
    assert again is None
    assert Replan.objects.get().status == ReplanStatus.APPLIED


def test_before_the_day_starts_a_replan_keeps_every_order_on_its_route(tomorrow):
    # given: nothing has changed since publishing
    _, plan, _routes = _published(tomorrow)
    before = {s.order_id: s.route_id for s in Stop.objects.filter(route__plan=plan)}
    # when
    replan = replan_request(plan=plan, trigger=ReplanTrigger.MANUAL)
    done = replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 7))
    # then: no order moved, nothing dropped or added, the same stop rows
    assert done.status == ReplanStatus.APPLIED, done.error
    assert done.diff["moved"] == []
    assert done.diff["dropped"] == []
    assert done.diff["added"] == []
    after = {
        s.order_id: s.route_id
        for s in Stop.objects.filter(route__plan=plan, status=StopStatus.PENDING)
    }
    assert after == before


def test_a_cancelled_order_is_dropped_from_its_route(tomorrow):
    # given: an order of a route not started yet is cancelled
    _, plan, (a, _) = _published(tomorrow)
    stop = _order_stops(a)[1]
    order_cancel(order=stop.order, reason="customer changed their mind", source="api")
    # when
    requested = live_days_watch(now=at(plan.hub, tomorrow, 8))
    done = replan_run(replan_id=requested[0].pk, now=at(plan.hub, tomorrow, 8))
    # then
    assert done.status == ReplanStatus.APPLIED, done.error
    stop.refresh_from_db()
    assert stop.status == StopStatus.SKIPPED
    assert done.diff["dropped"][0]["order"] == stop.order_id
    assert done.diff["dropped"][0]["reason"] == "cancelled"


def test_a_new_order_that_fits_nowhere_is_listed_unassigned_with_its_reason(tomorrow):
    # given: an order whose window closed before the re-plan runs
    _, plan, _ = _published(tomorrow)
    late = OrderFactory(
        hub=plan.hub, window_start=at(plan.hub, tomorrow, 7), window_end=at(plan.hub, tomorrow, 8)
    )
    replan = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER)
    # when
    done = replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 9))
    # then
    assert done.status == ReplanStatus.APPLIED, done.error
    assert done.diff["unassigned"][0]["order"] == late.pk
    assert done.diff["unassigned"][0]["reason"] == "window"
    assert UnassignedOrder.objects.get(plan=plan, order=late).reason == "window"
    late.refresh_from_db()
    assert late.status == OrderStatus.CREATED


def test_a_route_that_starts_while_solving_makes_the_replan_try_again(tomorrow, monkeypatch):
    # given: the courier starts route A while the engine works
    _, plan, (a, _) = _published(tomorrow)
    replan = replan_request(plan=plan, trigger=ReplanTrigger.MANUAL)
    from lastmile.dispatch.services import solving

    real_solve = solving.solve

    def solve_while_route_starts(problem, params):
        Route.objects.filter(pk=a.pk).update(status=RouteStatus.IN_PROGRESS)
        return real_solve(problem, params)

    monkeypatch.setattr(solving, "solve", solve_while_route_starts)
    # when
    done = replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 8))
    # then: nothing applied, a new re-plan queued
    assert done.status == ReplanStatus.FAILED
    assert "re-planning again" in done.error
    queued = Replan.objects.get(plan=plan, status=ReplanStatus.QUEUED)
    assert queued.triggers[0]["kind"] == ReplanTrigger.RETRY


def test_a_stop_newly_running_late_asks_for_a_replan(
    tomorrow, settings, eager_tasks, django_capture_on_commit_callbacks
):
    # given: a started route whose last stop's window ends early
    settings.DISPATCH_LATE_REPLAN_S = 0
    _, plan, (a, _) = _published(tomorrow)
    with django_capture_on_commit_callbacks(execute=True):  # the ETA refresh
        route_start(route=a, courier=a.courier, at=at(plan.hub, tomorrow, 9))
    assert not Replan.objects.exists()
    last = _order_stops(a)[-1]
    # on time as estimated at the start, with a minute to spare
    Stop.objects.filter(pk=last.pk).update(window_end=last.eta + dt.timedelta(minutes=1))
    first = _order_stops(a)[0]
    # when: the first delivery happens at 11:00, two hours late; its ETA refresh runs after
    # commit (the re-plan that asks for stays queued)
    with django_capture_on_commit_callbacks() as callbacks:
        stop_deliver(
            stop=first, courier=a.courier, recipient_name="Dana", at=at(plan.hub, tomorrow, 11)
        )
    for callback in callbacks:
        callback()
    # then
    replan = Replan.objects.get(plan=plan)
    assert replan.triggers[0]["kind"] == ReplanTrigger.LATE
    assert last.pk in replan.triggers[0]["stops"]


def test_a_recipient_absent_through_the_driver_api_is_retried_later_that_day(client, tomorrow):
    # given: van A on the road
    _, plan, (a, _) = _published(tomorrow)
    client.force_login(a.courier.user)
    client.post(reverse("api:driver:route-start", args=[a.pk]))
    stop = _order_stops(a)[0]
    # when
    failed = client.post(
        reverse("api:driver:stop-fail", args=[stop.pk]), {"reason": FailureReason.RECIPIENT_ABSENT}
    )
    retried = client.post(
        reverse("api:driver:stop-fail", args=[stop.pk]), {"reason": FailureReason.RECIPIENT_ABSENT}
    )
    # then: the order waits for a new window that day, and one re-plan is asked for
    assert failed.status_code == 200
    assert retried.status_code == 200
    stop.order.refresh_from_db()
    assert stop.order.status == OrderStatus.RESCHEDULED
    assert stop.order.service_date == tomorrow
    assert stop.order.window_end == at(plan.hub, tomorrow, 20)
    replan = Replan.objects.get(plan=plan)
    assert [t["kind"] for t in replan.triggers] == [ReplanTrigger.FAILED_DELIVERY]


def test_a_refused_delivery_is_not_retried_the_same_day(tomorrow):
    _, plan, (a, _) = _published(tomorrow)
    route_start(route=a, courier=a.courier, at=at(plan.hub, tomorrow, 9))
    stop = _order_stops(a)[0]
    stop_fail(
        stop=stop, courier=a.courier, reason=FailureReason.REFUSED, at=at(plan.hub, tomorrow, 9, 30)
    )
    stop.order.refresh_from_db()
    assert stop.order.status == OrderStatus.FAILED
    assert not Replan.objects.exists()


def test_moved_windows_reach_the_order_timeline(tomorrow):
    # given: van A started late (11:00), so its customers' windows shift
    _, plan, (a, _) = _published(tomorrow)
    route_start(route=a, courier=a.courier, at=at(plan.hub, tomorrow, 11))
    replan = replan_request(plan=plan, trigger=ReplanTrigger.MANUAL)
    # when
    done = replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 11))
    # then
    assert done.status == ReplanStatus.APPLIED, done.error
    assert OrderEvent.objects.filter(
        order__stops__route=a, kind=OrderEvent.Kind.ETA_CHANGED
    ).exists()


# --- HTTP ----------------------------------------------------------------------------------


def test_a_dispatcher_replans_from_the_board_and_sees_the_diff(
    client, tomorrow, eager_tasks, django_capture_on_commit_callbacks
):
    # given: a published day where a new order came in
    _, plan, _ = _published(tomorrow)
    extra = OrderFactory(
        hub=plan.hub, window_start=at(plan.hub, tomorrow, 12), window_end=at(plan.hub, tomorrow, 16)
    )
    client.force_login(StaffFactory(role=Role.DISPATCHER))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        requested = client.post(reverse("dispatch:board_replan", args=[plan.pk]))
    data = client.get(
        reverse("dispatch:board_data"), {"hub": plan.hub.code, "date": tomorrow.isoformat()}
    )
    # then
    assert requested.status_code == 202
    body = data.json()
    assert body["plan"]["can_replan"] is True
    replan = body["replans"][0]
    assert replan["triggers"][0]["kind"] == "manual"
    assert replan["status"] == "applied", replan["error"]
    assert replan["added"] == [extra.external_reference]
    stops = [s for r in body["routes"] for s in r["stops"]]
    assert extra.external_reference in [s[5] for s in stops]


def test_only_published_plans_can_be_replanned_over_http(client, small_day, tomorrow):
    # given: a plan that is ready, not published
    hub, _, _ = small_day
    plan = ready_plan(hub, tomorrow)
    client.force_login(StaffFactory(role=Role.DISPATCHER))
    # when
    response = client.post(reverse("dispatch:board_replan", args=[plan.pk]))
    # then
    assert response.status_code == 409
    assert response.json()["code"] == "plan_not_published"
    assert not Replan.objects.exists()


def test_a_fresh_telematics_fix_is_where_a_van_on_the_road_starts(tomorrow):
    # given: van A left its first stop at 09:20 and reported a fix at 09:50
    _, plan, (a, _) = _published(tomorrow)
    hub = plan.hub
    route_start(route=a, courier=a.courier, at=at(hub, tomorrow, 9))
    stop_deliver(
        stop=_order_stops(a)[0],
        courier=a.courier,
        recipient_name="Eda",
        at=at(hub, tomorrow, 9, 20),
    )
    VehicleState.objects.filter(vehicle=a.vehicle).update(
        recorded_at=at(hub, tomorrow, 9, 50),
        latitude=Decimal("52.511111"),
        longitude=Decimal("13.411111"),
    )
    replan = replan_request(plan=plan, trigger=ReplanTrigger.MANUAL)
    # when
    done = replan_run(replan_id=replan.pk, now=at(hub, tomorrow, 9, 55))
    # then
    start = done.stats["starts"][a.vehicle.code]
    assert start["source"] == "telematics"
    assert (start["latitude"], start["longitude"]) == (52.511111, 13.411111)


def test_the_plan_page_lists_each_replan_with_what_it_changed(client, tomorrow):
    # given: a re-plan that added an order
    _, plan, _ = _published(tomorrow)
    OrderFactory(
        hub=plan.hub, window_start=at(plan.hub, tomorrow, 12), window_end=at(plan.hub, tomorrow, 16)
    )
    replan = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER)
    replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 7))
    client.force_login(StaffFactory(role=Role.DISPATCHER))
    # when
    response = client.get(f"/admin/dispatch/plan/{plan.pk}/change/")
    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert "re-plans during the day" in body.lower()
    assert "1 added" in body
    assert "new_order" in body


def test_a_trigger_from_a_courier_update_on_a_past_day_is_skipped_not_an_error(tomorrow):
    # given: a published plan whose day has passed (a courier finishing after midnight)
    _, plan, _ = _published(tomorrow)
    Plan.objects.filter(pk=plan.pk).update(service_date=tomorrow - dt.timedelta(days=2))
    # when
    asked = replan_ask(plan=plan, trigger=ReplanTrigger.LATE, detail={"route": 1})
    # then
    assert asked is None
    assert not Replan.objects.exists()
    with pytest.raises(ValidationFailed):
        replan_request(plan=plan, trigger=ReplanTrigger.MANUAL)


# --- The day as it really goes: late vans, couriers tapping while the engine works ----------


def _leave_the_hub(route, hub, day):
    """The route starts at 09:00 and its first stop is delivered at 09:10."""
    route_start(route=route, courier=route.courier, at=at(hub, day, 9))
    stop_deliver(
        stop=_order_stops(route)[0],
        courier=route.courier,
        recipient_name="Jo",
        at=at(hub, day, 9, 10),
    )


def _deliver_all_but(route, keep: int, hub, day, start_hour: int = 9):
    stops = _order_stops(route)
    for n, stop in enumerate(stops[: len(stops) - keep]):
        stop_deliver(
            stop=stop,
            courier=route.courier,
            recipient_name="Gus",
            at=at(hub, day, start_hour) + dt.timedelta(minutes=10 * (n + 1)),
        )
    return stops[len(stops) - keep :]


def test_parcels_on_board_of_a_van_running_past_its_shift_are_kept_not_dropped(tomorrow):
    # given: van A still has three parcels on board at 19:50, shift ends at 20:00
    board, plan, (a, b) = _published(tomorrow)
    hub = board.hub
    route_start(route=a, courier=a.courier, at=at(hub, tomorrow, 9))
    Route.objects.filter(pk=b.pk).update(status=RouteStatus.COMPLETED)
    left = _deliver_all_but(a, 3, hub, tomorrow)
    replan = replan_request(plan=plan, trigger=ReplanTrigger.LATE, now=at(hub, tomorrow, 19, 50))
    # when
    done = replan_run(replan_id=replan.pk, now=at(hub, tomorrow, 19, 50))
    # then: all three stay on A (late, in overtime), nothing dropped or unplanned
    assert done.status == ReplanStatus.APPLIED, done.error
    assert done.diff["dropped"] == []
    pending = Stop.objects.filter(route=a, status=StopStatus.PENDING, kind=StopKind.DELIVERY)
    assert {s.order_id for s in pending} == {s.order_id for s in left}
    assert not UnassignedOrder.objects.filter(plan=plan).exists()


def test_a_stop_settled_while_the_engine_works_stays_settled_and_is_not_reported(
    tomorrow, monkeypatch
):
    # given: the courier delivers A's first stop while the re-plan solves
    board, plan, (a, _) = _published(tomorrow)
    hub = board.hub
    route_start(route=a, courier=a.courier, at=at(hub, tomorrow, 9))
    first = _order_stops(a)[0]
    from lastmile.dispatch.services import solving

    real_solve = solving.solve

    def solve_while_delivering(problem, params):
        stop_deliver(
            stop=first, courier=a.courier, recipient_name="Hal", at=at(hub, tomorrow, 9, 5)
        )
        return real_solve(problem, params)

    monkeypatch.setattr(solving, "solve", solve_while_delivering)
    replan = replan_request(plan=plan, trigger=ReplanTrigger.MANUAL, now=at(hub, tomorrow, 9))
    # when
    done = replan_run(replan_id=replan.pk, now=at(hub, tomorrow, 9))
    # then
    assert done.status == ReplanStatus.APPLIED, done.error
    assert done.diff["settled_meanwhile"] == [first.order_id]
    assert first.order_id not in [row["order"] for row in done.diff["dropped"]]
    assert not UnassignedOrder.objects.filter(plan=plan, order_id=first.order_id).exists()
    first.refresh_from_db()
    assert first.status == StopStatus.COMPLETED


def test_a_new_order_cancelled_while_the_engine_works_makes_the_replan_run_again(
    tomorrow, monkeypatch
):
    # given
    _, plan, _ = _published(tomorrow)
    extra = OrderFactory(
        hub=plan.hub, window_start=at(plan.hub, tomorrow, 12), window_end=at(plan.hub, tomorrow, 16)
    )
    from lastmile.dispatch.services import solving

    real_solve = solving.solve

    def solve_while_cancelling(problem, params):
        order_cancel(order=extra, reason="not needed", source="api")
        return real_solve(problem, params)

    monkeypatch.setattr(solving, "solve", solve_while_cancelling)
    replan = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER)
    # when
    done = replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 7))
    # then: nothing applied, the order not planned, another run queued
    assert done.status == ReplanStatus.FAILED
    extra.refresh_from_db()
    assert extra.status == OrderStatus.CANCELLED
    assert not Stop.objects.filter(order=extra).exists()
    assert Replan.objects.get(status=ReplanStatus.QUEUED).triggers[0]["kind"] == "retry"


def test_a_van_at_a_reload_loads_what_the_replan_adds_without_a_second_reload(tomorrow):
    # given: A is at the hub at a reload a first re-plan added for an urgent order
    board, plan, (a, b) = _published(tomorrow)
    hub = board.hub
    _leave_the_hub(a, hub, tomorrow)
    Route.objects.filter(pk=b.pk).update(status=RouteStatus.COMPLETED)
    # two orders due north of the hub, 2 km and 2.5 km out: one trip serves both
    north = Decimal(hub.latitude)
    OrderFactory(
        hub=hub, latitude=north + Decimal("0.018"), longitude=hub.longitude,
        window_start=at(hub, tomorrow, 9), window_end=at(hub, tomorrow, 19),
    )  # fmt: skip
    now = at(hub, tomorrow, 9, 20)
    first = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER, now=now)
    replan_run(replan_id=first.pk, now=now)
    rows = list(Stop.objects.filter(route=a, status=StopStatus.PENDING).order_by("sequence"))
    reload = next(s for s in rows if s.kind == StopKind.RELOAD)
    for n, stop in enumerate(rows[: rows.index(reload)]):
        stop_deliver(
            stop=stop, courier=a.courier, recipient_name="Ida",
            at=at(hub, tomorrow, 9, 20) + dt.timedelta(minutes=5 * (n + 1)),
        )  # fmt: skip
    stop_arrive(stop=reload, courier=a.courier, at=at(hub, tomorrow, 13))
    another = OrderFactory(
        hub=hub, latitude=north + Decimal("0.0225"), longitude=hub.longitude,
        window_start=at(hub, tomorrow, 9), window_end=at(hub, tomorrow, 19),
    )  # fmt: skip
    # when
    second = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER, now=at(hub, tomorrow, 13))
    done = replan_run(replan_id=second.pk, now=at(hub, tomorrow, 13, 1))
    # then: the new order rides on the trip being loaded; no second reload appears
    assert done.status == ReplanStatus.APPLIED, done.error
    reloads = Stop.objects.filter(route=a, kind=StopKind.RELOAD).exclude(status=StopStatus.SKIPPED)
    assert list(reloads) == [reload]
    added = Stop.objects.get(order=another, status=StopStatus.PENDING)
    assert added.route_id == a.pk
    assert added.trip == reload.trip + 1


def test_the_button_sends_a_run_even_when_one_is_queued_and_the_sweeper_resends_lost_ones(
    tomorrow, django_capture_on_commit_callbacks, settings
):
    # given: a queued re-plan whose task was lost
    settings.TASK_MAX_ATTEMPTS = 2
    _, plan, _ = _published(tomorrow)
    with django_capture_on_commit_callbacks() as lost:
        queued = replan_request(
            plan=plan, trigger=ReplanTrigger.LATE, now=at(plan.hub, tomorrow, 9)
        )
    assert len(lost) == 1
    # when: the dispatcher presses the button
    with django_capture_on_commit_callbacks() as pressed:
        replan_request(
            plan=plan,
            trigger=ReplanTrigger.MANUAL,
            debounce=False,
            now=at(plan.hub, tomorrow, 9, 5),
        )
    # and later the minute's sweep finds it still queued, a run whose worker died once (it
    # is sent again, to be taken over) and one whose worker died as often as allowed
    sweep_at = at(plan.hub, tomorrow, 9, 10)
    Replan.objects.filter(pk=queued.pk).update(
        run_after=at(plan.hub, tomorrow, 9), sent_at=at(plan.hub, tomorrow, 9)
    )
    other_day = Plan.objects.create(
        hub=HubFactory(), service_date=plan.service_date, status=PlanStatus.PUBLISHED
    )
    restartable = Replan.objects.create(
        plan=other_day,
        status=ReplanStatus.RUNNING,
        run_after=at(plan.hub, tomorrow, 8),
        started_at=at(plan.hub, tomorrow, 8),
        attempts=1,
        lease_owner="dead-worker",
        lease_expires_at=sweep_at - dt.timedelta(seconds=1),
    )
    dead = Replan.objects.create(
        plan=plan,
        status=ReplanStatus.RUNNING,
        run_after=at(plan.hub, tomorrow, 8),
        started_at=at(plan.hub, tomorrow, 8),
        attempts=2,
        lease_owner="dead-worker",
        lease_expires_at=sweep_at - dt.timedelta(seconds=1),
    )
    with django_capture_on_commit_callbacks() as swept:
        result = replans_sweep(now=sweep_at)
    # then
    assert len(pressed) == 1
    assert result.resent == [queued.pk]
    assert result.restarted == [restartable.pk]
    assert result.given_up == [dead.pk]
    assert len(swept) == 2
    dead.refresh_from_db()
    assert dead.status == ReplanStatus.FAILED
    assert "stopped 2 time(s)" in dead.error


def test_a_replan_whose_worker_died_is_taken_over_and_one_with_a_live_lease_is_not(tomorrow):
    # given: a re-plan a worker started, then died in (lease expired)
    _, plan, _ = _published(tomorrow)
    replan = replan_request(
        plan=plan, trigger=ReplanTrigger.MANUAL, debounce=False, now=at(plan.hub, tomorrow, 9)
    )
    live = timezone.now() + dt.timedelta(seconds=60)
    Replan.objects.filter(pk=replan.pk).update(
        status=ReplanStatus.RUNNING, lease_owner="worker-a", lease_expires_at=live, attempts=1
    )
    # when: its task is delivered again while the lease is live, nothing happens
    assert replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 9, 1)) is None
    replan.refresh_from_db()
    assert (replan.status, replan.lease_owner) == (ReplanStatus.RUNNING, "worker-a")
    # and once the lease expired, the delivery takes it over and applies it
    Replan.objects.filter(pk=replan.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    done = replan_run(replan_id=replan.pk, now=at(plan.hub, tomorrow, 9, 2))
    # then
    assert done.status == ReplanStatus.APPLIED, done.error
    assert done.attempts == 2
    assert done.lease_owner == ""


def test_in_process_a_busy_day_leaves_the_replan_queued_instead_of_recursing(tomorrow, eager_tasks):
    # given: a re-plan running, and one queued behind it
    _, plan, _ = _published(tomorrow)
    Replan.objects.create(
        plan=plan, status=ReplanStatus.RUNNING, run_after=at(plan.hub, tomorrow, 8)
    )
    queued = Replan.objects.create(plan=plan, run_after=at(plan.hub, tomorrow, 8))
    # when
    result = replan_hub_day_task.delay(queued.pk).get()
    # then
    assert result == ReplanStatus.QUEUED
    queued.refresh_from_db()
    assert queued.status == ReplanStatus.QUEUED


def test_a_van_started_but_still_at_the_hub_loads_a_new_order_without_a_reload(tomorrow):
    # given: A started at 09:00 and has not delivered anything yet; B is done
    board, plan, (a, b) = _published(tomorrow)
    hub = board.hub
    route_start(route=a, courier=a.courier, at=at(hub, tomorrow, 9))
    Route.objects.filter(pk=b.pk).update(status=RouteStatus.COMPLETED)
    extra = OrderFactory(
        hub=hub, window_start=at(hub, tomorrow, 9), window_end=at(hub, tomorrow, 19)
    )
    replan = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER, now=at(hub, tomorrow, 9, 2))
    # when
    done = replan_run(replan_id=replan.pk, now=at(hub, tomorrow, 9, 2))
    # then
    assert done.status == ReplanStatus.APPLIED, done.error
    assert Stop.objects.get(order=extra, status=StopStatus.PENDING).route_id == a.pk
    assert not Stop.objects.filter(route=a, kind=StopKind.RELOAD).exists()


def test_a_failed_parcel_on_board_rides_out_its_trip_so_a_full_next_trip_keeps_the_live_start(
    tomorrow, settings
):
    # given: one van of 8 parcels driving two full trips; on trip 1 it delivered seven
    # parcels and failed the eighth (retried today: the parcel stays on board), and the eight
    # parcels of trip 2 wait at the hub
    settings.DISPATCH_MULTI_TRIP_PROFILES = ["van"]
    settings.DISPATCH_TIME_LIMIT_S = 3  # enough for the plan to find both trips
    board = multi_route_day(day=tomorrow, vans=1, orders=16, van_parcels=8)
    hub = board.hub
    driver(hub, tomorrow)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    (route,) = Route.objects.filter(plan=plan).select_related("courier")
    stops = _order_stops(route)
    trip_one = [s for s in stops if s.trip == 1]
    assert len(trip_one) == 8
    assert len(stops) == 16
    route_start(route=route, courier=route.courier, at=at(hub, tomorrow, 9))
    for n, stop in enumerate(trip_one[:-1]):
        stop_deliver(
            stop=stop, courier=route.courier, recipient_name="Gus",
            at=at(hub, tomorrow, 9) + dt.timedelta(minutes=5 * (n + 1)),
        )  # fmt: skip
    stop_fail(
        stop=trip_one[-1],
        courier=route.courier,
        reason=FailureReason.RECIPIENT_ABSENT,
        at=at(hub, tomorrow, 10),
    )
    day = live_day_read(plan=plan, now=at(hub, tomorrow, 10, 5))
    # when: the re-plan's problem is built and the engine starts from the live route
    data = replan_input_build(day)
    solution = solve(
        data.problem,
        SolverParams(backend=Backend.ORTOOLS, time_limit_s=1, initial_routes=data.initial_routes),
    )
    # then: the start is the van's live route (the retry goes before the van reloads, where
    # it has room for it), not a plan built from scratch, and it delivers every parcel
    assert solution.stats["first_solution"] == "initial_routes"
    start = data.initial_routes[route.vehicle.code]
    retry = job_id_for(trip_one[-1].order_id)
    assert start.index(retry) < min(start.index(f"p{s.order_id}") for s in stops[8:])
    assert check(data.problem, solution).feasible
    assert solution.unassigned == ()


def test_a_replan_keeps_the_drivers_planned_break_after_the_same_stop(tomorrow):
    # given: van A on the road since 09:00, a 30-minute break planned after its third stop
    board, plan, (a, _) = _published(tomorrow)
    hub = board.hub
    route_start(route=a, courier=a.courier, at=at(hub, tomorrow, 9))
    third = _order_stops(a)[2]
    later = Stop.objects.filter(route=a, sequence__gt=third.sequence)
    later.update(sequence=F("sequence") + 1000)
    Stop.objects.filter(route=a, sequence__gt=1000).update(sequence=F("sequence") - 999)
    pause = Stop.objects.create(
        route=a, kind=StopKind.BREAK, sequence=third.sequence + 1, trip=third.trip,
        latitude=third.latitude, longitude=third.longitude,
        planned_arrival=third.planned_departure, planned_start=third.planned_departure,
        planned_departure=third.planned_departure + dt.timedelta(minutes=30),
        eta=third.planned_departure,
    )  # fmt: skip
    OrderFactory(hub=hub, window_start=at(hub, tomorrow, 9), window_end=at(hub, tomorrow, 19))
    replan = replan_request(plan=plan, trigger=ReplanTrigger.NEW_ORDER, now=at(hub, tomorrow, 9, 5))
    # when
    done = replan_run(replan_id=replan.pk, now=at(hub, tomorrow, 9, 5))
    # then: the same break row, still after the third stop, lasting as long, right after it
    assert done.status == ReplanStatus.APPLIED, done.error
    pause.refresh_from_db()
    assert (pause.route_id, pause.status) == (a.pk, StopStatus.PENDING)
    before = (
        Stop.objects.filter(route=a, status=StopStatus.PENDING, sequence__lt=pause.sequence)
        .order_by("-sequence")
        .first()
    )
    assert before.order_id == third.order_id
    assert pause.planned_start == before.planned_departure
    assert pause.planned_departure - pause.planned_start == dt.timedelta(minutes=30)
    assert Stop.objects.filter(route=a, kind=StopKind.BREAK).count() == 1
