"""Planning runs (``Plan``) with their state machine, and the orders a run could not place."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from lastmile.core.leases import LeasedWork
from lastmile.core.models import TimeStampedModel
from lastmile.core.state import validate_table
from lastmile.routing.solution import UnassignedReason


class PlanStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # requested; a worker has not picked it up yet
    RUNNING = "running", "Running"  # a worker builds, solves and stores it (progress moves)
    READY = "ready", "Ready"  # routes stored and checked; waits for the dispatcher to publish
    PUBLISHED = "published", "Published"  # routes handed to couriers, orders planned (final)
    FAILED = "failed", "Failed"  # the run stopped on an error; ``error`` says why (final)
    CANCELLED = "cancelled", "Cancelled"  # withdrawn by a dispatcher or replaced (final)


PLAN_TRANSITIONS: dict[str, frozenset[str]] = {
    PlanStatus.QUEUED: frozenset({PlanStatus.RUNNING, PlanStatus.FAILED, PlanStatus.CANCELLED}),
    PlanStatus.RUNNING: frozenset({PlanStatus.READY, PlanStatus.FAILED, PlanStatus.CANCELLED}),
    # ready → cancelled: withdrawn by hand, or superseded by a newer run for the same day.
    PlanStatus.READY: frozenset({PlanStatus.PUBLISHED, PlanStatus.CANCELLED}),
    PlanStatus.PUBLISHED: frozenset(),
    PlanStatus.FAILED: frozenset(),
    PlanStatus.CANCELLED: frozenset(),
}
validate_table(PLAN_TRANSITIONS, set(PlanStatus.values))

# A hub and day has at most one run in flight; a second request joins it.
ACTIVE_PLAN_STATUSES = (PlanStatus.QUEUED, PlanStatus.RUNNING)


class PlanPhase(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    BUILDING = "building", "Reading orders and vehicles"
    SOLVING = "solving", "Optimising routes"
    CHECKING = "checking", "Checking the routes"
    STORING = "storing", "Saving the routes"
    DONE = "done", "Done"


class Plan(LeasedWork, TimeStampedModel):
    """One planning run for a hub and service date, and its result once ready.

    While running, the run holds a lease (``core.leases``): a run whose worker died is
    restarted by the sweeper, or failed once it was started ``TASK_MAX_ATTEMPTS`` times.
    """

    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="plans")
    service_date = models.DateField(help_text="The hub-local day the routes are driven")
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default=PlanStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    celery_task_id = models.CharField(max_length=64, blank=True)

    # Progress, written while the run goes (outside its transaction, so viewers see it).
    progress_phase = models.CharField(
        max_length=16, choices=PlanPhase.choices, default=PlanPhase.QUEUED
    )
    progress_pct = models.PositiveSmallIntegerField(default=0)
    progress_updated_at = models.DateTimeField(null=True, blank=True)

    # What the solver found, with figures recomputed by the independent checker.
    time_limit_s = models.FloatField(null=True, blank=True)
    backend = models.CharField(max_length=16, blank=True)
    solve_time_s = models.FloatField(null=True, blank=True)
    objective = models.FloatField(null=True, blank=True)
    distance_m = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.PositiveIntegerField(null=True, blank=True)
    energy_wh = models.PositiveIntegerField(null=True, blank=True)
    vehicles_used = models.PositiveIntegerField(null=True, blank=True)
    vehicles_available = models.PositiveIntegerField(null=True, blank=True)
    routed_count = models.PositiveIntegerField(null=True, blank=True)
    unassigned_count = models.PositiveIntegerField(null=True, blank=True)
    feasible = models.BooleanField(null=True, blank=True, help_text="Per the independent checker")
    violations_count = models.PositiveIntegerField(null=True, blank=True)
    # Timings (build_s, solve_s, store_s), the shift used and where it came from, and so on.
    stats = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    started_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-service_date", "hub", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PlanStatus.values), name="dispatch_plan_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(progress_pct__lte=100), name="dispatch_plan_progress_pct_range"
            ),
            # Partial unique indexes: PostgreSQL and SQLite both enforce them.
            models.UniqueConstraint(
                fields=["hub", "service_date"],
                condition=Q(status__in=ACTIVE_PLAN_STATUSES),
                name="dispatch_plan_one_active_per_hub_day",
                violation_error_message="A planning run for this hub and day is already going.",
            ),
            models.UniqueConstraint(
                fields=["hub", "service_date"],
                condition=Q(status=PlanStatus.READY),
                name="dispatch_plan_one_ready_per_hub_day",
                violation_error_message="This hub and day already has a plan waiting to publish.",
            ),
        ]
        indexes = [
            models.Index(fields=["hub", "service_date", "status"], name="dispatch_plan_hub_day"),
        ]
        permissions = [
            ("request_plan", "Can request a planning run"),
            ("cancel_plan", "Can cancel a planning run"),
        ]

    # Set by ``plan_request`` on the instance it returns: True when the request joined a run
    # already queued or running instead of starting one. Not a database field.
    joined = False

    def __str__(self) -> str:
        return f"{self.hub.code} {self.service_date:%Y-%m-%d} ({self.get_status_display()})"


# --- Unassigned orders ----------------------------------------------------------------------


class UnassignedOrder(models.Model):
    """An order a plan could not place, with the constraint that blocks it and a fix."""

    class Reason(models.TextChoices):
        # The engine's ``UnassignedReason`` codes, with the words a dispatcher reads.
        NO_SKILL = UnassignedReason.NO_SKILL.value, "No vehicle with the skill"
        CAPACITY = UnassignedReason.CAPACITY.value, "Too big for every vehicle"
        RANGE = UnassignedReason.RANGE.value, "Beyond every vehicle's range"
        WINDOW = UnassignedReason.WINDOW.value, "Window unreachable"
        SHIFT = UnassignedReason.SHIFT.value, "No shift long enough"
        DROPPED_FOR_COST = UnassignedReason.DROPPED_FOR_COST.value, "No room in the plan"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="unassigned")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=24, choices=Reason.choices)
    detail = models.TextField()
    fix = models.TextField(blank=True)

    class Meta:
        ordering = ["plan", "reason", "order"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "order"], name="dispatch_unassigned_once"),
            models.CheckConstraint(
                condition=Q(reason__in=[r.value for r in UnassignedReason]),
                name="dispatch_unassigned_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.get_reason_display()}"
