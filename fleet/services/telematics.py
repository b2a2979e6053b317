"""Telematics ingest and retention: batches of pings in, the live state moved forward.

Ingest is the product's highest-volume write, so it is shaped for it: plain-Python checks
(no per-row ``full_clean``), one query for duplicates, one bulk insert that ignores
conflicts, and one conditional update of the vehicle's live state per batch.
"""

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fleet.models import (
    HEADING_RANGE,
    ODOMETER_M_MAX,
    SOC_RANGE,
    SPEED_KMH_MAX,
    Device,
    TelematicsPing,
    VehicleState,
)
from lastmile.core.errors import ValidationFailed
from lastmile.core.geo import LATITUDE_RANGE, LONGITUDE_RANGE

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
# Device clocks drift; a fix a few minutes "ahead" is a clock, further is a bug.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
_SIX_PLACES = Decimal("0.000001")
_ONE_PLACE = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class PingInput:
    """One fix as a device reports it (units in the names)."""

    recorded_at: dt.datetime
    latitude: float | Decimal
    longitude: float | Decimal
    speed_kmh: float | None = None
    heading_deg: float | None = None
    soc_pct: float | None = None
    odometer_m: int | None = None


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int
    newest_recorded_at: dt.datetime | None


def _out_of_range(value: Any, low: float, high: float) -> bool:
    # Written so that NaN is out of range too (every comparison with NaN is false).
    return not (low <= value <= high)


def _check(ping: PingInput, *, now: dt.datetime, oldest: dt.datetime) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if timezone.is_naive(ping.recorded_at):
        errors["recorded_at"] = ["Include a time zone offset, e.g. 2025-05-01T06:30:00Z."]
    elif ping.recorded_at > now + FUTURE_TOLERANCE:
        errors["recorded_at"] = ["This time is in the future; check the device clock."]
    elif ping.recorded_at < oldest:
        errors["recorded_at"] = [
            f"Older than the {settings.FLEET_PING_RETENTION_DAYS}-day retention period."
        ]
    if _out_of_range(ping.latitude, *LATITUDE_RANGE):
        errors["latitude"] = ["Must be between -90 and 90."]
    if _out_of_range(ping.longitude, *LONGITUDE_RANGE):
        errors["longitude"] = ["Must be between -180 and 180."]
    if ping.speed_kmh is not None and _out_of_range(ping.speed_kmh, 0, SPEED_KMH_MAX):
        errors["speed_kmh"] = [f"Must be between 0 and {SPEED_KMH_MAX} km/h."]
    if ping.heading_deg is not None and (
        _out_of_range(ping.heading_deg, 0, 360) or ping.heading_deg == 360
    ):
        errors["heading_deg"] = ["Must be at least 0 and below 360 degrees."]
    if ping.soc_pct is not None and _out_of_range(ping.soc_pct, *SOC_RANGE):
        errors["soc_pct"] = ["Must be between 0 and 100 %."]
    if ping.odometer_m is not None and not 0 <= ping.odometer_m <= ODOMETER_M_MAX:
        errors["odometer_m"] = [f"Must be between 0 and {ODOMETER_M_MAX} m."]
    return errors


def _decimal(value: float | Decimal | None, places: Decimal) -> Decimal | None:
    if value is None:
        return None
    # Through str(): a float's repr is the short decimal the device sent, not its binary value.
    return Decimal(str(value)).quantize(places)


def _heading(value: float | None) -> int | None:
    # 359.6° is north again, not 360°.
    return None if value is None else round(value) % (HEADING_RANGE[1] + 1)


