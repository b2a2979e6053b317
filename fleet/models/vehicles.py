"""Vehicle types (what a model carries and how it uses energy), vehicles and their live state.

Units are in the field names and match the routing engine's (grams, cm³, Wh, Wh/km, W, minor
units of money), so :func:`fleet.selectors.vehicle_routing_spec` converts without arithmetic
surprises. Nothing here imports the routing engine.
"""

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from lastmile.core.geo import coordinate_constraints, latitude_field, longitude_field
from lastmile.core.models import EventModel, TimeStampedModel
from lastmile.core.skills import validate_skills
from lastmile.core.state import validate_table


class VehicleKind(models.TextChoices):
    E_VAN = "e_van", "Electric van"
    E_CARGO_BIKE = "e_cargo_bike", "Electric cargo bike"
    E_SCOOTER = "e_scooter", "Electric scooter"
    ICE_VAN = "ice_van", "Combustion (ICE) van"


ELECTRIC_KINDS = frozenset({VehicleKind.E_VAN, VehicleKind.E_CARGO_BIKE, VehicleKind.E_SCOOTER})


class RoutingProfile(models.TextChoices):
    """The routing engine's speed profiles (``lastmile/routing/matrix.py`` ``PROFILES``).

    Each name carries an urban average speed and a detour factor there; a vehicle's travel
    times come from the profile its type names, so the two lists must agree (a test checks).
    """

    VAN = "van", "Van"
    CAR = "car", "Car"
    CARGO_BIKE = "cargo_bike", "Cargo bike"
    E_SCOOTER = "e_scooter", "E-scooter"
    WALK = "walk", "Walking"


# The profile a kind travels with unless its type names another (a small van may use "car").
KIND_PROFILES: dict[str, str] = {
    VehicleKind.E_VAN: RoutingProfile.VAN,
    VehicleKind.E_CARGO_BIKE: RoutingProfile.CARGO_BIKE,
    VehicleKind.E_SCOOTER: RoutingProfile.E_SCOOTER,
    VehicleKind.ICE_VAN: RoutingProfile.VAN,
}


class Current(models.TextChoices):
    AC = "ac", "AC"
    DC = "dc", "DC"


class Connector(models.TextChoices):
    TYPE2 = "type2", "Type 2"  # European AC standard, up to 22 kW three-phase
    SCHUKO = "schuko", "Schuko socket"  # household socket, 2.3 kW: bikes and scooters
    CCS2 = "ccs2", "CCS2"  # European DC fast charging
    CHADEMO = "chademo", "CHAdeMO"  # older Japanese DC standard


CONNECTOR_CURRENT: dict[str, str] = {
    Connector.TYPE2: Current.AC,
    Connector.SCHUKO: Current.AC,
    Connector.CCS2: Current.DC,
    Connector.CHADEMO: Current.DC,
}
AC_CONNECTORS = [c for c, current in CONNECTOR_CURRENT.items() if current == Current.AC]
DC_CONNECTORS = [c for c, current in CONNECTOR_CURRENT.items() if current == Current.DC]

CURRENCY_VALIDATOR = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. EUR.")
PERCENT_VALIDATORS = [MinValueValidator(1), MaxValueValidator(100)]


