"""Shared model bases, and the record of which Celery queues are being consumed."""

from django.db import models


class TimeStampedModel(models.Model):
    """Every table of ours records when a row was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class QueueHeartbeat(models.Model):
    """The last time a worker consumed the heartbeat task of a queue.

    Celery beat sends ``core.queue_heartbeat`` to each queue every minute; a stale row means
    no worker is consuming that queue (planning stalls silently otherwise).
    """

    queue = models.CharField(max_length=64, unique=True)
    worker = models.CharField(max_length=255, blank=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["queue"]

    def __str__(self) -> str:
        return f"{self.queue} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
