"""Health of what the app depends on: the database and the Celery broker.

Used by ``GET /healthz``. Each check returns a small dict; the report is unhealthy when any
required check fails, and names what is down.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from lastmile.core.models import QueueHeartbeat

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_S = 2.0


@dataclass
class HealthReport:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def down(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check["ok"]]

    @property
    def healthy(self) -> bool:
        return not self.down


def check_database() -> dict[str, Any]:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("health: database unreachable", extra={"error": str(exc)})
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict[str, Any]:
    if not settings.REDIS_URL:
        # No broker configured: tasks run in-process, which is healthy by design.
        return {"ok": True, "mode": "in-process"}
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=BROKER_TIMEOUT_S,
        socket_timeout=BROKER_TIMEOUT_S,
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        logger.warning("health: broker unreachable", extra={"error": str(exc)})
        return {"ok": False, "mode": "redis", "error": exc.__class__.__name__}
    finally:
        client.close()
    return {"ok": True, "mode": "redis"}


def queue_heartbeats() -> dict[str, int | None]:
    """Seconds since a worker last consumed each queue's heartbeat (``None``: never)."""
    now = timezone.now()
    seen = {hb.queue: hb.last_seen_at for hb in QueueHeartbeat.objects.all()}
    return {
        queue.name: (int((now - seen[queue.name]).total_seconds()) if queue.name in seen else None)
        for queue in settings.CELERY_TASK_QUEUES
    }


def health_report() -> HealthReport:
    report = HealthReport()
    report.checks["database"] = check_database()
    report.checks["broker"] = check_broker()
    return report
