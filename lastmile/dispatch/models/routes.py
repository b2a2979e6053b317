"""Routes (one vehicle's day in a plan) and the offers of a route to crowd couriers."""

from typing import Any

from django.db import models
from django.db.models import F, Q

from lastmile.core.models import TimeStampedModel
from lastmile.core.state import validate_table
from lastmile.dispatch.models.plans import Plan

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
