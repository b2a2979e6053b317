"""Charging: tariffs, a hub's charging site (power cap) and chargers, sessions, and plans.

Power is in W, energy in Wh, money in integer minor units. Energy prices are in minor units
per MWh (``price_minor_per_mwh``): 28.5 ct/kWh is 28,500 — integer, exact to 0.001 ct/kWh,
and the unit energy markets quote in.
"""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from fleet.models.vehicles import (
    CONNECTOR_CURRENT,
    CURRENCY_VALIDATOR,
    Connector,
    Current,
)
from lastmile.core.leases import LeasedWork
from lastmile.core.models import TimeStampedModel
from lastmile.core.state import validate_table

SLOT_MINUTES = 15


class Tariff(TimeStampedModel):
    """A time-of-use energy tariff: one price per hour of the day, in the site's local time."""

    name = models.CharField(max_length=120, unique=True)
    currency = models.CharField(max_length=3, default="EUR", validators=[CURRENCY_VALIDATOR])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="fleet_tariff_currency_format"
            )
        ]

    def __str__(self) -> str:
        return self.name


class TariffRate(models.Model):
    """The price of one hour of the day (local time of the site using the tariff)."""

    # Part of the tariff's definition; a tariff a site uses is protected by the site.
    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="rates")
    hour = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(23)], help_text="Hour of the day, 0-23, local time"
    )
    price_minor_per_mwh = models.PositiveIntegerField(
        help_text="Energy price, minor units per MWh (28.5 ct/kWh = 28500)"
    )

    class Meta:
        ordering = ["tariff", "hour"]
        constraints = [
            models.UniqueConstraint(fields=["tariff", "hour"], name="fleet_tariffrate_unique_hour"),
            models.CheckConstraint(condition=Q(hour__lte=23), name="fleet_tariffrate_hour_range"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:02d}:00 {self.price_minor_per_mwh / 1000:.3f}/kWh"


class ChargingSite(TimeStampedModel):
    """A hub's charging infrastructure: the grid connection's cap and the energy tariff."""

    hub = models.OneToOneField("hubs.Hub", on_delete=models.PROTECT, related_name="charging_site")
    power_cap_w = models.PositiveIntegerField(
        help_text="The most all chargers together may draw, W (e.g. 150000 for 150 kW)"
    )
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="sites")
    default_arrival_time = models.TimeField(
        default=dt.time(18, 0),
        help_text="Local time vehicles are back and plugged in, unless a plan is told otherwise",
    )
    default_ready_time = models.TimeField(
        default=dt.time(6, 30),
        help_text="Local time vehicles must be charged by (next morning), unless told otherwise",
    )

    class Meta:
        ordering = ["hub"]
        constraints = [
            models.CheckConstraint(
                condition=Q(power_cap_w__gt=0), name="fleet_site_power_cap_positive"
            )
        ]

    def __str__(self) -> str:
        return f"Charging at {self.hub.code}"


class ChargerStatus(models.TextChoices):
    OPERATIONAL = "operational", "Operational"  # the planner may use it
    OUT_OF_ORDER = "out_of_order", "Out of order"  # broken or blocked; back after repair
    DECOMMISSIONED = "decommissioned", "Decommissioned"  # removed for good


class Charger(TimeStampedModel):
    site = models.ForeignKey(ChargingSite, on_delete=models.PROTECT, related_name="chargers")
    code = models.CharField(max_length=32, help_text="Label on the charge point, e.g. AC-01")
    current = models.CharField(max_length=2, choices=Current.choices)
    connector = models.CharField(max_length=8, choices=Connector.choices)
    max_power_w = models.PositiveIntegerField(help_text="Rated power, W (e.g. 11000 for 11 kW)")
    status = models.CharField(
        max_length=16, choices=ChargerStatus.choices, default=ChargerStatus.OPERATIONAL
    )

    class Meta:
        ordering = ["site", "code"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="fleet_charger_unique_code"),
            models.CheckConstraint(
                condition=Q(max_power_w__gt=0), name="fleet_charger_power_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ChargerStatus.values), name="fleet_charger_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    *[
                        Q(connector=connector, current=current)
                        for connector, current in CONNECTOR_CURRENT.items()
                    ],
                    _connector=Q.OR,
                ),
                name="fleet_charger_connector_matches_current",
                violation_error_message="This connector does not carry that current.",
            ),
        ]
        indexes = [models.Index(fields=["site", "status"], name="fleet_charger_site_status")]

    def __str__(self) -> str:
        return f"{self.code} ({self.max_power_w / 1000:g} kW {self.get_current_display()})"


