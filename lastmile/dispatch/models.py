"""Plans, routes, stops and what a planning run left out, with each one's state machine.

A ``Plan`` is one planning run for a hub and service date; once ready it owns the routes the
engine found (``Route`` → ``Stop``) and the orders it could not place (``UnassignedOrder``).
Every status change of a plan is a ``PlanEvent`` row. Publishing, courier updates and
re-planning move the route and stop machines defined here; each re-plan of a published day
is a ``Replan`` row holding what triggered it and the diff it applied.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from lastmile.core.geo import coordinate_constraints, latitude_field, longitude_field
from lastmile.core.leases import LeasedWork
from lastmile.core.models import AppendOnlyModel, TimeStampedModel
from lastmile.core.state import validate_table
from lastmile.routing.solution import UnassignedReason

# --- Plan -----------------------------------------------------------------------------------


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


# --- Route ----------------------------------------------------------------------------------


class RouteStatus(models.TextChoices):
    # Part of a plan, not handed to a courier yet (or handed back: the courier was barred).
    PLANNED = "planned", "Planned"
    DISPATCHED = "dispatched", "Dispatched"  # assigned to a courier (plan published)
    IN_PROGRESS = "in_progress", "In progress"  # the courier left the hub
    COMPLETED = "completed", "Completed"  # back at the hub, every stop settled (final)


ROUTE_TRANSITIONS: dict[str, frozenset[str]] = {
    RouteStatus.PLANNED: frozenset({RouteStatus.DISPATCHED}),
    # dispatched → planned: the courier may no longer drive (suspended, offboarded) before
    # leaving the hub; the route loses its courier and is handed out again.
    RouteStatus.DISPATCHED: frozenset({RouteStatus.IN_PROGRESS, RouteStatus.PLANNED}),
    RouteStatus.IN_PROGRESS: frozenset({RouteStatus.COMPLETED}),
    RouteStatus.COMPLETED: frozenset(),
}
validate_table(ROUTE_TRANSITIONS, set(RouteStatus.values))
# A courier holds at most one route in these states per day (a database constraint).
ACTIVE_ROUTE_STATUSES = (RouteStatus.DISPATCHED, RouteStatus.IN_PROGRESS)


class EtaSource(models.TextChoices):
    PLAN = "plan", "Plan"  # the planner's arrival times: no courier update refreshed them yet
    ROUTING = "routing", "Routing provider"  # refreshed with the provider planning uses
    # The provider failed (down, timed out, nonsense): great-circle estimate, less accurate.
    FALLBACK = "fallback", "Straight-line estimate (routing server failed)"


class Route(TimeStampedModel):
    """One vehicle's day in a plan: its stops in order, planned times and totals."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="routes")
    vehicle = models.ForeignKey("fleet.Vehicle", on_delete=models.PROTECT, related_name="routes")
    courier = models.ForeignKey(
        "workforce.Courier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routes",
        help_text="Assigned when the plan is published",
    )
    # The plan's day, copied when a courier is given the route, so the database itself can
    # hold "one active route per courier and day" (a constraint cannot follow the plan FK).
    service_date = models.DateField(
        null=True, blank=True, help_text="The plan's service date, set with the courier"
    )
    status = models.CharField(
        max_length=16, choices=RouteStatus.choices, default=RouteStatus.PLANNED
    )
    colour_index = models.PositiveSmallIntegerField(default=0, help_text="Palette index on maps")
    planned_start = models.DateTimeField()
    planned_end = models.DateTimeField()
    distance_m = models.PositiveIntegerField(default=0)
    duration_s = models.PositiveIntegerField(default=0)
    energy_wh = models.PositiveIntegerField(default=0)
    load_weight_g = models.PositiveIntegerField(default=0, help_text="Delivered over the day")
    load_volume_cm3 = models.PositiveIntegerField(default=0)
    load_parcels = models.PositiveIntegerField(default=0)
    trips = models.PositiveSmallIntegerField(default=1, help_text="Tours out of the hub")
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    eta_source = models.CharField(
        max_length=16,
        choices=EtaSource.choices,
        default=EtaSource.PLAN,
        help_text="Where the ETAs of the stops ahead came from at their last refresh",
    )
    etas_refreshed_at = models.DateTimeField(null=True, blank=True)
    etas_version = models.PositiveIntegerField(
        default=0,
        help_text="Counts courier updates; an ETA refresh computed for an older one is dropped",
    )

    class Meta:
        ordering = ["plan", "colour_index", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RouteStatus.values), name="dispatch_route_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(eta_source__in=EtaSource.values),
                name="dispatch_route_eta_source_valid",
            ),
            models.CheckConstraint(
                condition=Q(planned_end__gte=F("planned_start")),
                name="dispatch_route_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["plan", "vehicle"], name="dispatch_route_one_per_vehicle"
            ),
            # A route with a courier always carries its day, so the constraint below binds.
            models.CheckConstraint(
                condition=Q(courier__isnull=True) | Q(service_date__isnull=False),
                name="dispatch_route_courier_has_day",
            ),
            # One active (dispatched or in progress) route per courier and day.
            models.UniqueConstraint(
                fields=["courier", "service_date"],
                condition=Q(status__in=ACTIVE_ROUTE_STATUSES),
                name="dispatch_route_one_active_per_courier_day",
                violation_error_message="This courier already has a route that day.",
            ),
        ]
        indexes = [models.Index(fields=["vehicle", "status"], name="dispatch_route_vehicle")]

    def __str__(self) -> str:
        return f"{self.vehicle} · {self.planned_start:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A route saved with a courier carries its plan's day (bulk writes set it themselves).
        if self.courier_id is not None and self.service_date is None:
            self.service_date = self.plan.service_date
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "service_date"}
        super().save(*args, **kwargs)


