"""Plausibility of an order for its hub: checks a typo usually fails, not the file's format.

A delivery date in the past or months ahead, a parcel no vehicle of the hub can carry, an
address far outside the hub's area or a window spanning two days are all well-formed, so the
model accepts them; a dispatcher would not. Each check is an error (the order is refused) or a
warning (someone confirms it) as ``settings.ORDER_CHECK_LEVELS`` says, with the limits in the
``ORDER_*`` settings. File imports and single orders (the API path, ``order_create``) run the
same checks. The hub's limits are read once per file (:func:`plausibility_limits`), so the
per-row checks cost no query.
"""

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from lastmile.hubs.models import Hub
from lastmile.routing.matrix import EARTH_RADIUS_M


class Level(models.TextChoices):
    ERROR = "error", "Error"  # the order is refused
    WARNING = "warning", "Warning"  # the order waits for someone to confirm it
    OFF = "off", "Off"  # not checked


class Check(models.TextChoices):
    PAST_DATE = "past_date", "Delivery date in the past"
    FAR_AHEAD = "far_ahead", "Delivery date too far ahead"
    CAPACITY = "capacity", "Parcel heavier or larger than the hub's largest vehicle carries"
    RADIUS = "radius", "Address outside the hub's service radius"
    WINDOW = "window", "Delivery window over two days, too long or too short"


DEFAULT_LEVELS = {
    Check.PAST_DATE: Level.ERROR,
    Check.FAR_AHEAD: Level.WARNING,
    Check.CAPACITY: Level.ERROR,
    Check.RADIUS: Level.WARNING,
    Check.WINDOW: Level.WARNING,
}


def check_levels(configured: dict[str, str] | None = None) -> dict[str, str]:
    """The level of every check: the defaults, overridden by the setting's ``check=level``.

    An unknown check or level is a configuration error, raised when settings are read: a typo
    must not silently turn a check off.
    """
    levels = {str(check): str(level) for check, level in DEFAULT_LEVELS.items()}
    for check, level in (configured or {}).items():
        if check not in Check.values or level not in Level.values:
            raise ImproperlyConfigured(
                f"ORDER_CHECK_LEVELS: '{check}={level}' is not one of "
                f"{', '.join(Check.values)} = {', '.join(Level.values)}."
            )
        levels[check] = level
    return levels


@dataclass(frozen=True)
class HubCapacity:
    """What the hub's largest vehicles carry: the heaviest payload and the largest space."""

    weight_g: int
    volume_cm3: int


# The fleet app tells orders what a hub's vehicles carry (orders may not import fleet; the
# fleet registers its selector when it is installed). ``None``: no vehicle, nothing to check.
_capacity_provider: Callable[[Hub], HubCapacity | None] | None = None


def register_capacity_provider(provider: Callable[[Hub], HubCapacity | None]) -> None:
    global _capacity_provider  # one provider per process, set at start-up
    _capacity_provider = provider


@dataclass(frozen=True)
class Limits:
    """One hub's plausibility limits at one moment; checks against it make no query."""

    levels: dict[str, str]
    today: dt.date  # the hub's local date
    max_days_ahead: int
    hub_latitude: float
    hub_longitude: float
    radius_km: float
    window_max_s: int
    window_min_s: int
    capacity: HubCapacity | None
    zone: dt.tzinfo


def plausibility_limits(*, hub: Hub, now: dt.datetime | None = None) -> Limits:
    """The hub's limits from the settings and its vehicles (one query for the vehicles)."""
    return Limits(
        levels=check_levels(settings.ORDER_CHECK_LEVELS),
        today=timezone.localtime(now or timezone.now(), hub.zone).date(),
        max_days_ahead=settings.ORDER_MAX_DAYS_AHEAD,
        hub_latitude=float(hub.latitude),
        hub_longitude=float(hub.longitude),
        radius_km=settings.ORDER_SERVICE_RADIUS_KM,
        window_max_s=round(settings.ORDER_WINDOW_MAX_H * 3600),
        window_min_s=settings.ORDER_WINDOW_MIN_MIN * 60,
        capacity=_capacity_provider(hub) if _capacity_provider else None,
        zone=hub.zone,
    )


@dataclass(frozen=True)
class Finding:
    """One implausible value: the field it is about, why, and whether it refuses the order."""

    field: str
    message: str
    level: str


@dataclass(frozen=True)
class ParcelSize:
    weight_g: int | None
    length_mm: int | None
    width_mm: int | None
    height_mm: int | None


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance, as the routing engine's default matrix counts it."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))) / 1000


