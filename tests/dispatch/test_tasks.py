"""The planning tasks: queue routing, the nightly fan-out, and a real worker end to end."""

import datetime as dt
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.utils import timezone

from lastmile import celery_app
from lastmile.demo import seed_demo
from lastmile.dispatch.models import Plan, PlanStatus, ReplanStatus, ReplanTrigger
from lastmile.dispatch.services import plan_publish, plan_request
from lastmile.dispatch.services.requests import replan_request
from lastmile.dispatch.tasks import (
    plan_hub_day_task,
    plan_tomorrow_catch_up_task,
    plan_tomorrow_task,
)
from lastmile.hubs.models import Hub
from lastmile.orders.models import OrderStatus, Priority
from tests.dispatch.test_services import assert_plan_is_sound
from tests.fleet.factories import VehicleFactory
from tests.hubs.factories import HubFactory
from tests.orders.factories import OrderFactory


@pytest.mark.parametrize(
    "name", ["dispatch.plan_hub_day", "dispatch.plan_tomorrow", "dispatch.replan_hub_day"]
)
def test_planning_tasks_go_to_the_planning_queue(name):
    assert celery_app.amqp.router.route({}, name)["queue"].name == "planning"


def test_the_live_day_watcher_runs_each_minute_off_the_planning_queue():
    entry = django_settings.CELERY_BEAT_SCHEDULE["dispatch-replan-watch"]
    assert entry["task"] == "dispatch.watch_live_days"
    assert entry["schedule"] == 60.0
    assert celery_app.amqp.router.route({}, entry["task"])["queue"].name == "default"


def test_tomorrows_planning_is_scheduled_nightly_at_22():
    entry = django_settings.CELERY_BEAT_SCHEDULE["dispatch-plan-tomorrow"]
    assert entry["task"] == "dispatch.plan_tomorrow"
    assert entry["schedule"].hour == {22}
    assert entry["schedule"].minute == {0}


@pytest.mark.django_db
def test_the_task_runs_a_plan_once(small_day, tomorrow, eager_tasks):
    hub, _, _ = small_day
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None, enqueue=False)

    assert plan_hub_day_task.apply(args=(plan.pk,)).get() == PlanStatus.READY
    assert plan_hub_day_task.apply(args=(plan.pk,)).get() is None


@pytest.mark.django_db
def test_nightly_planning_fans_out_one_run_per_active_hub(
    eager_tasks, django_capture_on_commit_callbacks
):
    # given: two active hubs with a van each, one inactive hub
    hubs = [HubFactory(), HubFactory()]
    for hub in hubs:
        VehicleFactory(home_hub=hub)
    HubFactory(is_active=False)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        plan_ids = plan_tomorrow_task.apply().get()

    # then: one plan per active hub, for tomorrow in the hub's zone, each run through
    plans = Plan.objects.filter(pk__in=plan_ids)
    assert {p.hub_id for p in plans} == {h.pk for h in hubs}
    assert {p.status for p in plans} == {PlanStatus.READY}
    tomorrow = timezone.localdate(timezone=hubs[0].zone) + dt.timedelta(days=1)
    assert {p.service_date for p in plans} == {tomorrow}

    # and a second nightly request the same evening replaces nothing that is running
    with django_capture_on_commit_callbacks(execute=True):
        again = plan_tomorrow_task.apply().get()
    assert len(again) == 2
    assert not set(again) & set(plan_ids)


def test_a_catch_up_follows_the_nightly_planning_within_the_hour():
    entry = django_settings.CELERY_BEAT_SCHEDULE["dispatch-plan-tomorrow-catch-up"]
    assert entry["task"] == "dispatch.plan_tomorrow_catch_up"
    assert entry["schedule"].hour == {22, 23}
    assert entry["schedule"].minute == {30}
    assert celery_app.amqp.router.route({}, entry["task"])["queue"].name == "planning"


def _evening_at(hour: int, minute: int) -> dt.datetime:
    return timezone.localtime().replace(hour=hour, minute=minute, second=0, microsecond=0)


@pytest.mark.django_db
def test_the_catch_up_plans_only_the_hubs_a_lost_nightly_message_missed(monkeypatch):
    # given: two active hubs; the nightly run at 22:00 reached only the first (the second's
    # request was lost with the message)
    planned, missed = HubFactory(), HubFactory()
    for hub in (planned, missed):
        VehicleFactory(home_hub=hub)
    at_2201, at_2230, at_2330 = _evening_at(22, 1), _evening_at(22, 30), _evening_at(23, 30)
    monkeypatch.setattr(timezone, "now", lambda: at_2201)
    tomorrow = timezone.localdate(timezone=planned.zone) + dt.timedelta(days=1)
    nightly = plan_request(hub=planned, service_date=tomorrow, actor=None, enqueue=False)

    # when: the catch-up runs at 22:30, and again at 23:30
    monkeypatch.setattr(timezone, "now", lambda: at_2230)
    first = plan_tomorrow_catch_up_task.apply().get()
    monkeypatch.setattr(timezone, "now", lambda: at_2330)
    second = plan_tomorrow_catch_up_task.apply().get()

    # then: the missed hub got its plan once; the nightly plan was left alone
    caught = Plan.objects.get(hub=missed, service_date=tomorrow)
    assert first == [caught.pk]
    assert second == []
    assert list(Plan.objects.filter(hub=planned)) == [nightly]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_plans_tomorrow_for_a_demo_hub_on_postgresql(settings):
    # given: the demo on PostgreSQL, and a worker taking planning tasks from Redis
    assert celery_app.conf.task_always_eager is False
    settings.DEBUG = True
    seed_demo()
    hub = Hub.objects.get(code="BER-KX")
    tomorrow = timezone.localdate(timezone=hub.zone) + dt.timedelta(days=1)

    with start_worker(
        celery_app,
        pool="solo",
        concurrency=1,
        queues=["planning"],
        perform_ping_check=False,
        shutdown_timeout=30,
    ):
        # when: a dispatcher asks for tomorrow's plan (the task leaves after the commit)
        plan = plan_request(hub=hub, service_date=tomorrow, actor=None)

        # then: the worker runs it to ready
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            plan.refresh_from_db()
            if plan.status not in (PlanStatus.QUEUED, PlanStatus.RUNNING):
                break
            time.sleep(0.25)

        assert plan.celery_task_id
        assert plan.feasible is True
        assert_plan_is_sound(plan)

        # and once published, an urgent order for that day is re-planned in by the worker
        settings.DISPATCH_REPLAN_TIME_LIMIT_S = 2
        plan = plan_publish(plan=plan, actor=None)
        urgent = OrderFactory(
            hub=hub,
            priority=Priority.URGENT,
            latitude=hub.latitude,
            longitude=hub.longitude,
            window_start=dt.datetime.combine(tomorrow, dt.time(11), tzinfo=hub.zone),
            window_end=dt.datetime.combine(tomorrow, dt.time(15), tzinfo=hub.zone),
        )
        replan = replan_request(plan=plan, trigger=ReplanTrigger.MANUAL, debounce=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replan.refresh_from_db()
            if replan.status not in (ReplanStatus.QUEUED, ReplanStatus.RUNNING):
                break
            time.sleep(0.25)

    assert replan.status == ReplanStatus.APPLIED, replan.error
    assert [row["order"] for row in replan.diff["added"]] == [urgent.pk]
    urgent.refresh_from_db()
    assert urgent.status == OrderStatus.PLANNED
