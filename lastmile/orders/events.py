"""The order's timeline rows (``OrderEvent``): one constructor per kind, the only writers.

Services call these inside the transaction of the change they record; webhooks, the
tracking page and KPIs read the rows, so a payload's shape is defined once, here.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.orders.models import (
    DeliveryAttempt,
    Order,
    OrderEvent,
    OrderStatus,
    ProofOfDelivery,
)


def _created(order: Order, *, source: str, actor: User | None, at: dt.datetime) -> OrderEvent:
    return OrderEvent(
        order=order,
        kind=OrderEvent.Kind.CREATED,
        to_status=OrderStatus.CREATED,
        actor=actor,
        source=source,
        payload={"external_reference": order.external_reference},
        occurred_at=at,
    )


def order_created(
    *, order: Order, source: str, actor: User | None = None, occurred_at: dt.datetime | None = None
) -> OrderEvent:
    """The order exists (``created``), under the partner's reference."""
    event = _created(order, source=source, actor=actor, at=occurred_at or timezone.now())
    event.save()
    return event


def orders_created(
    *,
    orders: Sequence[Order],
    source: str,
    actor: User | None = None,
    occurred_at: dt.datetime | None = None,
    batch_size: int | None = None,
) -> list[OrderEvent]:
    """``order_created`` for many orders in a few INSERTs (a file import, a bulk create)."""
    at = occurred_at or timezone.now()
    return OrderEvent.objects.bulk_create(
        [_created(order, source=source, actor=actor, at=at) for order in orders],
        batch_size=batch_size,
    )


def order_status_changed(
    *,
    order: Order,
    from_status: str,
    to_status: str,
    source: str,
    actor: User | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> OrderEvent:
    """The order moved from one status to another (``payload``: the move's details)."""
    return OrderEvent.objects.create(
        order=order,
        kind=OrderEvent.Kind.STATUS_CHANGED,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        source=source,
        payload=payload or {},
        occurred_at=occurred_at or timezone.now(),
    )


def order_updated(
    *, order: Order, fields: Iterable[str], source: str, actor: User | None = None
) -> OrderEvent:
    """Details of the order were corrected; the row names the fields, not their values."""
    return OrderEvent.objects.create(
        order=order,
        kind=OrderEvent.Kind.UPDATED,
        actor=actor,
        source=source,
        payload={"fields": sorted(fields)},
        occurred_at=timezone.now(),
    )


def window_change_payload(
    *,
    reason: str,
    from_window: tuple[dt.datetime, dt.datetime],
    to_window: tuple[dt.datetime, dt.datetime],
) -> dict[str, Any]:
    """What a new delivery window records, on its own row and on a status move it causes."""
    return {
        "reason": reason,
        "from_window": [moment.isoformat() for moment in from_window],
        "to_window": [moment.isoformat() for moment in to_window],
    }


def order_window_changed(
    *,
    order: Order,
    reason: str,
    from_window: tuple[dt.datetime, dt.datetime],
    to_window: tuple[dt.datetime, dt.datetime],
    source: str,
    actor: User | None = None,
) -> OrderEvent:
    """The order got a new delivery window (the old and new windows, and why)."""
    return OrderEvent.objects.create(
        order=order,
        kind=OrderEvent.Kind.WINDOW_CHANGED,
        actor=actor,
        source=source,
        payload=window_change_payload(reason=reason, from_window=from_window, to_window=to_window),
        occurred_at=timezone.now(),
    )


def order_attempt_recorded(
    *,
    attempt: DeliveryAttempt,
    source: str,
    actor: User | None = None,
    proof: ProofOfDelivery | None = None,
) -> OrderEvent:
    """A delivery attempt, at the moment it was made: a failure with its reason and note, or
    a delivery with its proof."""
    payload: dict[str, Any] = {"attempt": attempt.number, "outcome": attempt.outcome}
    if attempt.outcome == DeliveryAttempt.Outcome.FAILED:
        payload |= {"reason": attempt.failure_reason, "note": attempt.failure_note}
    else:
        payload["proof"] = proof.pk if proof is not None else None
    return OrderEvent.objects.create(
        order=attempt.order,
        kind=OrderEvent.Kind.ATTEMPT_RECORDED,
        actor=actor,
        source=source,
        payload=payload,
        occurred_at=attempt.attempted_at,
    )


def order_eta_changed(
    *,
    order: Order,
    eta_start: dt.datetime,
    eta_end: dt.datetime,
    route_ref: str,
    source: str = "system",
    actor: User | None = None,
) -> OrderEvent:
    """A new arrival window was promised for an order on a route."""
    return OrderEvent.objects.create(
        order=order,
        kind=OrderEvent.Kind.ETA_CHANGED,
        actor=actor,
        source=source,
        payload={
            "route": route_ref,
            "eta_start": eta_start.isoformat(),
            "eta_end": eta_end.isoformat(),
        },
        occurred_at=timezone.now(),
    )
