"""Requesting, cancelling and running plans: joins, idempotency, replacement, end to end."""

import datetime as dt

import pytest
from django.utils import timezone

from lastmile.core.errors import InvalidTransition, ValidationFailed
from lastmile.demo import seed_demo
from lastmile.dispatch.models import (
    Plan,
    PlanEvent,
    PlanPhase,
    PlanStatus,
    Route,
    Stop,
    StopKind,
    UnassignedOrder,
)
from lastmile.dispatch.services import plan_cancel, plan_request, plan_run
from lastmile.dispatch.services import running as running_module
from lastmile.dispatch.services import solving as solving_module
from lastmile.hubs.models import Hub
from lastmile.orders.models import Order, OrderStatus
from lastmile.routing.checker import CheckReport
from lastmile.routing.solution import Solution
from tests.dispatch.checks import check_stored
from tests.factories import UserFactory
from tests.hubs.factories import HubFactory

pytestmark = pytest.mark.django_db


def test_a_request_queues_a_plan_and_sends_the_task_after_commit(
    small_day, tomorrow, django_capture_on_commit_callbacks, monkeypatch
):
    # given
    hub, _, _ = small_day
    sent = []
    monkeypatch.setattr(
        "lastmile.dispatch.tasks.plan_hub_day_task.apply_async",
        lambda args, task_id: sent.append((args, task_id)),
    )

    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        plan = plan_request(hub=hub, service_date=tomorrow, actor=None)
        assert sent == []  # nothing leaves before the commit

    # then
    assert len(callbacks) == 1
    assert sent == [((plan.pk,), plan.celery_task_id)]
    assert plan.status == PlanStatus.QUEUED
    assert not plan.joined
    assert list(plan.events.values_list("kind", flat=True)) == [PlanEvent.Kind.REQUESTED]


def test_a_second_request_while_one_is_active_joins_it(small_day, tomorrow):
    # given
    hub, _, _ = small_day
    first = plan_request(hub=hub, service_date=tomorrow, actor=None)
    dispatcher = UserFactory()

    # when
    second = plan_request(hub=hub, service_date=tomorrow, actor=dispatcher)

    # then: the same plan, marked as joined, with a "joined" event; no second run
    assert second.pk == first.pk
    assert second.joined is True
    assert Plan.objects.filter(hub=hub, service_date=tomorrow).count() == 1
    assert first.events.filter(kind=PlanEvent.Kind.JOINED, actor=dispatcher).count() == 1


def test_the_database_refuses_a_second_active_plan_for_a_hub_and_day(small_day, tomorrow):
    from django.db import IntegrityError, transaction

    hub, _, _ = small_day
    Plan.objects.create(hub=hub, service_date=tomorrow, status=PlanStatus.RUNNING)

    with pytest.raises(IntegrityError), transaction.atomic():
        Plan.objects.create(hub=hub, service_date=tomorrow, status=PlanStatus.QUEUED)
    # A finished plan does not count.
    Plan.objects.create(hub=hub, service_date=tomorrow, status=PlanStatus.FAILED)


def test_a_day_in_the_past_or_an_inactive_hub_is_refused(small_day):
    hub, _, _ = small_day
    with pytest.raises(ValidationFailed, match="has passed"):
        plan_request(hub=hub, service_date=timezone.localdate() - dt.timedelta(days=2), actor=None)
    hub.is_active = False
    with pytest.raises(ValidationFailed, match="not active"):
        plan_request(hub=hub, service_date=timezone.localdate(), actor=None)


def test_cancelling_a_queued_plan_makes_its_run_a_no_op(small_day, tomorrow):
    # given
    hub, _, _ = small_day
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)
    dispatcher = UserFactory()

    # when
    cancelled = plan_cancel(plan=plan, actor=dispatcher)
    result = plan_run(plan_id=plan.pk)

    # then
    assert result is None
    assert cancelled.status == PlanStatus.CANCELLED
    assert cancelled.cancelled_at is not None
    assert not Route.objects.filter(plan=plan).exists()
    event = plan.events.get(kind=PlanEvent.Kind.STATUS_CHANGED)
    assert (event.from_status, event.to_status, event.actor) == ("queued", "cancelled", dispatcher)
    # cancelling again is a no-op; a cancelled plan cannot be planned again
    assert plan_cancel(plan=plan, actor=None).status == PlanStatus.CANCELLED
    assert plan.events.filter(kind=PlanEvent.Kind.STATUS_CHANGED).count() == 1


