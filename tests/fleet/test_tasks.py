"""Fleet tasks through Celery: the ping retention sweep and charging-plan solving."""

import datetime as dt
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from fleet import services
from fleet.models import TelematicsPing, VehicleState
from fleet.tasks import plan_charging_task, prune_pings_task
from lastmile import celery_app
from tests.fleet.factories import VehicleTypeFactory
from tests.hubs.factories import HubFactory


def _device_with_pings(*, old: int, recent: int, retention_days: int):
    vehicle = services.vehicle_create(
        code="TH-EV01", vehicle_type=VehicleTypeFactory(), home_hub=HubFactory(), source="test"
    )
    device, _ = services.device_create(vehicle=vehicle, name="unit", source="test")
    now = timezone.now()
    # Old pings are stored as they were, when they were recent (ingest refuses stale ones).
    past = now - dt.timedelta(days=retention_days + 2)
    services.pings_ingest(
        device=device,
        pings=[
            services.PingInput(
                recorded_at=past - dt.timedelta(minutes=n), latitude=52.5, longitude=13.4
            )
            for n in range(old)
        ],
        now=past,
    )
    services.pings_ingest(
        device=device,
        pings=[
            services.PingInput(
                recorded_at=now - dt.timedelta(minutes=n), latitude=52.51, longitude=13.41
            )
            for n in range(recent)
        ],
    )
    return vehicle


def test_tasks_are_registered_under_their_names_and_routed():
    celery_app.loader.import_default_modules()
    router = celery_app.amqp.router

    assert {"fleet.prune_pings", "fleet.plan_charging"} <= set(celery_app.tasks)
    assert router.route({}, "fleet.plan_charging")["queue"].name == "planning"
    assert router.route({}, "fleet.prune_pings")["queue"].name == "default"
    assert celery_app.conf.beat_schedule["fleet-prune-pings"]["task"] == "fleet.prune_pings"


@pytest.mark.django_db
def test_prune_task_removes_pings_past_retention_and_is_idempotent(settings, eager_tasks):
    # given: five pings past a 30-day retention and three recent ones
    settings.FLEET_PING_RETENTION_DAYS = 30
    vehicle = _device_with_pings(old=5, recent=3, retention_days=30)

    # when: through Celery (in-process), twice, two rows per batch and one batch per run so
    # that the task has to re-queue itself to finish
    first = prune_pings_task.delay(batch_size=2, max_batches=1)
    second = prune_pings_task.delay(batch_size=2, max_batches=1)

    # then
    assert first.get() == 2  # this run's share; the re-queued runs took the rest
    assert second.get() == 0
    assert TelematicsPing.objects.count() == 3
    assert VehicleState.objects.get(vehicle=vehicle).latitude is not None


@pytest.mark.django_db
def test_plan_task_for_a_plan_that_no_longer_exists_does_nothing():
    assert plan_charging_task.apply(args=(999_999,)).get() == "missing"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_prunes_pings_from_postgresql(settings):
    # given: old and recent pings committed to PostgreSQL, and a worker on the default queue
    settings.FLEET_PING_RETENTION_DAYS = 30
    _device_with_pings(old=4, recent=2, retention_days=30)
    assert celery_app.conf.task_always_eager is False
    with start_worker(
        celery_app,
        pool="solo",
        concurrency=1,
        queues=["default"],
        perform_ping_check=False,
        shutdown_timeout=10,
    ):
        # when: the task goes through Redis
        prune_pings_task.apply_async(queue="default")

        # then: only the worker can have deleted them
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and TelematicsPing.objects.count() != 2:
            time.sleep(0.2)

    assert TelematicsPing.objects.count() == 2
