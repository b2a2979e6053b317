"""Error codes of the orders app (values stable: clients and forms branch on them)."""

from lastmile.core.errors import BaseErrorCode


class OrderErrorCode(BaseErrorCode):
    """Codes the order services give."""

    DUPLICATE_REFERENCE = "duplicate_reference", "The partner already has an order with it"
    DUPLICATE_BARCODE = "duplicate_barcode", "A parcel barcode already belongs to an order"
    ORDER_FINAL = "order_final", "A delivered, returned or cancelled order cannot be edited"
    IMPORT_TARGET_INACTIVE = "import_target_inactive", "The file's partner or hub is inactive"
    IMPLAUSIBLE_ORDER = "implausible_order", "A value is implausible for the order's hub"
    WARNINGS_UNCONFIRMED = "warnings_unconfirmed", "Implausible values wait for a confirmation"
