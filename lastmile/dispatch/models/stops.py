"""Stops: the visits of a route in order, and their state machine."""

from django.db import models
from django.db.models import F, Q

from lastmile.core.geo import coordinate_constraints, latitude_field, longitude_field
from lastmile.core.state import validate_table
from lastmile.dispatch.models.routes import Route


class StopKind(models.TextChoices):
    DELIVERY = "delivery", "Delivery"  # hand an order's parcels over at the door
    PICKUP = "pickup", "Pickup"  # collect parcels (returns, later)
    LOCKER_DROP = "locker_drop", "Locker drop"  # fill a parcel locker (lockers, later)
    RELOAD = "reload", "Reload at the hub"  # back at the hub between two trips
    BREAK = "break", "Break"  # the driver's pause


ORDER_STOP_KINDS = (StopKind.DELIVERY, StopKind.PICKUP, StopKind.LOCKER_DROP)


class StopStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not reached yet
    ARRIVED = "arrived", "Arrived"  # the courier is there
    COMPLETED = "completed", "Completed"  # served (final)
    FAILED = "failed", "Failed"  # tried and failed; the order's attempt says why (final)
    SKIPPED = "skipped", "Skipped"  # left out: taken off the route or no longer needed (final)


STOP_TRANSITIONS: dict[str, frozenset[str]] = {
    # pending → skipped: a dispatcher takes the stop off before the courier gets there.
    StopStatus.PENDING: frozenset({StopStatus.ARRIVED, StopStatus.SKIPPED}),
    StopStatus.ARRIVED: frozenset({StopStatus.COMPLETED, StopStatus.FAILED, StopStatus.SKIPPED}),
    StopStatus.COMPLETED: frozenset(),
    StopStatus.FAILED: frozenset(),
    StopStatus.SKIPPED: frozenset(),
}
validate_table(STOP_TRANSITIONS, set(StopStatus.values))
# A stop in one of these states needs nothing more from the courier.
SETTLED_STOP_STATUSES = (StopStatus.COMPLETED, StopStatus.FAILED, StopStatus.SKIPPED)


class Stop(models.Model):
    """A visit on a route, in order; times are aware datetimes, windows the order's own."""

    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="stops")
    sequence = models.PositiveIntegerField(help_text="1 for the first stop after leaving the hub")
    trip = models.PositiveSmallIntegerField(default=1, help_text="Which tour out of the hub")
    kind = models.CharField(max_length=16, choices=StopKind.choices)
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="stops",
    )
    status = models.CharField(max_length=16, choices=StopStatus.choices, default=StopStatus.PENDING)
    latitude = latitude_field()
    longitude = longitude_field()
    planned_arrival = models.DateTimeField()
    planned_start = models.DateTimeField(help_text="Service starts (after waiting for the window)")
    planned_departure = models.DateTimeField()
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    eta = models.DateTimeField(null=True, blank=True, help_text="Current estimate of arrival")
    actual_arrival = models.DateTimeField(null=True, blank=True)
    actual_departure = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["route", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["route", "sequence"], name="dispatch_stop_unique_sequence"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=StopKind.values), name="dispatch_stop_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=StopStatus.values), name="dispatch_stop_status_valid"
            ),
            # Reloads and breaks serve no order; a delivery always serves one.
            models.CheckConstraint(
                condition=Q(kind__in=[StopKind.RELOAD, StopKind.BREAK], order__isnull=True)
                | Q(kind=StopKind.DELIVERY, order__isnull=False)
                | Q(kind__in=[StopKind.PICKUP, StopKind.LOCKER_DROP]),
                name="dispatch_stop_order_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(planned_departure__gte=F("planned_arrival")),
                name="dispatch_stop_departs_after_arrival",
            ),
            *coordinate_constraints("dispatch_stop"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.get_kind_display()}"