def test_a_cancel_during_the_solve_stops_it_and_stores_nothing(small_day, tomorrow, monkeypatch):
    # given: a solver that sees the dispatcher cancel half-way
    hub, _, _ = small_day
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)
    seen = {}

    def solve(problem, params):
        assert params.should_stop() is False
        plan_cancel(plan=Plan.objects.get(pk=plan.pk), actor=None)
        seen["stop"] = params.should_stop()  # throttled: asks again after a second
        return Solution(routes=(), unassigned=(), objective=0, backend="fake", solve_s=0)

    monkeypatch.setattr(running_module, "CANCEL_POLL_EVERY_S", 0)
    monkeypatch.setattr(solving_module, "solve", solve)

    # when
    result = plan_run(plan_id=plan.pk)

    # then
    assert seen["stop"] is True
    assert result.status == PlanStatus.CANCELLED
    assert not Route.objects.filter(plan=plan).exists()


def test_running_a_plan_twice_runs_it_once(small_day, tomorrow):
    hub, _, _ = small_day
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)

    first = plan_run(plan_id=plan.pk)
    routes = Route.objects.filter(plan=plan).count()
    second = plan_run(plan_id=plan.pk)

    assert first.status == PlanStatus.READY
    assert second is None
    assert Route.objects.filter(plan=plan).count() == routes
    assert plan_run(plan_id=10**9) is None  # a plan that does not exist: nothing to do


def test_a_ready_plan_records_progress_figures_and_its_timeline(small_day, tomorrow):
    # given
    hub, vehicles, orders = small_day
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)

    # when
    plan = plan_run(plan_id=plan.pk)

    # then
    assert plan.status == PlanStatus.READY, plan.error
    assert (plan.progress_phase, plan.progress_pct) == (PlanPhase.DONE, 100)
    assert plan.feasible is True
    assert plan.violations_count == 0
    assert plan.routed_count + plan.unassigned_count == len(orders)
    assert plan.vehicles_used == Route.objects.filter(plan=plan).count() >= 1
    assert plan.vehicles_available == len(vehicles)
    assert plan.distance_m == sum(
        Route.objects.filter(plan=plan).values_list("distance_m", flat=True)
    )
    assert {"build_s", "solve_s", "store_s", "shift_source"} <= set(plan.stats)
    assert plan.started_at <= plan.ready_at
    moves = list(
        plan.events.filter(kind=PlanEvent.Kind.STATUS_CHANGED).values_list(
            "from_status", "to_status"
        )
    )
    assert moves == [("queued", "running"), ("running", "ready")]
    # orders wait for publishing to be planned
    assert not Order.objects.filter(hub=hub).exclude(status=OrderStatus.CREATED).exists()


def test_re_running_replaces_the_unpublished_plan_without_orphans(small_day, tomorrow):
    # given: a ready plan
    hub, _, _ = small_day
    old = plan_run(plan_id=plan_request(hub=hub, service_date=tomorrow, actor=None).pk)
    assert old.status == PlanStatus.READY
    old_route_ids = list(Route.objects.filter(plan=old).values_list("pk", flat=True))

    # when: planned again
    new = plan_run(plan_id=plan_request(hub=hub, service_date=tomorrow, actor=None).pk)

    # then: the old plan is cancelled as superseded and keeps no routes, stops or unassigned
    old.refresh_from_db()
    assert new.status == PlanStatus.READY
    assert old.status == PlanStatus.CANCELLED
    assert old.events.filter(kind=PlanEvent.Kind.SUPERSEDED, payload__superseded_by=new.pk).exists()
    assert not Route.objects.filter(pk__in=old_route_ids).exists()
    assert not Stop.objects.filter(route_id__in=old_route_ids).exists()
    assert not UnassignedOrder.objects.filter(plan=old).exists()
    assert set(Route.objects.values_list("plan_id", flat=True)) == {new.pk}
    assert Plan.objects.filter(hub=hub, service_date=tomorrow, status=PlanStatus.READY).get() == new


def test_a_plan_the_checker_rejects_fails_and_is_not_stored(small_day, tomorrow, monkeypatch):
    hub, _, _ = small_day
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)
    monkeypatch.setattr(
        solving_module,
        "check",
        lambda problem, solution: CheckReport(
            violations=["VAN-1: carries 999 parcels, capacity 180"]
        ),
    )

    plan = plan_run(plan_id=plan.pk)

    assert plan.status == PlanStatus.FAILED
    assert "breaks 1 rule(s)" in plan.error
    assert "capacity 180" in plan.error
    assert plan.feasible is False
    assert plan.violations_count == 1
    assert not Route.objects.filter(plan=plan).exists()


def test_a_hub_without_vehicles_fails_with_a_clear_error(tomorrow):
    from tests.orders.factories import OrderFactory

    hub = HubFactory(code="EMPTY-1")
    OrderFactory(hub=hub)
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)

    plan = plan_run(plan_id=plan.pk)

    assert plan.status == PlanStatus.FAILED
    assert plan.error == "Hub EMPTY-1 has no active vehicle to plan 1 orders with."
    with pytest.raises(InvalidTransition):
        plan_cancel(plan=plan, actor=None)


def test_an_unexpected_error_fails_the_plan_with_its_text(small_day, tomorrow, monkeypatch):
    hub, _, _ = small_day
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(solving_module, "solve", broken)

    plan = plan_run(plan_id=plan.pk)

    assert plan.status == PlanStatus.FAILED
    assert plan.error == "Unexpected error (KeyError: 'boom')."