class ChargingSession(TimeStampedModel):
    """A vehicle charged on a charger: recorded from the charge point's API or the back-office."""

    vehicle = models.ForeignKey(
        "fleet.Vehicle", on_delete=models.PROTECT, related_name="charging_sessions"
    )
    charger = models.ForeignKey(Charger, on_delete=models.PROTECT, related_name="sessions")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    energy_wh = models.PositiveIntegerField(help_text="Energy the charger metered, Wh")
    start_soc_pct = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    end_soc_pct = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    cost_minor = models.PositiveIntegerField(
        default=0, help_text="Energy cost at the site's tariff, minor units"
    )
    currency = models.CharField(max_length=3, default="EUR")
    source = models.CharField(max_length=32, help_text="back_office, api, charger")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__gt=F("started_at")),
                name="fleet_session_ends_after_start",
                violation_error_message="A session must end after it starts.",
            ),
            models.CheckConstraint(
                condition=(Q(start_soc_pct__isnull=True) | Q(start_soc_pct__gte=0))
                & (Q(end_soc_pct__isnull=True) | Q(end_soc_pct__lte=100)),
                name="fleet_session_soc_range",
            ),
            models.CheckConstraint(
                condition=Q(start_soc_pct__isnull=True)
                | Q(end_soc_pct__isnull=True)
                | Q(end_soc_pct__gte=F("start_soc_pct")),
                name="fleet_session_soc_not_falling",
                violation_error_message="State of charge cannot fall while charging.",
            ),
            # A charge point reports a session once; a retried report is the same session.
            models.UniqueConstraint(
                fields=["charger", "started_at"], name="fleet_session_unique_charger_start"
            ),
        ]
        indexes = [
            models.Index(fields=["vehicle", "started_at"], name="fleet_session_vehicle_time"),
            models.Index(fields=["charger", "ended_at"], name="fleet_session_charger_time"),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle} on {self.charger.code} {self.started_at:%Y-%m-%d %H:%M}"


class ChargingPlanStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # inputs stored, waiting for the optimiser
    READY = "ready", "Ready"  # every vehicle reaches its target in time
    SHORTFALL = "shortfall", "Shortfall"  # solved, but named vehicles fall short (see rows)
    FAILED = "failed", "Failed"  # the optimiser could not produce a plan (final)
    SUPERSEDED = "superseded", "Superseded"  # a newer plan for the hub replaced it (final)


_P = ChargingPlanStatus
CHARGING_PLAN_TRANSITIONS: dict[str, frozenset[str]] = {
    _P.PENDING: frozenset({_P.READY, _P.SHORTFALL, _P.FAILED}),
    _P.READY: frozenset({_P.SUPERSEDED}),
    _P.SHORTFALL: frozenset({_P.SUPERSEDED}),
    _P.FAILED: frozenset(),
    _P.SUPERSEDED: frozenset(),
}
validate_table(CHARGING_PLAN_TRANSITIONS, set(_P.values))
SOLVED_STATUSES = frozenset({_P.READY, _P.SHORTFALL})


class ChargingPlan(LeasedWork, TimeStampedModel):
    """A night's charging at one hub: who charges where, at what power, in each 15-min slot.

    A pending plan being solved holds a lease (``core.leases``): one whose worker died is
    solved again by the sweeper, or failed once it was started ``TASK_MAX_ATTEMPTS`` times.

    The site's cap, the slot prices, the efficiency and the reserve are copied in when the
    plan is requested, so a plan still reads the same after the tariff or the cap changes.
    """

    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="charging_plans")
    status = models.CharField(
        max_length=16, choices=ChargingPlanStatus.choices, default=ChargingPlanStatus.PENDING
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    horizon_start = models.DateTimeField(help_text="Start of the first slot")
    horizon_end = models.DateTimeField(help_text="End of the last slot")
    slot_minutes = models.PositiveSmallIntegerField(default=SLOT_MINUTES)
    power_cap_w = models.PositiveIntegerField(help_text="The site's cap when planned, W")
    prices_minor_per_mwh = models.JSONField(
        default=list, help_text="Energy price of each slot, minor units per MWh"
    )
    currency = models.CharField(max_length=3, default="EUR")
    efficiency_pct = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Share of grid energy that ends up in the battery, %",
    )
    reserve_pct = models.PositiveSmallIntegerField(
        default=0, help_text="Reserve added to each route's energy need, % of usable battery"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=32, help_text="back_office, api, dispatch, system")

    # Results, filled in when solved.
    vehicle_count = models.PositiveIntegerField(default=0)
    short_vehicle_count = models.PositiveIntegerField(default=0)
    shortfall_wh = models.PositiveIntegerField(default=0, help_text="Missing energy, all vehicles")
    energy_wh = models.PositiveIntegerField(default=0, help_text="Energy into the batteries, Wh")
    grid_energy_wh = models.PositiveIntegerField(default=0, help_text="Energy drawn, Wh")
    cost_minor = models.PositiveIntegerField(default=0)
    peak_w = models.PositiveIntegerField(default=0)
    naive_cost_minor = models.PositiveIntegerField(
        default=0, help_text="Cost had every vehicle charged at full power on arrival"
    )
    naive_peak_w = models.PositiveIntegerField(default=0)
    naive_shortfall_wh = models.PositiveIntegerField(default=0)
    naive_load_w = models.JSONField(
        default=list, blank=True, help_text="Site load per slot had every vehicle charged at once"
    )
    solver = models.CharField(max_length=16, blank=True)
    solver_status = models.CharField(max_length=16, blank=True)
    solve_ms = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(blank=True, help_text="Why the plan failed, or what it assumed")
    solved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-horizon_start", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(horizon_end__gt=F("horizon_start")),
                name="fleet_plan_horizon_positive",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ChargingPlanStatus.values), name="fleet_plan_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(efficiency_pct__gte=1, efficiency_pct__lte=100),
                name="fleet_plan_efficiency_range",
            ),
            models.CheckConstraint(
                condition=Q(power_cap_w__gt=0), name="fleet_plan_power_cap_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["hub", "status", "horizon_start"], name="fleet_plan_hub_status")
        ]
        permissions = [("plan_charging", "Can request charging plans")]

    def __str__(self) -> str:
        # In the hub's own zone: a hub manager reads "from 21:00", not the stored UTC time.
        local = self.horizon_start.astimezone(zoneinfo.ZoneInfo(self.hub.time_zone))
        return f"{self.hub.code} charging from {local:%Y-%m-%d %H:%M}"

    @property
    def slot_count(self) -> int:
        return len(self.prices_minor_per_mwh)

    def slot_start(self, index: int) -> dt.datetime:
        return self.horizon_start + dt.timedelta(minutes=self.slot_minutes * index)


