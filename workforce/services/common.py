"""What every workforce service shares: the courier timeline row and mail after commit."""

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from lastmile.accounts.models import User
from workforce.models import Courier, CourierEvent

logger = logging.getLogger(__name__)


def record_event(
    courier: Courier,
    *,
    kind: str,
    actor: User | None = None,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    payload: dict[str, Any] | None = None,
) -> CourierEvent:
    return CourierEvent.objects.create(
        courier=courier,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        note=note,
        payload=payload or {},
        occurred_at=timezone.now(),
    )


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