def test_a_transient_error_fails_the_plan_and_is_raised(small_day, tomorrow, monkeypatch):
    from lastmile.routing.matrix import MatrixError

    hub, _, _ = small_day
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)

    def unreachable(*args, **kwargs):
        raise MatrixError("OSRM at http://osrm.invalid unreachable")

    monkeypatch.setattr(running_module, "planning_input_build", unreachable)

    with pytest.raises(MatrixError):
        plan_run(plan_id=plan.pk)

    plan.refresh_from_db()
    assert plan.status == PlanStatus.FAILED
    assert "Temporary failure (MatrixError" in plan.error


def test_a_day_without_orders_is_an_empty_ready_plan(tomorrow):
    from tests.fleet.factories import VehicleFactory

    hub = HubFactory()
    VehicleFactory(home_hub=hub)

    plan = plan_run(plan_id=plan_request(hub=hub, service_date=tomorrow, actor=None).pk)

    assert plan.status == PlanStatus.READY
    assert (plan.routed_count, plan.unassigned_count, plan.vehicles_used) == (0, 0, 0)


def assert_plan_is_sound(plan: Plan) -> None:
    """Every eligible order is routed once or unassigned with a reason, and the stored routes
    pass the independent checker (capacity, windows, shift, range, skills)."""
    assert plan.status == PlanStatus.READY, plan.error
    routed = list(
        Stop.objects.filter(route__plan=plan, kind=StopKind.DELIVERY).values_list(
            "order_id", flat=True
        )
    )
    unassigned = list(plan.unassigned.all())
    eligible = set(
        Order.objects.filter(
            hub=plan.hub, service_date=plan.service_date, status=OrderStatus.CREATED
        ).values_list("pk", flat=True)
    )
    assert len(routed) == len(set(routed))
    assert set(routed) | {u.order_id for u in unassigned} == eligible
    assert not set(routed) & {u.order_id for u in unassigned}
    assert all(u.reason and u.detail for u in unassigned)
    assert len(routed) > len(unassigned)
    for route in plan.routes.all():
        sequences = list(route.stops.values_list("sequence", flat=True))
        assert sequences == list(range(1, len(sequences) + 1))
    report = check_stored(plan)
    assert report.feasible, report.violations[:5]
    # the stored totals are the independent figures
    stored = {r.vehicle.code: r for r in plan.routes.select_related("vehicle")}
    for figures in report.routes:
        assert abs(stored[figures.vehicle_id].distance_m - figures.distance_m) <= 1


def test_end_to_end_on_the_demo_data(settings):
    # given: the demo (hubs, partners, ~300 orders a day, vehicles) and a short solver run
    settings.DEBUG = True
    seed_demo()
    hub = Hub.objects.get(code="BER-KX")
    tomorrow = timezone.localdate(timezone=hub.zone) + dt.timedelta(days=1)

    # when
    plan = plan_run(plan_id=plan_request(hub=hub, service_date=tomorrow, actor=None).pk)

    # then
    assert_plan_is_sound(plan)
    # the demo fleet has no special equipment: orders needing some are explained as such
    needing_skills = set(
        Order.objects.filter(hub=hub, service_date=tomorrow)
        .exclude(required_skills=[])
        .values_list("pk", flat=True)
    )
    assert needing_skills
    assert (
        set(
            plan.unassigned.filter(reason=UnassignedOrder.Reason.NO_SKILL).values_list(
                "order_id", flat=True
            )
        )
        == needing_skills
    )


def test_a_cargo_bike_reloads_at_the_hub_and_the_stored_trips_check_out(tomorrow):
    # given: one bike (45 parcels a trip) and 70 one-parcel orders around the hub, all day
    from tests.dispatch.conftest import at
    from tests.fleet.factories import CargoBikeTypeFactory, VehicleFactory
    from tests.orders.factories import OrderFactory

    hub = HubFactory(latitude="52.500000", longitude="13.420000")
    bike = VehicleFactory(home_hub=hub, vehicle_type=CargoBikeTypeFactory())
    for _ in range(70):
        OrderFactory(
            hub=hub,
            window_start=at(hub, tomorrow, 8),
            window_end=at(hub, tomorrow, 18),
            service_s=60,
        )

    # when
    plan = plan_run(plan_id=plan_request(hub=hub, service_date=tomorrow, actor=None).pk)

    # then: at least one reload stop splits the route into trips, within capacity each
    route = plan.routes.get(vehicle=bike)
    reloads = list(route.stops.filter(kind=StopKind.RELOAD))
    assert reloads
    assert route.trips == len(reloads) + 1
    assert all(stop.order_id is None for stop in reloads)
    assert route.stops.order_by("-sequence").first().trip == route.trips
    assert_plan_is_sound(plan)
