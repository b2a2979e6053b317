"""Writes of the operations core."""

import datetime as dt
from dataclasses import dataclass

from axes.models import AccessFailureLog, AccessLog
from django.db import transaction
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


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    done: bool  # False: more old rows remain than this run was allowed to delete


def access_logs_prune(
    *, older_than: dt.datetime, batch_size: int = 5000, max_batches: int = 20
) -> PruneResult:
    """Delete django-axes' sign-in records made before ``older_than``: ``AccessLog`` (every
    sign-in, with IP address and browser) and ``AccessFailureLog`` (every failed one).

    ``batch_size`` rows per transaction, at most ``max_batches`` batches per call, so sign-ins
    writing new rows meanwhile are never held up. Lockout counters (``AccessAttempt``) are
    not touched: axes expires them itself. Idempotent: running again deletes what is left,
    or nothing.
    """
    deleted = batches = 0
    for model in (AccessLog, AccessFailureLog):
        while True:
            ids = list(
                model.objects.filter(attempt_time__lt=older_than)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            if batches == max_batches:
                return PruneResult(deleted=deleted, done=False)
            with transaction.atomic():
                deleted += model.objects.filter(pk__in=ids).delete()[0]
            batches += 1
            if len(ids) < batch_size:
                break
    return PruneResult(deleted=deleted, done=True)
