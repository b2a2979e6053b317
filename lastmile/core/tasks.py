"""Celery tasks of the operations core."""

import datetime as dt
import logging
import socket

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from lastmile.core.services import access_logs_prune, queue_heartbeat_record

logger = logging.getLogger(__name__)


@shared_task(name="core.queue_heartbeat", bind=True, ignore_result=True)
def queue_heartbeat_task(self, queue: str) -> None:
    """Beat sends this to every queue each minute; the worker that takes it records itself."""
    worker = self.request.hostname or socket.gethostname()
    queue_heartbeat_record(queue=queue, worker=worker)


@shared_task(name="core.prune_access_logs", ignore_result=True)
def prune_access_logs_task(batch_size: int = 5000, max_batches: int = 20) -> int:
    """Nightly: delete sign-in records (axes' access and failure logs) older than
    ``AXES_LOG_RETENTION_DAYS``, a bounded amount per run.

    If more is left (the first run on a long history), the task re-queues itself instead of
    holding a worker.
    """
    cutoff = timezone.now() - dt.timedelta(days=settings.AXES_LOG_RETENTION_DAYS)
    result = access_logs_prune(older_than=cutoff, batch_size=batch_size, max_batches=max_batches)
    logger.info(
        "sign-in logs pruned",
        extra={"deleted": result.deleted, "done": result.done, "cutoff": cutoff.isoformat()},
    )
    if not result.done:
        prune_access_logs_task.apply_async(
            kwargs={"batch_size": batch_size, "max_batches": max_batches}, countdown=5
        )
    return result.deleted