def _adder(limits: Limits, findings: list[Finding]) -> Callable[[str, str, str], None]:
    def add(check: str, field: str, message: str) -> None:
        level = limits.levels[check]
        if level != Level.OFF:
            findings.append(Finding(field, message, level))

    return add


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}"


def order_plausibility(
    *,
    limits: Limits,
    latitude: Decimal | None,
    longitude: Decimal | None,
    window_start: dt.datetime | None,
    window_end: dt.datetime | None,
) -> list[Finding]:
    """Every implausible value of one order; a value that is missing (unreadable) is skipped.

    Findings are keyed by the order's field names: ``window_start`` (date), ``window_end``
    (window length) and ``address`` (its distance, from the coordinates).
    """
    findings: list[Finding] = []
    add = _adder(limits, findings)

    if window_start is not None:
        day = timezone.localtime(window_start, limits.zone).date()
        if day < limits.today:
            add(
                Check.PAST_DATE,
                "window_start",
                _("The delivery date %(day)s is in the past.") % {"day": day.isoformat()},
            )
        elif (day - limits.today).days > limits.max_days_ahead:
            add(
                Check.FAR_AHEAD,
                "window_start",
                _("The delivery date %(day)s is more than %(days)s days ahead.")
                % {"day": day.isoformat(), "days": limits.max_days_ahead},
            )
    if window_start is not None and window_end is not None and window_end > window_start:
        length_s = int((window_end - window_start).total_seconds())
        start_day = timezone.localtime(window_start, limits.zone).date()
        end_local = timezone.localtime(window_end, limits.zone)
        # A window ending at midnight still belongs to its day.
        end_day = (end_local - dt.timedelta(microseconds=1)).date()
        if end_day != start_day:
            add(
                Check.WINDOW,
                "window_end",
                _("The delivery window spans two days (%(start)s to %(end)s).")
                % {"start": start_day.isoformat(), "end": end_local.date().isoformat()},
            )
        elif length_s > limits.window_max_s:
            add(
                Check.WINDOW,
                "window_end",
                _("The delivery window is %(length)s h long; at most %(limit)s h.")
                % {"length": _hours(length_s), "limit": _hours(limits.window_max_s)},
            )
        elif length_s < limits.window_min_s:
            add(
                Check.WINDOW,
                "window_end",
                _("The delivery window is %(length)s min long; at least %(limit)s min.")
                % {"length": length_s // 60, "limit": limits.window_min_s // 60},
            )
    if latitude is not None and longitude is not None:
        km = distance_km(
            limits.hub_latitude, limits.hub_longitude, float(latitude), float(longitude)
        )
        if km > limits.radius_km:
            add(
                Check.RADIUS,
                "address",
                _("The address is %(km)s km from the hub; its service radius is %(radius)s km.")
                % {"km": f"{km:,.1f}", "radius": f"{limits.radius_km:g}"},
            )
    return findings


def parcel_plausibility(*, limits: Limits, parcel: ParcelSize) -> list[Finding]:
    """Whether the hub's largest vehicle carries the parcel: ``weight_g`` and ``volume``
    findings; a size that is missing (unreadable) is skipped, and so is a hub without
    vehicles."""
    findings: list[Finding] = []
    add = _adder(limits, findings)
    capacity = limits.capacity
    if capacity is None:
        return findings
    if parcel.weight_g is not None and parcel.weight_g > capacity.weight_g:
        add(
            Check.CAPACITY,
            "weight_g",
            _("%(weight)s kg is more than the largest vehicle at this hub carries (%(limit)s kg).")
            % {
                "weight": f"{parcel.weight_g / 1000:,.1f}",
                "limit": f"{capacity.weight_g / 1000:,.1f}",
            },
        )
    sides = (parcel.length_mm, parcel.width_mm, parcel.height_mm)
    if all(side is not None for side in sides):
        volume_cm3 = math.prod(sides) / 1000  # type: ignore[arg-type]
        if volume_cm3 > capacity.volume_cm3:
            add(
                Check.CAPACITY,
                "volume",
                _(
                    "The parcel takes %(volume)s m³; the largest vehicle at this hub has "
                    "%(limit)s m³ of load space."
                )
                % {
                    "volume": f"{volume_cm3 / 1_000_000:,.2f}",
                    "limit": f"{capacity.volume_cm3 / 1_000_000:,.2f}",
                },
            )
    return findings
