"""Fixtures of the fleet tests."""

import pytest

from lastmile import celery_app


@pytest.fixture
def eager_tasks(monkeypatch):
    """Run Celery tasks in-process even where REDIS_URL points at a broker (CI)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