class ShortfallReason(models.TextChoices):
    NO_COMPATIBLE_CHARGER = "no_compatible_charger", "No operational charger fits it"
    CHARGERS_BUSY = "chargers_busy", "Every charger that fits it is taken"
    NOT_ENOUGH_TIME = "not_enough_time", "Too little time even at full power"
    SITE_CAP = "site_cap", "The site's power cap is shared with other vehicles"


class ChargingPlanVehicle(models.Model):
    """One vehicle's night in a plan: what it needed, where it charges, what it gets."""

    plan = models.ForeignKey(ChargingPlan, on_delete=models.PROTECT, related_name="vehicles")
    vehicle = models.ForeignKey("fleet.Vehicle", on_delete=models.PROTECT, related_name="+")
    charger = models.ForeignKey(
        Charger, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    available_from = models.DateTimeField(help_text="Plugged in from")
    ready_by = models.DateTimeField(help_text="Must reach its target by")
    start_soc_pct = models.DecimalField(max_digits=4, decimal_places=1)
    soc_assumed = models.BooleanField(
        default=False, help_text="No state of charge was known; 0 % was assumed"
    )
    start_energy_wh = models.PositiveIntegerField()
    target_energy_wh = models.PositiveIntegerField(help_text="Battery energy wanted at ready_by")
    route_energy_wh = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tomorrow's route need, when dispatch gave one"
    )
    need_wh = models.PositiveIntegerField(help_text="Energy to add to the battery")
    planned_wh = models.PositiveIntegerField(default=0, help_text="Energy the plan adds")
    shortfall_wh = models.PositiveIntegerField(default=0)
    shortfall_reason = models.CharField(max_length=24, choices=ShortfallReason.choices, blank=True)
    cost_minor = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["plan", "vehicle__code"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "vehicle"], name="fleet_planvehicle_unique"),
            models.CheckConstraint(
                condition=Q(ready_by__gt=F("available_from")),
                name="fleet_planvehicle_window_positive",
            ),
            models.CheckConstraint(
                condition=Q(shortfall_wh=0, shortfall_reason="")
                | (Q(shortfall_wh__gt=0) & ~Q(shortfall_reason="")),
                name="fleet_planvehicle_reason_iff_short",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle} in plan {self.plan_id}"


class ChargingPlanSlot(models.Model):
    """Power one vehicle draws in one slot of its plan (only slots with power are stored)."""

    plan_vehicle = models.ForeignKey(
        ChargingPlanVehicle, on_delete=models.PROTECT, related_name="slots"
    )
    slot_index = models.PositiveSmallIntegerField()
    power_w = models.PositiveIntegerField(help_text="Grid-side power, W")

    class Meta:
        ordering = ["plan_vehicle", "slot_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan_vehicle", "slot_index"], name="fleet_planslot_unique"
            ),
            models.CheckConstraint(
                condition=Q(power_w__gt=0), name="fleet_planslot_power_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"slot {self.slot_index}: {self.power_w} W"
