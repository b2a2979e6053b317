"""Writes of the order domain. Import services from here."""

from lastmile.orders.services.attempts import order_deliver, order_fail
from lastmile.orders.services.creation import (
    BulkResult,
    OrderInput,
    ParcelInput,
    order_build,
    order_create,
    orders_bulk_create,
    service_date_for,
)
from lastmile.orders.services.imports import (
    order_import_confirm,
    order_import_discard,
    order_import_preview,
)
from lastmile.orders.services.transitions import (
    order_cancel,
    order_mark_returned,
    order_plan,
    order_redirect,
    order_reschedule,
    order_start_delivery,
    order_start_return,
    order_unplan,
)
from lastmile.orders.services.updates import EDITABLE_FIELDS, order_eta_changed, order_update

__all__ = [
    "EDITABLE_FIELDS",
    "BulkResult",
    "OrderInput",
    "ParcelInput",
    "order_build",
    "order_cancel",
    "order_create",
    "order_deliver",
    "order_eta_changed",
    "order_fail",
    "order_import_confirm",
    "order_import_discard",
    "order_import_preview",
    "order_mark_returned",
    "order_plan",
    "order_redirect",
    "order_reschedule",
    "order_start_delivery",
    "order_start_return",
    "order_unplan",
    "order_update",
    "orders_bulk_create",
    "service_date_for",
]