def pings_ingest(
    *, device: Device, pings: Sequence[PingInput], now: dt.datetime | None = None
) -> IngestResult:
    """Store a batch of pings for the device's vehicle and move its live state forward.

    All or nothing: one bad ping refuses the batch with ``ValidationFailed`` whose
    ``errors`` are ``{"pings": {"<index>": {"<field>": [messages]}}}``, and nothing is
    stored. Idempotent on (device, recorded_at): pings already stored, and repeats inside
    the batch, are counted as duplicates and ignored. Pings may arrive in any order; the live
    state only ever moves to a newer fix.
    """
    now = now or timezone.now()
    if not pings:
        raise ValidationFailed("Send at least one ping.", errors={"pings": ["Empty batch."]})
    if len(pings) > MAX_BATCH:
        raise ValidationFailed(
            f"At most {MAX_BATCH} pings per batch.",
            errors={"pings": [f"Send at most {MAX_BATCH} pings per request."]},
        )
    oldest = now - dt.timedelta(days=settings.FLEET_PING_RETENTION_DAYS)
    problems = {}
    for index, ping in enumerate(pings):
        errors = _check(ping, now=now, oldest=oldest)
        if errors:
            problems[str(index)] = errors
    if problems:
        raise ValidationFailed(
            f"{len(problems)} of {len(pings)} pings are invalid; none were stored.",
            errors={"pings": problems},  # type: ignore[dict-item] - nested per index
        )

    # Repeats inside the batch: the first one counts.
    unique: dict[dt.datetime, PingInput] = {}
    for ping in pings:
        unique.setdefault(ping.recorded_at, ping)
    vehicle_id = device.vehicle_id
    with transaction.atomic():
        stored_before = set(
            TelematicsPing.objects.filter(device=device, recorded_at__in=list(unique)).values_list(
                "recorded_at", flat=True
            )
        )
        rows = [
            TelematicsPing(
                device_id=device.pk,
                vehicle_id=vehicle_id,
                recorded_at=ping.recorded_at,
                received_at=now,
                latitude=_decimal(ping.latitude, _SIX_PLACES),
                longitude=_decimal(ping.longitude, _SIX_PLACES),
                speed_kmh=_decimal(ping.speed_kmh, _ONE_PLACE),
                heading_deg=_heading(ping.heading_deg),
                soc_pct=_decimal(ping.soc_pct, _ONE_PLACE),
                odometer_m=ping.odometer_m,
            )
            for recorded_at, ping in sorted(unique.items(), key=lambda item: item[0])
            if recorded_at not in stored_before
        ]
        # A concurrent batch may have stored some of these since the query above: the
        # unique constraint turns that race into skipped rows, not an error. Inserting in
        # time order matters: an insert waits on the other batch's uncommitted duplicates,
        # and two batches holding the same pings in opposite orders would deadlock.
        TelematicsPing.objects.bulk_create(rows, ignore_conflicts=True, batch_size=MAX_BATCH)
        newest = max(rows, key=lambda r: r.recorded_at, default=None)
        if newest is not None:
            with_soc = [row for row in rows if row.soc_pct is not None]
            _advance_state(
                vehicle_id, newest, max(with_soc, key=lambda r: r.recorded_at, default=None), now
            )
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
    result = IngestResult(
        received=len(pings),
        stored=len(rows),
        duplicates=len(pings) - len(rows),
        newest_recorded_at=newest.recorded_at if newest else None,
    )
    logger.debug(
        "telematics batch stored",
        extra={"device": device.pk, "vehicle": vehicle_id, "stored": result.stored},
    )
    return result


def _advance_state(
    vehicle_id: int, newest: TelematicsPing, newest_soc: TelematicsPing | None, now: dt.datetime
) -> None:
    """Move the vehicle's live state to ``newest`` if it is newer than what the row holds.

    Conditional ``UPDATE``s: the database compares times under its row lock, so two batches
    racing each other leave the newer fix, whichever commits last.
    """
    position = {
        "recorded_at": newest.recorded_at,
        "latitude": newest.latitude,
        "longitude": newest.longitude,
        "speed_kmh": newest.speed_kmh,
        "heading_deg": newest.heading_deg,
        "updated_at": now,
    }
    if newest.odometer_m is not None:
        position["odometer_m"] = newest.odometer_m
    updated = VehicleState.objects.filter(
        Q(recorded_at__isnull=True) | Q(recorded_at__lt=newest.recorded_at),
        vehicle_id=vehicle_id,
    ).update(**position)
    if not updated:
        # Either a newer fix is already there, or the vehicle has no state row yet (made
        # outside ``vehicle_create``): create it, then apply the same conditional update.
        _, created = VehicleState.objects.get_or_create(vehicle_id=vehicle_id)
        if created:
            VehicleState.objects.filter(pk=vehicle_id).update(**position)
    if newest_soc is not None:
        VehicleState.objects.filter(
            Q(soc_recorded_at__isnull=True) | Q(soc_recorded_at__lt=newest_soc.recorded_at),
            vehicle_id=vehicle_id,
        ).update(soc_pct=newest_soc.soc_pct, soc_recorded_at=newest_soc.recorded_at, updated_at=now)


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    done: bool  # False: more old pings remain than this run was allowed to delete


def pings_prune(
    *, older_than: dt.datetime, batch_size: int = 5000, max_batches: int = 20
) -> PruneResult:
    """Delete raw pings recorded before ``older_than``, ``batch_size`` rows per transaction.

    Short transactions keep locks and WAL bursts small while ingest goes on. Idempotent:
    running it again deletes what is left, or nothing. The live state is never touched.
    """
    deleted = 0
    for _ in range(max_batches):
        with transaction.atomic():
            ids = list(
                TelematicsPing.objects.filter(recorded_at__lt=older_than)
                .order_by("recorded_at")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return PruneResult(deleted=deleted, done=True)
            count, _ = TelematicsPing.objects.filter(pk__in=ids).delete()
            deleted += count
        if len(ids) < batch_size:
            return PruneResult(deleted=deleted, done=True)
    done = not TelematicsPing.objects.filter(recorded_at__lt=older_than).exists()
    return PruneResult(deleted=deleted, done=done)
