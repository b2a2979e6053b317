"""When couriers can work (availability), what a hub needs (coverage), and worked shifts.

Times of availability and coverage are the hub's local wall-clock times; shifts are instants.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from lastmile.core.models import TimeStampedModel
from lastmile.core.state import validate_table
from workforce.models.couriers import AppendOnlyModel, Courier


class AvailabilitySlot(TimeStampedModel):
    """A courier declares they can work at a hub on a day between two local times."""

    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="availability")
    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="availability")
    day = models.DateField()
    starts_at = models.TimeField(help_text="Hub-local time")
    ends_at = models.TimeField(help_text="Hub-local time")

    class Meta:
        ordering = ["day", "starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="workforce_slot_ends_after_start",
                violation_error_message="The slot must end after it starts.",
            ),
            models.UniqueConstraint(
                fields=["courier", "day", "starts_at"], name="workforce_slot_unique_start"
            ),
        ]
        indexes = [
            # Dispatch and the coverage page read a hub's day; the portal a courier's days.
            models.Index(fields=["hub", "day"], name="workforce_slot_hub_day"),
            models.Index(fields=["courier", "day"], name="workforce_slot_courier_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class CoverageNeed(models.Model):
    """How many couriers a hub wants on a weekday between two local times (configurable)."""

    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="coverage_needs")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()
    couriers = models.PositiveSmallIntegerField(help_text="Couriers needed in each hour")

    class Meta:
        ordering = ["hub", "weekday", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="workforce_need_ends_after_start",
                violation_error_message="The period must end after it starts.",
            ),
            models.CheckConstraint(condition=Q(couriers__gt=0), name="workforce_need_positive"),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="workforce_need_weekday_range"
            ),
            models.UniqueConstraint(
                fields=["hub", "weekday", "starts_at"], name="workforce_need_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_weekday_display()} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}: "
            f"{self.couriers}"
        )


class ShiftStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"  # planned; the courier has not clocked in
    STARTED = "started", "Started"  # clocked in
    COMPLETED = "completed", "Completed"  # clocked out; hours and distance are paid (final)
    CANCELLED = "cancelled", "Cancelled"  # called off before it started (final)


SS = ShiftStatus
SHIFT_TRANSITIONS: dict[str, frozenset[str]] = {
    SS.SCHEDULED: frozenset({SS.STARTED, SS.CANCELLED}),
    SS.STARTED: frozenset({SS.COMPLETED}),
    SS.COMPLETED: frozenset(),
    SS.CANCELLED: frozenset(),
}
validate_table(SHIFT_TRANSITIONS, set(SS.values))


class Shift(TimeStampedModel):
    """A period a courier works at a hub. Dispatch will schedule these from availability."""

    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="shifts")
    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="shifts")
    planned_start = models.DateTimeField()
    planned_end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=ShiftStatus.choices, default=SS.SCHEDULED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    worked_s = models.PositiveIntegerField(null=True, blank=True, help_text="Set on completion")
    distance_m = models.PositiveIntegerField(
        null=True, blank=True, help_text="Distance driven, recorded on completion"
    )

    class Meta:
        ordering = ["-planned_start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_end__gt=F("planned_start")),
                name="workforce_shift_planned_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ShiftStatus.values), name="workforce_shift_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=SS.COMPLETED)
                | Q(started_at__isnull=False, ended_at__isnull=False, worked_s__isnull=False),
                name="workforce_shift_completed_has_times",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gt=F("started_at")),
                name="workforce_shift_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["courier", "planned_start"], name="workforce_shift_courier"),
            models.Index(fields=["hub", "planned_start"], name="workforce_shift_hub"),
        ]

    def __str__(self) -> str:
        return f"Shift of {self.courier} {self.planned_start:%Y-%m-%d %H:%M}"


class DeliveryRating(AppendOnlyModel):
    """A customer's rating of a delivery, attributed to the courier who made the attempt.

    Staff record these through ``delivery_rating_record``; the planned tracking page will too.
    """

    attempt = models.OneToOneField(
        "orders.DeliveryAttempt", on_delete=models.PROTECT, related_name="rating"
    )
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="ratings")
    stars = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    rated_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-rated_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stars__gte=1, stars__lte=5), name="workforce_rating_stars_range"
            ),
        ]
        indexes = [models.Index(fields=["courier", "rated_at"], name="workforce_rating_courier")]

    def __str__(self) -> str:
        return f"{self.stars}★ for {self.courier}"
