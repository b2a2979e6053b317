"""Telematics: the devices in vehicles and the raw pings they send.

A device authenticates with its own token; the token, not the request body, decides which
vehicle a ping belongs to. Pings are raw, high-volume data kept for a retention period
(``FLEET_PING_RETENTION_DAYS``); what the product reads live is ``VehicleState``.
"""

from django.db import models
from django.db.models import Q

from lastmile.core.geo import coordinate_constraints, latitude_field, longitude_field
from lastmile.core.models import TimeStampedModel

# Bounds a ping must respect; the service and the API serializer read the same numbers.
SOC_RANGE = (0, 100)
HEADING_RANGE = (0, 359)
SPEED_KMH_MAX = 250  # faster is a broken GPS fix, not a delivery van
# Ten million km: no vehicle gets there, and it stays far inside the bigint column.
ODOMETER_M_MAX = 10_000_000_000


class Device(TimeStampedModel):
    """A telematics unit (or the driver app) that posts pings for one vehicle.

    Only a SHA-256 hash of the token is stored; ``token_prefix`` finds the row without
    revealing the secret. Tokens are 256-bit random strings, so a fast hash is enough (a slow
    password hash guards against guessing low-entropy secrets, which these are not).
    """

    vehicle = models.ForeignKey("fleet.Vehicle", on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=80, help_text="e.g. 'Teltonika FMC650 in TH-EV01'")
    token_prefix = models.CharField(max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when revoked; a revoked device cannot post"
    )

    class Meta:
        ordering = ["vehicle", "name"]
        indexes = [models.Index(fields=["vehicle", "revoked_at"], name="fleet_device_vehicle")]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TelematicsPing(models.Model):
    """One fix from a device. Idempotent on (device, recorded_at): a re-sent ping is ignored.

    No ``TimeStampedModel`` here: ``received_at`` is the one server time a ping needs, and an
    extra indexed ``created_at`` would only slow the highest-volume insert in the product.
    """

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="pings")
    vehicle = models.ForeignKey("fleet.Vehicle", on_delete=models.PROTECT, related_name="pings")
    recorded_at = models.DateTimeField(help_text="Device time of the fix")
    received_at = models.DateTimeField(help_text="Server time the batch arrived")
    latitude = latitude_field()
    longitude = longitude_field()
    speed_kmh = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    heading_deg = models.PositiveSmallIntegerField(null=True, blank=True)
    soc_pct = models.DecimalField(
        max_digits=4, decimal_places=1, null=True, blank=True, help_text="State of charge, %"
    )
    odometer_m = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["vehicle", "recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "recorded_at"], name="fleet_ping_unique_device_time"
            ),
            *coordinate_constraints("fleet_ping"),
            models.CheckConstraint(
                condition=Q(soc_pct__isnull=True)
                | Q(soc_pct__gte=SOC_RANGE[0], soc_pct__lte=SOC_RANGE[1]),
                name="fleet_ping_soc_range",
            ),
            models.CheckConstraint(
                condition=Q(heading_deg__isnull=True) | Q(heading_deg__lte=HEADING_RANGE[1]),
                name="fleet_ping_heading_range",
            ),
            models.CheckConstraint(
                condition=Q(speed_kmh__isnull=True)
                | Q(speed_kmh__gte=0, speed_kmh__lte=SPEED_KMH_MAX),
                name="fleet_ping_speed_range",
            ),
        ]
        indexes = [
            # A vehicle's track over a period (across device swaps).
            models.Index(fields=["vehicle", "recorded_at"], name="fleet_ping_vehicle_time"),
            # The retention sweep deletes by age.
            models.Index(fields=["recorded_at"], name="fleet_ping_recorded_at"),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_id} @ {self.recorded_at:%Y-%m-%d %H:%M:%S}"
