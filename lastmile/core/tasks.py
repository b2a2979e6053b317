"""Celery tasks of the operations core."""

import socket

from celery import shared_task

from lastmile.core.services import queue_heartbeat_record


@shared_task(name="core.queue_heartbeat", bind=True, ignore_result=True)
def queue_heartbeat_task(self, queue: str) -> None:
    """Beat sends this to every queue each minute; the worker that takes it records itself."""
    worker = self.request.hostname or socket.gethostname()
    queue_heartbeat_record(queue=queue, worker=worker)
