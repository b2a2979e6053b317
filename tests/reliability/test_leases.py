"""Leases and sweepers through the services and tasks, in-process: who may take over a run,
what the minute's sweepers send again, and what they give up (plans, charging plans), and
the hourly catch-up of a lost payout week close."""

import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from fleet import services as fleet_services
from fleet.models import ChargingPlan, ChargingPlanStatus
from fleet.tasks import plan_charging_task, sweep_charging_plans_task
from lastmile import celery_app
from lastmile.dispatch.models import Plan, PlanEvent, PlanStatus, Route
from lastmile.dispatch.services import plan_request, plan_transition
from lastmile.dispatch.services import running as running_module
from lastmile.dispatch.services import solving as solving_module
from lastmile.dispatch.tasks import plan_hub_day_task, sweep_runs_task
from tests.fleet.test_charging_plans import NOW, depot  # noqa: F401 (a fixture)
from tests.reliability.conftest import hub_day
from tests.workforce.factories import active_courier, entry
from workforce import services as workforce_services
from workforce.models import PayoutBatch, PayoutWeek
from workforce.tasks import close_overdue_payout_week_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick(settings):
    settings.DISPATCH_TIME_LIMIT_S = 1
    settings.DISPATCH_OSRM_URL = ""
    settings.TASK_LEASE_S = 120
    settings.TASK_MAX_ATTEMPTS = 3
    settings.TASK_RESEND_AFTER_S = 60
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def _running(
    day: dt.date, *, expires_in_s: float, attempts: int = 1, sent_ago_s: float = 600
) -> Plan:
    """A plan a worker started (``attempts`` times), its lease expiring in ``expires_in_s``."""
    plan = plan_request(hub=hub_day(day), service_date=day, actor=None, enqueue=False)
    with transaction.atomic():
        plan_transition(plan, target=PlanStatus.RUNNING)
    now = timezone.now()
    Plan.objects.filter(pk=plan.pk).update(
        lease_owner="worker-a",
        lease_expires_at=now + dt.timedelta(seconds=expires_in_s),
        attempts=attempts,
        sent_at=now - dt.timedelta(seconds=sent_ago_s),
    )
    plan.refresh_from_db()
    return plan


def test_a_redelivered_task_leaves_a_plan_with_a_live_lease_to_its_worker(tomorrow):
    # given: a plan a live worker is solving
    plan = _running(tomorrow, expires_in_s=60)

    # when: its message is delivered again (the sweeper, a broker re-delivery)
    result = plan_hub_day_task.apply(args=(plan.pk,)).get()

    # then: nothing happens; no second worker solves it
    assert result is None
    plan.refresh_from_db()
    assert (plan.status, plan.lease_owner, plan.attempts) == (PlanStatus.RUNNING, "worker-a", 1)
    assert not Route.objects.filter(plan=plan).exists()


def test_a_redelivered_task_takes_over_a_plan_whose_lease_expired_and_stores_it(tomorrow):
    # given: a plan whose worker died a while ago (lease expired), left running
    plan = _running(tomorrow, expires_in_s=-1)

    # when
    result = plan_hub_day_task.apply(args=(plan.pk,)).get()

    # then: it ran again and is ready, with the restart on its timeline
    assert result == PlanStatus.READY
    plan.refresh_from_db()
    assert plan.attempts == 2
    assert plan.lease_owner == ""
    assert plan.routes.exists()
    restart = PlanEvent.objects.get(plan=plan, kind=PlanEvent.Kind.RESTARTED)
    assert restart.payload == {"attempt": 2, "lost_lease": "worker-a"}


def test_a_plan_whose_worker_was_lost_as_often_as_allowed_fails_with_the_reason(tomorrow, settings):
    # given: two plans whose worker died on each of their allowed attempts
    settings.TASK_MAX_ATTEMPTS = 2
    by_task = _running(tomorrow, expires_in_s=-1, attempts=2)
    by_sweep = _running(tomorrow, expires_in_s=-1, attempts=2)

    # when: one is delivered again, the other found by the minute's sweep
    assert plan_hub_day_task.apply(args=(by_task.pk,)).get() is None
    sweep_runs_task.apply().get()

    # then: both failed, saying why, and a new request starts a fresh run
    for plan in (by_task, by_sweep):
        plan.refresh_from_db()
        assert plan.status == PlanStatus.FAILED
        assert "stopped 2 time(s) without finishing" in plan.error
    fresh = plan_request(hub=by_task.hub, service_date=tomorrow, actor=None, enqueue=False)
    assert not fresh.joined


def test_a_run_that_lost_its_lease_while_solving_stores_nothing(tomorrow, monkeypatch):
    # given: a queued plan; while its worker checks the routes, another run takes it over
    plan = plan_request(hub=hub_day(tomorrow), service_date=tomorrow, actor=None, enqueue=False)
    real_check = solving_module.check

    def check_then_lose_the_lease(problem, solution):
        Plan.objects.filter(pk=plan.pk).update(lease_owner="worker-b")
        return real_check(problem, solution)

    monkeypatch.setattr(solving_module, "check", check_then_lose_the_lease)

    # when
    running_module.plan_run(plan_id=plan.pk)

    # then: the routes are left to the run that holds the lease
    plan.refresh_from_db()
    assert plan.status == PlanStatus.RUNNING
    assert plan.lease_owner == "worker-b"
    assert not Route.objects.filter(plan=plan).exists()


