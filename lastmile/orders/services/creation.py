"""Creating orders: one at a time (back-office, API) or in bulk (file import, demo data).

Both paths validate through :func:`order_build` and write a ``created`` event per order, so
an imported order is indistinguishable from one typed in.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import Conflict
from lastmile.core.phones import parse_phone
from lastmile.hubs.models import Hub
from lastmile.orders import events
from lastmile.orders.errors import OrderErrorCode
from lastmile.orders.models import DeliveryOption, Order, OrderStatus, Parcel, Priority
from lastmile.partners.models import Partner

BULK_BATCH_SIZE = 1000


@dataclass(frozen=True)
class ParcelInput:
    barcode: str
    weight_g: int
    length_mm: int
    width_mm: int
    height_mm: int


@dataclass(frozen=True)
class OrderInput:
    """An order as a partner describes it, before it is validated."""

    external_reference: str
    recipient_name: str
    address: str
    latitude: Decimal
    longitude: Decimal
    window_start: dt.datetime
    window_end: dt.datetime
    parcels: Sequence[ParcelInput]
    recipient_phone: str = ""
    recipient_email: str = ""
    access_notes: str = ""
    service_s: int = 180
    priority: int = Priority.NORMAL
    required_skills: Sequence[str] = ()
    delivery_option: str = DeliveryOption.DOOR
    cod_amount_minor: int | None = None
    cod_currency: str = ""


@dataclass
class BulkResult:
    created: list[Order] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)


def service_date_for(*, hub: Hub, window_start: dt.datetime) -> dt.date:
    """The hub-local day a window starts on: the day the order is planned for."""
    return timezone.localtime(window_start, hub.zone).date()


def order_build(*, partner: Partner, hub: Hub, data: OrderInput) -> tuple[Order, list[Parcel]]:
    """Turn input into unsaved rows and validate them without touching the database.

    Raises ``ValidationError`` keyed by field (``parcels`` for parcel problems). Uniqueness
    (reference per partner, barcodes) is checked by the callers, in one query for a batch.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    try:
        phone = parse_phone(data.recipient_phone)
    except ValidationError as exc:
        errors["recipient_phone"].extend(exc.messages)
        phone = ""
    if timezone.is_naive(data.window_start) or timezone.is_naive(data.window_end):
        raise ValidationError({"window_start": ["Window times need a time zone."]})
    order = Order(
        partner=partner,
        hub=hub,
        external_reference=data.external_reference.strip(),
        status=OrderStatus.CREATED,
        recipient_name=data.recipient_name.strip(),
        recipient_phone=phone,
        recipient_email=data.recipient_email.strip(),
        address=data.address.strip(),
        latitude=data.latitude,
        longitude=data.longitude,
        access_notes=data.access_notes,
        window_start=data.window_start,
        window_end=data.window_end,
        service_date=service_date_for(hub=hub, window_start=data.window_start),
        service_s=data.service_s,
        priority=data.priority,
        required_skills=sorted(set(data.required_skills)),
        delivery_option=data.delivery_option,
        cod_amount_minor=data.cod_amount_minor,
        cod_currency=(data.cod_currency or "").upper(),
    )
    try:
        # The phone was parsed and checked once above; checking it again per field is the
        # most expensive step of a large import.
        order.clean_fields(exclude=["partner", "hub", "recipient_phone"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors[name].extend(messages)
    if "window_end" not in errors and data.window_end <= data.window_start:
        errors["window_end"].append("The delivery window must end after it starts.")
    if data.cod_amount_minor is not None and not order.cod_currency:
        errors["cod_currency"].append("Cash on delivery needs a currency.")
    if not data.parcels:
        errors["parcels"].append("An order needs at least one parcel.")
    parcels = []
    barcodes = set()
    for parcel_data in data.parcels:
        parcel = Parcel(
            order=order,
            barcode=parcel_data.barcode.strip(),
            weight_g=parcel_data.weight_g,
            length_mm=parcel_data.length_mm,
            width_mm=parcel_data.width_mm,
            height_mm=parcel_data.height_mm,
        )
        try:
            parcel.clean_fields(exclude=["order", "volume_mm3"])
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors["parcels"].extend(f"{parcel.barcode or '?'}: {name}: {m}" for m in messages)
        for name in ("weight_g", "length_mm", "width_mm", "height_mm"):
            if not getattr(parcel, name):
                errors["parcels"].append(
                    f"{parcel.barcode or '?'}: {name} must be greater than zero."
                )
        if parcel.barcode in barcodes:
            errors["parcels"].append(f"Barcode {parcel.barcode} appears twice in this order.")
        barcodes.add(parcel.barcode)
        parcels.append(parcel)
    if errors:
        raise ValidationError(dict(errors))
    return order, parcels


@transaction.atomic
def order_create(
    *, partner: Partner, hub: Hub, data: OrderInput, source: str, actor: User | None = None
) -> Order:
    """Create one order with its parcels and its ``created`` event.

    A reference the partner already used, or a barcode that exists, is a ``Conflict``.
    """
    order, parcels = order_build(partner=partner, hub=hub, data=data)
    if Order.objects.filter(partner=partner, external_reference=order.external_reference).exists():
        raise Conflict(
            f"Order {order.external_reference} already exists for {partner}.",
            code=OrderErrorCode.DUPLICATE_REFERENCE,
            errors={
                "external_reference": ["This partner already has an order with this reference."]
            },
        )
    taken = set(
        Parcel.objects.filter(barcode__in=[p.barcode for p in parcels]).values_list(
            "barcode", flat=True
        )
    )
    if taken:
        raise Conflict(
            "Barcode already in use.",
            code=OrderErrorCode.DUPLICATE_BARCODE,
            errors={"parcels": [f"Barcode {code} is already in use." for code in sorted(taken)]},
        )
    order.save()
    Parcel.objects.bulk_create(parcels)
    events.order_created(order=order, source=source, actor=actor)
    return order


def orders_bulk_create(
    *,
    partner: Partner,
    hub: Hub,
    orders: Sequence[tuple[Order, list[Parcel]]],
    source: str,
    actor: User | None = None,
) -> BulkResult:
    """Write already-built orders in one transaction, skipping references the partner used.

    Idempotent by ``(partner, external_reference)``: writing the same batch twice creates the
    orders once. Barcodes taken by another order make the whole batch fail with a
    ``Conflict`` naming them, so nothing half-written is left behind.
    """
    result = BulkResult()
    if not orders:
        return result
    with transaction.atomic():
        references = [order.external_reference for order, _ in orders]
        existing = set(
            Order.objects.filter(partner=partner, external_reference__in=references).values_list(
                "external_reference", flat=True
            )
        )
        fresh = [
            (order, parcels)
            for order, parcels in orders
            if order.external_reference not in existing
        ]
        result.skipped_existing = [ref for ref in references if ref in existing]
        barcodes = [parcel.barcode for _, parcels in fresh for parcel in parcels]
        taken = set(Parcel.objects.filter(barcode__in=barcodes).values_list("barcode", flat=True))
        if taken:
            raise Conflict(
                f"{len(taken)} barcode(s) already belong to other orders.",
                code=OrderErrorCode.DUPLICATE_BARCODE,
                errors={
                    "parcels": [f"Barcode {code} is already in use." for code in sorted(taken)[:50]]
                },
            )
        now = timezone.now()
        new_orders = [order for order, _ in fresh]
        for order in new_orders:
            order.partner, order.hub = partner, hub
            order.created_at = order.updated_at = now
        Order.objects.bulk_create(new_orders, batch_size=BULK_BATCH_SIZE)
        parcels = [parcel for order, order_parcels in fresh for parcel in order_parcels]
        for parcel in parcels:
            parcel.order_id = parcel.order.pk
        Parcel.objects.bulk_create(parcels, batch_size=BULK_BATCH_SIZE)
        events.orders_created(
            orders=new_orders,
            source=source,
            actor=actor,
            occurred_at=now,
            batch_size=BULK_BATCH_SIZE,
        )
        result.created = new_orders
    return result
