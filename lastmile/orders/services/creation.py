"""Creating orders: one at a time (back-office, API) or in bulk (file import, demo data).

Both paths validate through :func:`order_build` and write a ``created`` event per order, so
an imported order is indistinguishable from one typed in.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from lastmile.accounts.models import User
from lastmile.core.errors import Conflict, ValidationFailed
from lastmile.core.phones import parse_phone
from lastmile.hubs.models import Hub
from lastmile.orders import events
from lastmile.orders.errors import OrderErrorCode
from lastmile.orders.models import DeliveryOption, Order, OrderStatus, Parcel, Priority
from lastmile.orders.plausibility import (
    Level,
    ParcelSize,
    order_plausibility,
    parcel_plausibility,
    plausibility_limits,
)
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


def _parcel_errors(parcel: Parcel) -> list[str]:
    errors = []
    try:
        parcel.clean_fields(exclude=["order", "volume_mm3"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.extend(f"{parcel.barcode or '?'}: {name}: {m}" for m in messages)
    for name in ("weight_g", "length_mm", "width_mm", "height_mm"):
        if not getattr(parcel, name):
            errors.append(
                gettext("%(barcode)s: %(field)s must be greater than zero.")
                % {"barcode": parcel.barcode or "?", "field": name}
            )
    return errors


def parcel_build(*, order: Order | None, data: ParcelInput) -> Parcel:
    """One more parcel for an order already built; ``ValidationError`` on ``parcels``."""
    parcel = Parcel(
        order=order,
        barcode=data.barcode.strip(),
        weight_g=data.weight_g,
        length_mm=data.length_mm,
        width_mm=data.width_mm,
        height_mm=data.height_mm,
    )
    errors = _parcel_errors(parcel)
    if errors:
        raise ValidationError({"parcels": errors})
    return parcel


def order_build(
    *, partner: Partner, hub: Hub, data: OrderInput, unreadable: Collection[str] = ()
) -> tuple[Order, list[Parcel]]:
    """Turn input into unsaved rows and validate them without touching the database.

    Raises ``ValidationError`` keyed by field (``parcels`` for parcel problems), with every
    problem found, not only the first. ``unreadable`` names fields the caller could not read
    (a file's bad cells, already reported): they are left out of the checks, so the rest of
    the input is still checked. Uniqueness (reference per partner, barcodes) is checked by
    the callers, in one query for a batch; plausibility for the hub by
    :mod:`lastmile.orders.plausibility`.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    skipped = set(unreadable)
    phone = ""
    if "recipient_phone" not in skipped:
        try:
            phone = parse_phone(data.recipient_phone)
        except ValidationError as exc:
            errors["recipient_phone"].extend(exc.messages)
    windows_known = not skipped & {"window_start", "window_end"}
    if windows_known and (
        timezone.is_naive(data.window_start) or timezone.is_naive(data.window_end)
    ):
        raise ValidationError({"window_start": [gettext("Window times need a time zone.")]})
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
        service_date=(
            service_date_for(hub=hub, window_start=data.window_start)
            if data.window_start is not None
            else None
        ),
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
        order.clean_fields(
            exclude=[
                "partner",
                "hub",
                "recipient_phone",
                *skipped,
                *(["service_date"] if "window_start" in skipped else []),
            ]
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors[name].extend(messages)
    if windows_known and "window_end" not in errors and data.window_end <= data.window_start:
        errors["window_end"].append(gettext("The delivery window must end after it starts."))
    if (
        "cod_amount_minor" not in skipped
        and data.cod_amount_minor is not None
        and not order.cod_currency
    ):
        errors["cod_currency"].append(gettext("Cash on delivery needs a currency."))
    if not data.parcels and "parcels" not in skipped:
        errors["parcels"].append(gettext("An order needs at least one parcel."))
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
        errors["parcels"].extend(_parcel_errors(parcel))
        if parcel.barcode in barcodes:
            errors["parcels"].append(
                gettext("Barcode %(barcode)s appears twice in this order.")
                % {"barcode": parcel.barcode}
            )
        barcodes.add(parcel.barcode)
        parcels.append(parcel)
    found = {name: messages for name, messages in errors.items() if messages}
    if found:
        raise ValidationError(found)
    return order, parcels


@transaction.atomic
def order_create(
    *,
    partner: Partner,
    hub: Hub,
    data: OrderInput,
    source: str,
    actor: User | None = None,
    accept_warnings: bool = False,
) -> Order:
    """Create one order with its parcels and its ``created`` event.

    A reference the partner already used, or a barcode that exists, is a ``Conflict``. The
    hub's plausibility checks apply as to imported orders: an implausible value set to be an
    error refuses the order (``implausible_order``), one set to be a warning refuses it
    (``warnings_unconfirmed``) unless the caller confirms it with ``accept_warnings``.
    """
    order, parcels = order_build(partner=partner, hub=hub, data=data)
    limits = plausibility_limits(hub=hub)
    findings = order_plausibility(
        limits=limits,
        latitude=data.latitude,
        longitude=data.longitude,
        window_start=data.window_start,
        window_end=data.window_end,
    )
    for parcel in data.parcels:
        findings.extend(
            replace(finding, field="parcels", message=f"{parcel.barcode}: {finding.message}")
            for finding in parcel_plausibility(
                limits=limits,
                parcel=ParcelSize(
                    parcel.weight_g, parcel.length_mm, parcel.width_mm, parcel.height_mm
                ),
            )
        )
    for level, code, title in (
        (
            Level.ERROR,
            OrderErrorCode.IMPLAUSIBLE_ORDER,
            gettext("The order is implausible for its hub."),
        ),
        (
            Level.WARNING,
            OrderErrorCode.WARNINGS_UNCONFIRMED,
            gettext("The order has implausible values; confirm them to create it."),
        ),
    ):
        if level == Level.WARNING and accept_warnings:
            continue
        problems: dict[str, list[str]] = defaultdict(list)
        for finding in findings:
            if finding.level == level:
                problems[finding.field].append(finding.message)
        if problems:
            raise ValidationFailed(title, code=code, errors=dict(problems))
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