class VehicleType(TimeStampedModel):
    """A vehicle model as the fleet runs it: capacity, battery, consumption, costs."""

    name = models.CharField(max_length=120, unique=True, help_text="e.g. 'E-Transporter L2H2'")
    kind = models.CharField(max_length=16, choices=VehicleKind.choices)
    routing_profile = models.CharField(
        max_length=16,
        choices=RoutingProfile.choices,
        blank=True,
        help_text="Speed profile for travel times; empty: the kind's default",
    )

    capacity_weight_g = models.PositiveIntegerField(help_text="Payload, grams")
    capacity_volume_cm3 = models.PositiveIntegerField(
        help_text="Load space, cm³ (1 m³ = 1,000,000 cm³)"
    )
    capacity_parcels = models.PositiveIntegerField(help_text="Parcels it takes at most")

    battery_capacity_wh = models.PositiveIntegerField(
        null=True, blank=True, help_text="Gross battery capacity, Wh (electric kinds only)"
    )
    usable_battery_pct = models.PositiveSmallIntegerField(
        default=90,
        validators=PERCENT_VALIDATORS,
        help_text="Share of the gross capacity the battery management lets you use, %",
    )
    consumption_wh_per_km = models.DecimalField(
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="Consumption empty, Wh/km (electric kinds only)",
    )
    consumption_loaded_wh_per_km = models.DecimalField(
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="Consumption fully loaded, Wh/km; empty: same as empty",
    )
    max_ac_power_w = models.PositiveIntegerField(
        default=0, help_text="What its on-board charger accepts on AC, W (0: no AC charging)"
    )
    ac_connector = models.CharField(
        max_length=8,
        choices=[(c, Connector(c).label) for c in AC_CONNECTORS],
        blank=True,
    )
    max_dc_power_w = models.PositiveIntegerField(
        default=0, help_text="What it accepts on DC, W (0: no DC charging)"
    )
    dc_connector = models.CharField(
        max_length=8,
        choices=[(c, Connector(c).label) for c in DC_CONNECTORS],
        blank=True,
    )
    co2_g_per_km = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Tank-to-wheel CO2, g/km (combustion only; electric uses the grid factor)",
    )

    cost_per_km_minor = models.PositiveIntegerField(
        default=0, help_text="Running cost per km, minor units (cents)"
    )
    cost_per_hour_minor = models.PositiveIntegerField(
        default=0, help_text="Cost per hour in service (driver, lease), minor units"
    )
    fixed_cost_minor = models.PositiveIntegerField(
        default=0, help_text="Cost of using it at all on a day, minor units"
    )
    currency = models.CharField(max_length=3, default="EUR", validators=[CURRENCY_VALIDATOR])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=VehicleKind.values), name="fleet_vtype_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(capacity_weight_g__gt=0)
                & Q(capacity_volume_cm3__gt=0)
                & Q(capacity_parcels__gt=0),
                name="fleet_vtype_capacity_positive",
                violation_error_message="Weight, volume and parcel capacity must be positive.",
            ),
            models.CheckConstraint(
                condition=Q(usable_battery_pct__gte=1, usable_battery_pct__lte=100),
                name="fleet_vtype_usable_pct_range",
            ),
            # An electric vehicle has a battery, a consumption and a way to charge, and its CO2
            # comes from the grid factor; a combustion van has none of that but a CO2 figure.
            models.CheckConstraint(
                condition=(
                    Q(kind__in=sorted(ELECTRIC_KINDS))
                    & Q(battery_capacity_wh__gt=0)
                    & Q(consumption_wh_per_km__gt=0)
                    & (Q(max_ac_power_w__gt=0) | Q(max_dc_power_w__gt=0))
                    & Q(co2_g_per_km__isnull=True)
                )
                | (
                    Q(kind=VehicleKind.ICE_VAN)
                    & Q(battery_capacity_wh__isnull=True)
                    & Q(consumption_wh_per_km__isnull=True)
                    & Q(max_ac_power_w=0)
                    & Q(max_dc_power_w=0)
                    & Q(co2_g_per_km__isnull=False)
                ),
                name="fleet_vtype_energy_matches_kind",
                violation_error_message=(
                    "Electric kinds need battery, consumption and a charging power (no CO2 "
                    "figure); a combustion van needs a CO2 figure and no battery."
                ),
            ),
            models.CheckConstraint(
                condition=Q(consumption_loaded_wh_per_km__isnull=True)
                | Q(consumption_loaded_wh_per_km__gte=F("consumption_wh_per_km")),
                name="fleet_vtype_loaded_not_below_empty",
                violation_error_message="Loaded consumption cannot be below empty consumption.",
            ),
            models.CheckConstraint(
                condition=(Q(max_ac_power_w=0) & Q(ac_connector=""))
                | (Q(max_ac_power_w__gt=0) & Q(ac_connector__in=AC_CONNECTORS)),
                name="fleet_vtype_ac_connector_iff_power",
                violation_error_message="AC charging needs both a power and an AC connector.",
            ),
            models.CheckConstraint(
                condition=(Q(max_dc_power_w=0) & Q(dc_connector=""))
                | (Q(max_dc_power_w__gt=0) & Q(dc_connector__in=DC_CONNECTORS)),
                name="fleet_vtype_dc_connector_iff_power",
                violation_error_message="DC charging needs both a power and a DC connector.",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="fleet_vtype_currency_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_electric(self) -> bool:
        return self.kind in ELECTRIC_KINDS

    @property
    def profile(self) -> str:
        return self.routing_profile or KIND_PROFILES[self.kind]

    @property
    def usable_battery_wh(self) -> int:
        """What the driver can use, before any operational reserve: gross × usable share."""
        if not self.battery_capacity_wh:
            return 0
        return self.battery_capacity_wh * self.usable_battery_pct // 100

    @property
    def route_wh_per_km(self) -> float | None:
        """Expected consumption over a delivery route.

        A route leaves the hub full and comes back empty, so the mean of empty and loaded
        consumption is the expectation; the operational reserve covers the rest.
        """
        if self.consumption_wh_per_km is None:
            return None
        empty = float(self.consumption_wh_per_km)
        if self.consumption_loaded_wh_per_km is None:
            return empty
        return (empty + float(self.consumption_loaded_wh_per_km)) / 2


class VehicleStatus(models.TextChoices):
    ACTIVE = "active", "Active"  # in service: the planner may use it
    MAINTENANCE = "maintenance", "In maintenance"  # temporarily out: workshop, damage, recall
    RETIRED = "retired", "Retired"  # left the fleet for good (final); its devices are revoked


VEHICLE_TRANSITIONS: dict[str, frozenset[str]] = {
    VehicleStatus.ACTIVE: frozenset({VehicleStatus.MAINTENANCE, VehicleStatus.RETIRED}),
    VehicleStatus.MAINTENANCE: frozenset({VehicleStatus.ACTIVE, VehicleStatus.RETIRED}),
    VehicleStatus.RETIRED: frozenset(),
}
validate_table(VEHICLE_TRANSITIONS, set(VehicleStatus.values))

VEHICLE_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{1,31}$"


class Vehicle(TimeStampedModel):
    code = models.CharField(
        max_length=32,
        unique=True,
        validators=[
            RegexValidator(
                VEHICLE_CODE_PATTERN, "Use 2-32 capital letters, digits or dashes, e.g. TH-EV01."
            )
        ],
        help_text="Fleet number painted on the vehicle, e.g. TH-EV01",
    )
    registration = models.CharField(
        max_length=16, blank=True, help_text="Number plate; empty for bikes"
    )
    vehicle_type = models.ForeignKey(VehicleType, on_delete=models.PROTECT, related_name="vehicles")
    home_hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="vehicles")
    status = models.CharField(
        max_length=16, choices=VehicleStatus.choices, default=VehicleStatus.ACTIVE
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    skills = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_skills],
        help_text="Equipment it offers, e.g. ['cold_chain', 'tail_lift']",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=VehicleStatus.values), name="fleet_vehicle_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(code__regex=VEHICLE_CODE_PATTERN), name="fleet_vehicle_code_format"
            ),
            models.UniqueConstraint(
                fields=["registration"],
                condition=~Q(registration=""),
                name="fleet_vehicle_registration_unique",
                violation_error_message="Another vehicle has this registration.",
            ),
        ]
        indexes = [models.Index(fields=["home_hub", "status"], name="fleet_vehicle_hub_status")]

    def __str__(self) -> str:
        return self.code


