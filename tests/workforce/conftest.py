"""Workforce test fixtures: tasks run in-process so mails land in the outbox to be read."""

import pytest

from lastmile import celery_app


@pytest.fixture(autouse=True)
def _tasks_in_process():
    # With REDIS_URL set, tasks would go to the broker and no worker runs them here; the mails
    # these tests read are sent by a task, so run it at the call site.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def hub(db):
    from tests.hubs.factories import HubFactory

    return HubFactory(code="BER-KX", name="Berlin Kreuzberg micro-hub")
