"""What every workforce service shares: mail to the courier after commit."""

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("workforce_mail_muted", default=False)


@contextmanager
def notifications_muted() -> Iterator[None]:
    """Create couriers without mailing them (demo data): the addresses are not real."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def notify_after_commit(courier_id: int, template: str, **context: Any) -> None:
    """Mail the courier once the transaction commits (nothing is sent for a rollback).

    ``context`` must be JSON primitives and never hold an IBAN or a password: it travels
    through the broker.
    """
    from workforce.tasks import send_courier_email_task

    if _muted.get():
        return

    def enqueue() -> None:
        send_courier_email_task.delay(courier_id, template, context)
        logger.info(
            "workforce: mail queued", extra={"courier_id": courier_id, "template": template}
        )

    transaction.on_commit(enqueue)