class VehicleState(models.Model):
    """The last known position and state of charge of a vehicle: one row, read for free.

    Telematics ingest moves it forward only when a newer ping arrives (a conditional
    ``UPDATE``), so an out-of-order batch never moves a vehicle back, and maps and the
    charging planner never scan the ping table.
    """

    # The latest fix only (the pings are the history, and they protect the vehicle).
    vehicle = models.OneToOneField(
        Vehicle, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    recorded_at = models.DateTimeField(null=True, blank=True, help_text="Device time of the fix")
    latitude = latitude_field(null=True, blank=True)
    longitude = longitude_field(null=True, blank=True)
    speed_kmh = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    heading_deg = models.PositiveSmallIntegerField(null=True, blank=True)
    odometer_m = models.PositiveBigIntegerField(null=True, blank=True)
    # SoC has its own time: a ping without SoC moves the position but keeps the last SoC.
    soc_pct = models.DecimalField(
        max_digits=4, decimal_places=1, null=True, blank=True, help_text="State of charge, %"
    )
    soc_recorded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            *coordinate_constraints("fleet_vstate"),
            models.CheckConstraint(
                condition=Q(soc_pct__isnull=True) | Q(soc_pct__gte=0, soc_pct__lte=100),
                name="fleet_vstate_soc_range",
            ),
        ]

    def __str__(self) -> str:
        return f"State of {self.vehicle_id}"


class FleetEvent(EventModel):
    """The fleet's audit trail: one row per change, never edited or deleted.

    Vehicle status moves, device tokens issued or revoked and charging-plan status moves each
    write one row, in the same transaction as the change.
    """

    class Kind(models.TextChoices):
        VEHICLE_CREATED = "vehicle_created", "Vehicle created"
        VEHICLE_STATUS_CHANGED = "vehicle_status_changed", "Vehicle status changed"
        DEVICE_CREATED = "device_created", "Telematics device created"
        DEVICE_TOKEN_ROTATED = "device_token_rotated", "Device token rotated"
        DEVICE_REVOKED = "device_revoked", "Device revoked"
        PLAN_REQUESTED = "plan_requested", "Charging plan requested"
        PLAN_STATUS_CHANGED = "plan_status_changed", "Charging plan status changed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    vehicle = models.ForeignKey(
        Vehicle, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    charging_plan = models.ForeignKey(
        "fleet.ChargingPlan",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
    )
    source = models.CharField(
        max_length=32, help_text="Where the change came from: back_office, api, system, demo"
    )

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(vehicle__isnull=False) | Q(charging_plan__isnull=False),
                name="fleet_event_has_subject",
            )
        ]
        indexes = [
            models.Index(fields=["vehicle", "occurred_at"], name="fleet_event_vehicle_time"),
            models.Index(fields=["charging_plan", "occurred_at"], name="fleet_event_plan_time"),
        ]
