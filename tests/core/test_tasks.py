"""Core tasks through Celery: sign-in records past their retention are deleted nightly."""

import datetime as dt

import pytest
from axes.models import AccessFailureLog, AccessLog
from django.test import Client
from django.utils import timezone

from lastmile import celery_app
from lastmile.core.tasks import prune_access_logs_task
from tests.factories import UserFactory

PASSWORD = "a-Long-and-unusual-passphrase-42"


@pytest.fixture
def eager_tasks(monkeypatch):
    """Run Celery tasks in-process even where REDIS_URL points at a broker (CI)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def _sign_in(username: str, password: str) -> None:
    Client().post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})


def test_pruning_is_registered_nightly_on_the_default_queue():
    celery_app.loader.import_default_modules()

    assert "core.prune_access_logs" in celery_app.tasks
    assert celery_app.amqp.router.route({}, "core.prune_access_logs")["queue"].name == "default"
    entry = celery_app.conf.beat_schedule["core-prune-access-logs"]
    assert entry["task"] == "core.prune_access_logs"
    assert entry["schedule"].hour == {3}


@pytest.mark.django_db
def test_sign_in_records_past_retention_are_deleted_and_recent_ones_kept(settings, eager_tasks):
    # given: sign-ins and failed sign-ins recorded by axes, most of them 91 days ago
    settings.AXES_LOG_RETENTION_DAYS = 90
    settings.AXES_ENABLE_ACCESS_FAILURE_LOG = True
    UserFactory(username="boss", is_staff=True, password=PASSWORD)
    for _ in range(3):
        _sign_in("boss", PASSWORD)
        _sign_in("boss", "guess")
    old = timezone.now() - dt.timedelta(days=91)
    AccessLog.objects.update(attempt_time=old)
    AccessFailureLog.objects.update(attempt_time=old)
    _sign_in("boss", PASSWORD)
    _sign_in("boss", "guess")
    assert (AccessLog.objects.count(), AccessFailureLog.objects.count()) == (4, 4)

    # when: the nightly task runs, two rows per batch and one batch per run so that it has to
    # re-queue itself to finish, and then runs again
    first = prune_access_logs_task.delay(batch_size=2, max_batches=1)
    second = prune_access_logs_task.delay()

    # then: only the records of the last 90 days are left; a second run finds nothing
    assert first.get() == 2  # this run's share; the re-queued runs took the rest
    assert second.get() == 0
    assert not AccessLog.objects.filter(attempt_time__lt=timezone.now() - dt.timedelta(days=1))
    assert not AccessFailureLog.objects.filter(
        attempt_time__lt=timezone.now() - dt.timedelta(days=1)
    )
    assert (AccessLog.objects.count(), AccessFailureLog.objects.count()) == (1, 1)