# --- Route offers (crowd couriers) -----------------------------------------------------------


class OfferStatus(models.TextChoices):
    OPEN = "open", "Open"  # sent to the courier, waiting for an answer until it expires
    # The courier took the route (final, unless they are barred before starting it)
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"  # the courier said no; the next courier is asked (final)
    EXPIRED = "expired", "Expired"  # no answer in time; the next courier is asked (final)
    # The courier may no longer take routes (suspended, offboarded): an open offer, or an
    # accepted one whose route had not started; the next courier is asked (final)
    WITHDRAWN = "withdrawn", "Withdrawn"


OFFER_TRANSITIONS: dict[str, frozenset[str]] = {
    OfferStatus.OPEN: frozenset(
        {OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.WITHDRAWN}
    ),
    # accepted → withdrawn: the courier took the route, then was barred before starting it.
    OfferStatus.ACCEPTED: frozenset({OfferStatus.WITHDRAWN}),
    OfferStatus.DECLINED: frozenset(),
    OfferStatus.EXPIRED: frozenset(),
    OfferStatus.WITHDRAWN: frozenset(),
}
validate_table(OFFER_TRANSITIONS, set(OfferStatus.values))


class RouteOffer(TimeStampedModel):
    """A published route without a driver, offered to one crowd courier at a time."""

    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="offers")
    courier = models.ForeignKey(
        "workforce.Courier", on_delete=models.PROTECT, related_name="route_offers"
    )
    status = models.CharField(max_length=16, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["route", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OfferStatus.values), name="dispatch_offer_status_valid"
            ),
            # Each courier is asked about a route once.
            models.UniqueConstraint(fields=["route", "courier"], name="dispatch_offer_once"),
            # One live offer per route: two couriers can never both hold (or take) it.
            models.UniqueConstraint(
                fields=["route"],
                condition=Q(status__in=["open", "accepted"]),
                name="dispatch_offer_one_live_per_route",
            ),
            # One open offer per courier: a courier is never asked about two routes at once.
            models.UniqueConstraint(
                fields=["courier"],
                condition=Q(status="open"),
                name="dispatch_offer_one_open_per_courier",
            ),
        ]
        indexes = [
            models.Index(fields=["courier", "status"], name="dispatch_offer_courier"),
            models.Index(fields=["status", "expires_at"], name="dispatch_offer_expiry"),
        ]

    def __str__(self) -> str:
        return f"offer of route {self.route_id} to courier {self.courier_id} ({self.status})"


# --- Stop -----------------------------------------------------------------------------------


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


# --- Events ---------------------------------------------------------------------------------


class PlanEvent(AppendOnlyModel):
    """The plan's timeline: one row per request, join and status change; never edited."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", "Requested"
        JOINED = "joined", "Joined a run already going"
        STATUS_CHANGED = "status_changed", "Status changed"
        SUPERSEDED = "superseded", "Replaced by a newer plan"
        ROUTE_DISPATCHED = "route_dispatched", "Route handed to a courier"
        STOP_MOVED = "stop_moved", "Stop moved to another route"
        OFFER_SENT = "offer_sent", "Route offered to a courier"
        OFFER_ANSWERED = "offer_answered", "Courier answered or offer expired"
        OFFER_WITHDRAWN = "offer_withdrawn", "Offer withdrawn: the courier may no longer drive"
        NO_COURIER = "no_courier", "No courier left to offer a route to"
        COURIER_BARRED = "courier_barred", "Courier barred while driving the route"
        REPLAN_REQUESTED = "replan_requested", "Re-plan requested"
        REPLANNED = "replanned", "Re-planned during the day"
        RESTARTED = "restarted", "Restarted after its worker was lost"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["plan", "occurred_at", "pk"]
        indexes = [models.Index(fields=["plan", "occurred_at"], name="dispatch_event_timeline")]

    def __str__(self) -> str:
        change = f" {self.from_status}→{self.to_status}" if self.to_status else ""
        return f"{self.get_kind_display()}{change}"


# --- Re-planning during the day -------------------------------------------------------------


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
