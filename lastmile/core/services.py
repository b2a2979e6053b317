"""Writes of the operations core."""

from django.utils import timezone

from lastmile.core.models import QueueHeartbeat


def queue_heartbeat_record(*, queue: str, worker: str) -> QueueHeartbeat:
    """Record that ``worker`` consumed a heartbeat from ``queue`` now.

    Idempotent: one row per queue, so a retried or duplicated heartbeat only moves the time.
    """
    heartbeat, _ = QueueHeartbeat.objects.update_or_create(
        queue=queue, defaults={"worker": worker[:255], "last_seen_at": timezone.now()}
    )
    return heartbeat
