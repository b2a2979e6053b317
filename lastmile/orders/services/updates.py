"""Editing an order's details (not its state): what a dispatcher corrects on the phone."""

import datetime as dt
from typing import Any

from django.db import transaction

from lastmile.accounts.models import User
from lastmile.core.errors import ValidationFailed
from lastmile.orders import events
from lastmile.orders.errors import OrderErrorCode
from lastmile.orders.models import Order, OrderEvent, OrderStatus

# Details a dispatcher may correct. The window changes through ``order_reschedule`` and the
# state through the transition services; partner and reference never change.
EDITABLE_FIELDS = frozenset(
    {
        "recipient_name",
        "recipient_phone",
        "recipient_email",
        "address",
        "latitude",
        "longitude",
        "access_notes",
        "service_s",
        "priority",
        "required_skills",
    }
)
FINAL_STATUSES = frozenset(
    {OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED_TO_SENDER}
)


@transaction.atomic
def order_update(
    *, order: Order, changes: dict[str, Any], source: str, actor: User | None = None
) -> Order:
    """Apply ``changes`` to the order's details, validated, with an ``updated`` event.

    Only :data:`EDITABLE_FIELDS` may change, and not once the order is final. Unchanged
    values are ignored; no change at all writes nothing.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed(
            "These fields cannot be edited here.",
            errors={name: ["Not editable."] for name in sorted(unknown)},
        )
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status in FINAL_STATUSES:
        raise ValidationFailed(
            f"A {locked.get_status_display().lower()} order cannot be edited.",
            code=OrderErrorCode.ORDER_FINAL,
        )
    before = {name: getattr(locked, name) for name in changes}
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean(validate_unique=False, validate_constraints=False)
    changed = [name for name in changes if getattr(locked, name) != before[name]]
    if not changed:
        return locked
    locked.save(update_fields=[*changed, "updated_at"])
    events.order_updated(order=locked, fields=changed, source=source, actor=actor)
    return locked


def order_eta_changed(
    *,
    order: Order,
    eta_start: dt.datetime,
    eta_end: dt.datetime,
    route_ref: str,
    source: str = "system",
    actor: User | None = None,
) -> OrderEvent:
    """Record a new arrival window promised for an order already on a route.

    Re-planning during the day moves stops; the customer's window follows in the timeline,
    where the order's admin page shows it (and the planned tracking page and customer
    notifications will read it). Nothing on the order row changes.
    """
    if eta_end <= eta_start:
        raise ValidationFailed(
            "An ETA window must end after it starts.", errors={"eta_end": ["Before the start."]}
        )
    return events.order_eta_changed(
        order=order,
        eta_start=eta_start,
        eta_end=eta_end,
        route_ref=route_ref,
        source=source,
        actor=actor,
    )
