"""Moves of the order state machine: one service per move, all through :func:`order_transition`.

Each locks the order row, checks ``ORDER_TRANSITIONS``, sets the status and its timestamp,
saves with ``update_fields`` and writes one event in the same transaction
(``core.state.transition`` with ``events.order_status_changed``). Repeating the current state
is a no-op (no event), so a retried request does no harm.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import InvalidTransition
from lastmile.core.state import transition
from lastmile.orders import events
from lastmile.orders.models import (
    ORDER_TRANSITIONS,
    DeliveryOption,
    Order,
    OrderStatus,
)
from lastmile.orders.services.creation import service_date_for

# Extra timestamp fields set when an order enters a state (``status_changed_at`` always is).
_STATE_TIMESTAMPS = {OrderStatus.DELIVERED: "delivered_at", OrderStatus.CANCELLED: "cancelled_at"}


def _orders() -> QuerySet[Order]:
    return Order.objects.select_related("hub", "partner")


def order_lock(order: Order) -> Order:
    """The order's row, locked until the caller's transaction ends, with its hub and partner."""
    return _orders().select_for_update().get(pk=order.pk)


def order_transition(
    order: Order,
    *,
    target: str,
    source: str,
    actor: User | None,
    payload: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
) -> Order:
    """Move ``order`` to ``target`` (the caller holds the transaction); returns the fresh row.

    Locks the row, checks ``ORDER_TRANSITIONS`` (an illegal move raises
    ``InvalidTransition``, repeating the current status is a no-op without an event), sets
    the status, ``status_changed_at`` and the target's own timestamp and ``fields``, and
    writes a ``status_changed`` event with ``payload``, all in the caller's transaction.
    """
    now = timezone.now()
    moved = transition(
        order,
        table=ORDER_TRANSITIONS,
        entity="Order",
        target=target,
        record=lambda row, previous, at: events.order_status_changed(
            order=row,
            from_status=previous,
            to_status=target,
            source=source,
            actor=actor,
            payload=payload,
            occurred_at=at,
        ),
        stamps=_STATE_TIMESTAMPS,
        fields={"status_changed_at": now, **(fields or {})},
        queryset=_orders(),
        now=now,
    )
    return moved.row


@transaction.atomic
def order_plan(
    *,
    order: Order,
    source: str = "system",
    actor: User | None = None,
    route_ref: str = "",
    eta_start: dt.datetime | None = None,
    eta_end: dt.datetime | None = None,
) -> Order:
    """A published plan took the order (created or rescheduled → planned).

    The ETA window promised to the customer goes into the event, where the order's timeline
    shows it (the planned tracking page and notifications will read it there).
    """
    payload: dict[str, Any] = {"route": route_ref}
    if eta_start is not None and eta_end is not None:
        payload |= {"eta_start": eta_start.isoformat(), "eta_end": eta_end.isoformat()}
    return order_transition(
        order, target=OrderStatus.PLANNED, source=source, actor=actor, payload=payload
    )


@transaction.atomic
def order_unplan(
    *, order: Order, reason: str, source: str = "system", actor: User | None = None
) -> Order:
    """Take the order off its plan (planned → created), e.g. when the plan is withdrawn."""
    return order_transition(
        order, target=OrderStatus.CREATED, source=source, actor=actor, payload={"reason": reason}
    )


@transaction.atomic
def order_start_delivery(
    *, order: Order, source: str = "courier", actor: User | None = None
) -> Order:
    """The route carrying the order has started (planned → out_for_delivery)."""
    return order_transition(order, target=OrderStatus.OUT_FOR_DELIVERY, source=source, actor=actor)


@transaction.atomic
def order_cancel(*, order: Order, reason: str, source: str, actor: User | None = None) -> Order:
    """Withdraw an order that has not left the hub (created/planned → cancelled)."""
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the order is cancelled."]})
    return order_transition(
        order, target=OrderStatus.CANCELLED, source=source, actor=actor, payload={"reason": reason}
    )


@transaction.atomic
def order_reschedule(
    *,
    order: Order,
    window_start: dt.datetime,
    window_end: dt.datetime,
    source: str,
    actor: User | None = None,
    reason: str = "",
) -> Order:
    """Give the order a new delivery window.

    A failed order moves to ``rescheduled``; a planned one goes back to ``created`` (its
    route no longer fits); a created one keeps its state. The window must lie ahead and end
    after it starts. Any other state is an invalid transition.
    """
    if timezone.is_naive(window_start) or timezone.is_naive(window_end):
        raise ValidationError({"window_start": ["Window times need a time zone."]})
    if window_end <= window_start:
        raise ValidationError({"window_end": ["The delivery window must end after it starts."]})
    if window_end <= timezone.now():
        raise ValidationError({"window_end": ["The new window must end in the future."]})
    locked = order_lock(order)
    window = {
        "window_start": window_start,
        "window_end": window_end,
        "service_date": service_date_for(hub=locked.hub, window_start=window_start),
    }
    from_window = (locked.window_start, locked.window_end)
    payload = events.window_change_payload(
        reason=reason, from_window=from_window, to_window=(window_start, window_end)
    )
    if locked.status == OrderStatus.FAILED:
        return order_transition(
            locked,
            target=OrderStatus.RESCHEDULED,
            source=source,
            actor=actor,
            payload=payload,
            fields=window,
        )
    if locked.status == OrderStatus.PLANNED:
        locked = order_transition(
            locked,
            target=OrderStatus.CREATED,
            source=source,
            actor=actor,
            payload={**payload, "reason": reason or "window changed"},
        )
    elif locked.status != OrderStatus.CREATED:
        raise InvalidTransition(
            entity="Order", current=locked.status, target=OrderStatus.RESCHEDULED
        )
    for name, value in window.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*window, "updated_at"])
    events.order_window_changed(
        order=locked,
        reason=reason,
        from_window=from_window,
        to_window=(window_start, window_end),
        source=source,
        actor=actor,
    )
    return locked


@transaction.atomic
def order_redirect(
    *, order: Order, option: str, destination: str, source: str, actor: User | None = None
) -> Order:
    """After a failed attempt, send the order to a locker or pickup point (failed → redirected)."""
    if option not in (DeliveryOption.LOCKER, DeliveryOption.PICKUP_POINT):
        raise ValidationError({"option": ["Redirect to a locker or a pickup point."]})
    return order_transition(
        order,
        target=OrderStatus.REDIRECTED,
        source=source,
        actor=actor,
        payload={"option": option, "destination": destination},
        fields={"delivery_option": option},
    )


@transaction.atomic
def order_start_return(
    *, order: Order, reason: str, source: str, actor: User | None = None
) -> Order:
    """Give up delivering and send the order back (failed → returning)."""
    return order_transition(
        order, target=OrderStatus.RETURNING, source=source, actor=actor, payload={"reason": reason}
    )


@transaction.atomic
def order_mark_returned(*, order: Order, source: str, actor: User | None = None) -> Order:
    """The partner has the order back (returning → returned_to_sender)."""
    return order_transition(
        order, target=OrderStatus.RETURNED_TO_SENDER, source=source, actor=actor
    )