def test_the_sweeper_sends_again_only_work_that_was_lost(
    tomorrow, django_capture_on_commit_callbacks
):
    # given: queued plans sent just now and long ago, running plans with a live and an
    # expired lease
    fresh = plan_request(hub=hub_day(tomorrow), service_date=tomorrow, actor=None, enqueue=False)
    lost = plan_request(hub=hub_day(tomorrow), service_date=tomorrow, actor=None, enqueue=False)
    Plan.objects.filter(pk=lost.pk).update(sent_at=timezone.now() - dt.timedelta(minutes=2))
    alive = _running(tomorrow, expires_in_s=60)
    dead = _running(tomorrow, expires_in_s=-1)

    # when: the minute's sweep runs, and the next one
    with django_capture_on_commit_callbacks() as sent:
        counts = sweep_runs_task.apply().get()
    with django_capture_on_commit_callbacks() as sent_again:
        sweep_runs_task.apply().get()

    # then: the lost request and the dead run were sent again, once
    assert counts == {"plans": 2, "replans": 0}
    assert len(sent) == 2
    assert sent_again == []
    for plan in (fresh, lost, alive, dead):
        plan.refresh_from_db()
    assert fresh.sent_at < lost.sent_at
    assert (alive.lease_owner, dead.status) == ("worker-a", PlanStatus.RUNNING)


def test_the_sweepers_run_each_minute_off_the_planning_queue():
    schedule = {e["task"]: e for e in django_settings.CELERY_BEAT_SCHEDULE.values()}

    for name in ("dispatch.sweep_runs", "fleet.sweep_charging_plans"):
        assert schedule[name]["schedule"] == 60.0
        assert celery_app.amqp.router.route({}, name)["queue"].name == "default"
    hourly = schedule["workforce.close_overdue_payout_week"]["schedule"]
    assert hourly.minute == {20}
    assert len(hourly.hour) == 24


def _charging_plan(hub, **fields) -> ChargingPlan:
    plan = fleet_services.charging_plan_request(hub=hub, source="test", now=NOW, enqueue=False)
    ChargingPlan.objects.filter(pk=plan.pk).update(**fields)
    plan.refresh_from_db()
    return plan


def test_a_charging_plan_being_solved_under_a_live_lease_is_left_to_its_worker(depot):  # noqa: F811
    # given: a pending plan a live worker is solving
    hub, *_ = depot
    soon = timezone.now() + dt.timedelta(seconds=60)
    plan = _charging_plan(hub, lease_owner="worker-a", lease_expires_at=soon, attempts=1)

    # when: its task is delivered again
    plan_charging_task.apply(args=(plan.pk,)).get()

    # then: untouched
    plan.refresh_from_db()
    assert (plan.status, plan.lease_owner) == (ChargingPlanStatus.PENDING, "worker-a")
    assert not plan.vehicles.filter(charger__isnull=False).exists()


def test_a_lost_charging_plan_is_sent_again_taken_over_or_given_up(
    depot,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    # given: a plan whose message was lost, one whose worker died once, one died twice
    settings.TASK_MAX_ATTEMPTS = 2
    hub, *_ = depot
    past = timezone.now() - dt.timedelta(seconds=1)
    never_taken = _charging_plan(hub)
    died_once = _charging_plan(hub, lease_owner="a", lease_expires_at=past, attempts=1)
    died_twice = _charging_plan(hub, lease_owner="b", lease_expires_at=past, attempts=2)

    # when: the minute's sweep runs
    with django_capture_on_commit_callbacks() as sent:
        swept = sweep_charging_plans_task.apply().get()

    # then: two are sent again, the third failed with the reason
    assert swept == 3
    assert len(sent) == 2
    died_twice.refresh_from_db()
    assert died_twice.status == ChargingPlanStatus.FAILED
    assert "stopped 2 time(s)" in died_twice.message
    # and the re-sent tasks solve them (the dead worker's lease is taken over)
    for plan in (never_taken, died_once):
        plan_charging_task.apply(args=(plan.pk,)).get()
        plan.refresh_from_db()
        assert plan.status in (ChargingPlanStatus.READY, ChargingPlanStatus.SHORTFALL)
        assert plan.lease_owner == ""
    assert died_once.attempts == 2


def test_a_payout_week_whose_monday_close_was_lost_is_closed_by_the_hourly_catch_up():
    # given: last week ended with earnings, and its Monday close never ran
    courier = active_courier()
    monday = workforce_services.last_completed_week()
    earned = dt.datetime.combine(monday, dt.time(10), tzinfo=timezone.get_current_timezone())
    entry(courier, amount_minor=700, earned_at=earned, source_id=1)
    _, week_end = workforce_services.week_bounds(monday)

    # then: not before the Monday close had its chance
    assert workforce_services.payout_week_overdue(week_end + dt.timedelta(hours=3)) is None
    later = week_end + dt.timedelta(hours=5)
    assert workforce_services.payout_week_overdue(later) == monday

    # when: the hourly catch-up runs after that, twice
    created = [close_overdue_payout_week_task.apply(args=(later.isoformat(),)).get() for _ in "ab"]

    # then: the week is closed once
    assert created == [1, 0]
    assert PayoutWeek.objects.get().week_start == monday
    assert PayoutBatch.objects.get(courier=courier).total_minor == 700
