"""The Celery app: queues, routes and reliability settings, and a real worker end to end."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from lastmile import celery_app
from lastmile.core.models import QueueHeartbeat
from lastmile.core.tasks import queue_heartbeat_task


def test_named_queues_and_reliability_settings():
    conf = celery_app.conf

    assert [q.name for q in conf.task_queues] == ["planning", "notifications", "default"]
    assert conf.task_default_queue == "default"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    # Redis must not re-deliver a long planning run that is still going.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("dispatch.plan_hub_day", "planning"),
        ("routing.solve", "planning"),
        ("notifications.send_sms", "notifications"),
        ("webhooks.deliver", "notifications"),
        ("core.queue_heartbeat", "default"),
    ],
)
def test_tasks_are_routed_to_the_queue_that_fits_their_work(task_name, queue):
    route = celery_app.amqp.router.route({}, task_name)

    assert route["queue"].name == queue


def test_tasks_are_autodiscovered():
    celery_app.loader.import_default_modules()

    assert "core.queue_heartbeat" in celery_app.tasks


@pytest.mark.django_db
def test_heartbeat_task_in_process_records_the_queue_once(settings):
    # given: in-process execution (no broker) — calling it twice is one row
    queue_heartbeat_task.apply(args=("default",))
    queue_heartbeat_task.apply(args=("default",))

    assert QueueHeartbeat.objects.filter(queue="default").count() == 1


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_takes_a_task_from_redis_and_writes_to_postgresql(settings):
    # given: a worker consuming the planning queue through Redis (not in-process)
    assert celery_app.conf.task_always_eager is False
    with start_worker(
        celery_app,
        pool="solo",
        concurrency=1,
        queues=["planning"],
        perform_ping_check=False,
        shutdown_timeout=10,
    ):
        # when: the task is sent through the broker to that queue
        result = queue_heartbeat_task.apply_async(args=("planning",), queue="planning")

        # then: the worker wrote the row in the database the test reads
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and not QueueHeartbeat.objects.filter(queue="planning").exists()
        ):
            time.sleep(0.2)

    # Tasks are not eager here, so only the worker can have written this row.
    heartbeat = QueueHeartbeat.objects.get(queue="planning")
    assert heartbeat.worker
    assert result.id
