from unittest import mock

import pytest
from django.db import OperationalError, connections

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_when_database_and_broker_answer(client, settings):
    # given: no broker configured, so tasks run in-process (healthy by design)
    settings.REDIS_URL = ""

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"] == {"ok": True, "mode": "in-process"}


def test_healthz_names_the_broker_when_redis_is_down(client, settings):
    # given: a Redis URL nothing listens on
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_healthz_names_the_database_when_it_is_down(client, settings):
    settings.REDIS_URL = ""
    connection = connections["default"]

    with mock.patch.object(connection, "cursor", side_effect=OperationalError("gone")):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["down"] == ["database"]


def test_healthz_answers_only_get(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.redis
def test_healthz_reports_queue_heartbeats_with_a_real_broker(client, settings):
    # given: a real broker and one queue that a worker consumed
    from lastmile.core.services import queue_heartbeat_record

    queue_heartbeat_record(queue="planning", worker="celery@test")

    # when
    response = client.get("/healthz")

    # then
    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["broker"] == {"ok": True, "mode": "redis"}
    assert body["queues_last_seen_s"]["planning"] is not None
    assert body["queues_last_seen_s"]["notifications"] is None
