"""Re-plans of a published day (``Replan``): trigger, run, diff, with their state machine."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from lastmile.core.leases import LeasedWork
from lastmile.core.models import TimeStampedModel
from lastmile.core.state import validate_table
from lastmile.dispatch.models.plans import Plan


class ReplanStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # waiting out the debounce; later triggers join it
    RUNNING = "running", "Running"  # a worker reads the live day, solves and applies it
    APPLIED = "applied", "Applied"  # the routes now follow it; ``diff`` says what changed (final)
    FAILED = "failed", "Failed"  # nothing changed; ``error`` says why (final)


REPLAN_TRANSITIONS: dict[str, frozenset[str]] = {
    ReplanStatus.QUEUED: frozenset({ReplanStatus.RUNNING, ReplanStatus.FAILED}),
    ReplanStatus.RUNNING: frozenset({ReplanStatus.APPLIED, ReplanStatus.FAILED}),
    ReplanStatus.APPLIED: frozenset(),
    ReplanStatus.FAILED: frozenset(),
}
validate_table(REPLAN_TRANSITIONS, set(ReplanStatus.values))


class ReplanTrigger(models.TextChoices):
    NEW_ORDER = "new_order", "New order for today"
    CANCELLED = "cancelled", "Order cancelled"
    FAILED_DELIVERY = "failed_delivery", "Failed delivery to retry today"
    LATE = "late", "Vehicle running late"
    MANUAL = "manual", "Requested by a dispatcher"
    RETRY = "retry", "Routes changed while re-planning"


class Replan(LeasedWork, TimeStampedModel):
    """One re-plan of a published hub day: what triggered it, when it ran, what it changed.

    Triggers that arrive while a re-plan waits out its debounce join it (``triggers`` grows),
    so a burst of changes costs one solve. ``diff`` lists the orders added, moved between
    routes, dropped and left unassigned, and ``stats["starts"]`` where and when each vehicle
    was taken to start from. A running re-plan holds a lease, as a running plan does.
    """

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="replans")
    status = models.CharField(
        max_length=16, choices=ReplanStatus.choices, default=ReplanStatus.QUEUED
    )
    triggers = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    run_after = models.DateTimeField(help_text="The debounce: the run starts no earlier")
    celery_task_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    backend = models.CharField(max_length=16, blank=True)
    solve_time_s = models.FloatField(null=True, blank=True)
    objective = models.FloatField(null=True, blank=True)
    diff = models.JSONField(default=dict, blank=True)
    stats = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["plan", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReplanStatus.values), name="dispatch_replan_status_valid"
            ),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(status=ReplanStatus.QUEUED),
                name="dispatch_replan_one_queued_per_plan",
            ),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(status=ReplanStatus.RUNNING),
                name="dispatch_replan_one_running_per_plan",
            ),
        ]
        indexes = [models.Index(fields=["plan", "status"], name="dispatch_replan_plan")]

    # Set by ``replan_request``: True when the trigger joined a re-plan already queued.
    joined = False

    def __str__(self) -> str:
        return f"re-plan {self.pk} of plan {self.plan_id} ({self.get_status_display()})"
