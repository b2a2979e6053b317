"""Orders, their parcels, the order state machine, the event timeline, attempts and proofs.

The order is the centre of the product: routing plans it, couriers deliver it, and its
events are the record later features (KPIs, tracking, lockers and returns: planned) read.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from phonenumber_field.modelfields import PhoneNumberField

from lastmile.core.geo import coordinate_constraints, latitude_field, longitude_field
from lastmile.core.models import EventModel, TimeStampedModel
from lastmile.core.skills import validate_skills
from lastmile.core.state import validate_table
from lastmile.core.uploads import IMAGE_TYPES


class OrderStatus(models.TextChoices):
    CREATED = "created", "Created"  # accepted, waits to be planned
    PLANNED = "planned", "Planned"  # on a published route for its service date
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"  # loaded, the route has started
    DELIVERED = "delivered", "Delivered"  # handed over, proof recorded (final)
    FAILED = "failed", "Failed attempt"  # an attempt failed; the next step is not decided yet
    RESCHEDULED = "rescheduled", "Rescheduled"  # a new window is agreed; waits to be planned
    REDIRECTED = "redirected", "Redirected"  # sent to a locker or pickup point instead
    RETURNING = "returning", "Returning to sender"  # on its way back to the partner
    RETURNED_TO_SENDER = "returned_to_sender", "Returned to sender"  # back with the partner (final)
    CANCELLED = "cancelled", "Cancelled"  # withdrawn before it left the hub (final)


S = OrderStatus

# Every allowed move, written down once. Transition services check against this table.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    # planned → created: the order was taken off a plan (plan withdrawn, window changed).
    S.CREATED: frozenset({S.PLANNED, S.CANCELLED}),
    S.PLANNED: frozenset({S.OUT_FOR_DELIVERY, S.CREATED, S.CANCELLED}),
    S.OUT_FOR_DELIVERY: frozenset({S.DELIVERED, S.FAILED}),
    S.FAILED: frozenset({S.RESCHEDULED, S.REDIRECTED, S.RETURNING}),
    S.RESCHEDULED: frozenset({S.PLANNED}),
    S.REDIRECTED: frozenset(),
    S.RETURNING: frozenset({S.RETURNED_TO_SENDER}),
    S.DELIVERED: frozenset(),
    S.RETURNED_TO_SENDER: frozenset(),
    S.CANCELLED: frozenset(),
}
validate_table(ORDER_TRANSITIONS, set(S.values))

# Orders the planner may put on a route.
PLANNABLE_STATUSES = frozenset({S.CREATED, S.RESCHEDULED})


class DeliveryOption(models.TextChoices):
    DOOR = "door", "Door"
    LOCKER = "locker", "Parcel locker"
    PICKUP_POINT = "pickup_point", "Pickup point"


class Priority(models.IntegerChoices):
    NORMAL = 0, "Normal"
    HIGH = 1, "High"
    URGENT = 2, "Urgent (same day)"


class Order(TimeStampedModel):
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="orders")
    external_reference = models.CharField(
        max_length=64, help_text="The partner's own order number; unique per partner"
    )
    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=24, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)

    recipient_name = models.CharField(max_length=120)
    recipient_phone = PhoneNumberField(blank=True, help_text="E.164, e.g. +4930123456")
    recipient_email = models.EmailField(blank=True)
    address = models.CharField(max_length=255)
    latitude = latitude_field()
    longitude = longitude_field()
    access_notes = models.TextField(blank=True, help_text="Door code, floor, where to leave it")

    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    # The hub-local calendar day of the window start: planning and the board select by it.
    service_date = models.DateField(db_index=True)
    service_s = models.PositiveIntegerField(
        default=180, help_text="Expected time at the door, seconds"
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    required_skills = models.JSONField(default=list, blank=True, validators=[validate_skills])
    delivery_option = models.CharField(
        max_length=16, choices=DeliveryOption.choices, default=DeliveryOption.DOOR
    )
    cod_amount_minor = models.PositiveIntegerField(
        null=True, blank=True, help_text="Cash on delivery, in minor units (cents)"
    )
    cod_currency = models.CharField(max_length=3, blank=True, default="")

    attempt_count = models.PositiveSmallIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-service_date", "window_start", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "external_reference"],
                name="orders_order_unique_reference_per_partner",
                violation_error_message="This partner already has an order with this reference.",
            ),
            models.CheckConstraint(
                condition=Q(window_end__gt=F("window_start")),
                name="orders_order_window_end_after_start",
                violation_error_message="The delivery window must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(cod_amount_minor__isnull=True) | ~Q(cod_currency=""),
                name="orders_order_cod_has_currency",
                violation_error_message="Cash on delivery needs a currency.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="orders_order_status_valid"
            ),
            *coordinate_constraints("orders_order"),
        ]
        indexes = [
            models.Index(fields=["hub", "service_date", "status"], name="orders_hub_day_status"),
            models.Index(fields=["partner", "-created_at"], name="orders_partner_recent"),
            models.Index(fields=["recipient_phone"], name="orders_recipient_phone"),
        ]
        permissions = [("import_orders", "Can import order files")]

    def __str__(self) -> str:
        return f"{self.external_reference} ({self.get_status_display()})"


class Parcel(TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="parcels")
    barcode = models.CharField(max_length=64, unique=True)
    weight_g = models.PositiveIntegerField()
    length_mm = models.PositiveIntegerField()
    width_mm = models.PositiveIntegerField()
    height_mm = models.PositiveIntegerField()
    volume_mm3 = models.GeneratedField(
        expression=F("length_mm") * F("width_mm") * F("height_mm"),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_g__gt=0)
                & Q(length_mm__gt=0)
                & Q(width_mm__gt=0)
                & Q(height_mm__gt=0),
                name="orders_parcel_positive_size",
                violation_error_message="Weight and every dimension must be greater than zero.",
            )
        ]

    def __str__(self) -> str:
        return self.barcode


class OrderEvent(EventModel):
    """The order's timeline: one row per change, never edited or deleted.

    Dispatch and payouts read these rows today, and the planned webhooks, tracking page and
    KPIs will read them too, so nothing is recorded twice.
    """

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        STATUS_CHANGED = "status_changed", "Status changed"
        UPDATED = "updated", "Details updated"
        WINDOW_CHANGED = "window_changed", "Delivery window changed"
        ATTEMPT_RECORDED = "attempt_recorded", "Delivery attempt recorded"
        ETA_CHANGED = "eta_changed", "Estimated arrival changed"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    source = models.CharField(
        max_length=32,
        help_text="Where the change came from: back_office, import, api, courier, system",
    )

    class Meta:
        ordering = ["order", "occurred_at", "pk"]
        indexes = [models.Index(fields=["order", "occurred_at"], name="orders_event_timeline")]


class FailureReason(models.TextChoices):
    RECIPIENT_ABSENT = "recipient_absent", "Recipient absent"
    ADDRESS_NOT_FOUND = "address_not_found", "Address not found"
    ACCESS_DENIED = "access_denied", "No access to the building"
    REFUSED = "refused", "Refused by recipient"
    DAMAGED = "damaged", "Parcel damaged"
    UNSAFE_LOCATION = "unsafe_location", "Unsafe location"
    OUT_OF_TIME = "out_of_time", "Out of time"
    OTHER = "other", "Other (see note)"


class DeliveryAttempt(TimeStampedModel):
    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField(help_text="1 for the first attempt")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    failure_reason = models.CharField(max_length=24, choices=FailureReason.choices, blank=True)
    failure_note = models.TextField(blank=True)
    attempted_at = models.DateTimeField()
    latitude = latitude_field(null=True, blank=True)
    longitude = longitude_field(null=True, blank=True)
    courier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="delivery_attempts",
    )

    class Meta:
        ordering = ["order", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "number"], name="orders_attempt_unique_number"
            ),
            models.CheckConstraint(
                condition=(Q(outcome="failed") & ~Q(failure_reason=""))
                | (Q(outcome="delivered") & Q(failure_reason="")),
                name="orders_attempt_reason_iff_failed",
                violation_error_message="A failed attempt needs a reason; a delivery has none.",
            ),
            models.CheckConstraint(
                condition=~Q(failure_reason="other") | ~Q(failure_note=""),
                name="orders_attempt_other_needs_note",
                violation_error_message="Describe the reason when it is 'other'.",
            ),
            *coordinate_constraints("orders_attempt"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.get_outcome_display()}"


PROOF_EXTENSIONS = frozenset(extension for _, extension in IMAGE_TYPES.values())


def _pod_upload_to(instance: "ProofOfDelivery", filename: str) -> str:
    # Unguessable names; the original filename may carry personal data. ``order_deliver``
    # names the file after the type detected from its bytes (``photo.png``); any other
    # extension is stored as ``.bin``, so no name on disk ever says HTML or SVG.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in PROOF_EXTENSIONS:
        extension = "bin"
    return f"proofs/{instance.captured_at:%Y/%m}/{uuid.uuid4().hex}.{extension}"


class ProofOfDelivery(TimeStampedModel):
    """What proves a delivery: a name, a photo, a signature. Photo and signature are images
    checked by content (``lastmile.core.uploads``) and served only through the admin's
    proof view."""

    attempt = models.OneToOneField(DeliveryAttempt, on_delete=models.PROTECT, related_name="proof")
    recipient_name = models.CharField(max_length=120, blank=True)
    photo = models.ImageField(upload_to=_pod_upload_to, blank=True)
    signature = models.ImageField(upload_to=_pod_upload_to, blank=True)
    latitude = latitude_field(null=True, blank=True)
    longitude = longitude_field(null=True, blank=True)
    captured_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "proofs of delivery"
        constraints = [
            models.CheckConstraint(
                condition=~Q(recipient_name="") | ~Q(photo="") | ~Q(signature=""),
                name="orders_pod_not_empty",
                violation_error_message="A proof needs a recipient name, a photo or a signature.",
            ),
            *coordinate_constraints("orders_pod"),
        ]

    def __str__(self) -> str:
        return f"Proof for {self.attempt}"


class OrderImport(TimeStampedModel):
    """An order file a dispatcher uploaded: previewed first, written only once confirmed."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed"  # parsed and checked, nothing written yet
        CONFIRMED = "confirmed", "Confirmed"  # the valid rows were written (final)
        DISCARDED = "discarded", "Discarded"  # the dispatcher dropped it (final)

    TRANSITIONS = {
        Status.PREVIEWED: frozenset({Status.CONFIRMED, Status.DISCARDED}),
        Status.CONFIRMED: frozenset(),
        Status.DISCARDED: frozenset(),
    }

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="order_imports"
    )
    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="order_imports")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    file = models.FileField(upload_to="imports/%Y/%m/")
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEWED)
    row_count = models.PositiveIntegerField(default=0)
    error_row_count = models.PositiveIntegerField(default=0)
    new_order_count = models.PositiveIntegerField(
        default=0, help_text="Valid orders not imported before"
    )
    existing_order_count = models.PositiveIntegerField(
        default=0, help_text="References already imported"
    )
    errors = models.JSONField(
        default=list, blank=True, help_text="[{row, column, message}], first 1,000"
    )
    # Implausible values the settings make warnings, as previewed: confirming the import
    # confirms these and no others (one appearing later holds its order back).
    warnings = models.JSONField(
        default=list, blank=True, help_text="[{row, column, message}], first 1,000"
    )
    warning_order_count = models.PositiveIntegerField(
        default=0, help_text="New orders with warnings, written only once confirmed"
    )
    created_order_count = models.PositiveIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"


validate_table(OrderImport.TRANSITIONS, set(OrderImport.Status.values))
