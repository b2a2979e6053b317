"""Writes of charging infrastructure and sessions: tariffs, sites, chargers, sessions."""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fleet.errors import FleetErrorCode
from fleet.models import (
    Charger,
    ChargerStatus,
    ChargingSession,
    ChargingSite,
    Tariff,
    TariffRate,
    Vehicle,
)
from fleet.selectors import charge_power_w, tariff_hourly_prices
from lastmile.accounts.models import User
from lastmile.core.errors import Conflict, ValidationFailed
from lastmile.hubs.models import Hub

# A charge point's meter and its rated power disagree by a little; more is a bad record.
METER_TOLERANCE = 1.02
MAX_SESSION = dt.timedelta(hours=48)
CLOCK_TOLERANCE = dt.timedelta(minutes=5)


def _rates(tariff: Tariff, prices: Sequence[int]) -> list[TariffRate]:
    if len(prices) != 24:
        raise ValidationFailed(
            "A tariff needs 24 hourly prices.",
            errors={"hourly_prices": ["Give 24 prices, one per hour 0-23 (local time)."]},
        )
    rates = [
        TariffRate(tariff=tariff, hour=hour, price_minor_per_mwh=price)
        for hour, price in enumerate(prices)
    ]
    for rate in rates:
        rate.clean_fields(exclude=["tariff"])
    return rates


@transaction.atomic
def tariff_create(
    *, name: str, hourly_prices_minor_per_mwh: Sequence[int], currency: str = "EUR"
) -> Tariff:
    """Create a time-of-use tariff from 24 hourly prices (minor units per MWh, local time)."""
    tariff = Tariff(name=name.strip(), currency=currency.upper())
    tariff.full_clean()
    rates = _rates(tariff, hourly_prices_minor_per_mwh)
    tariff.save()
    TariffRate.objects.bulk_create(rates)
    return tariff


@transaction.atomic
def tariff_set_prices(*, tariff: Tariff, hourly_prices_minor_per_mwh: Sequence[int]) -> Tariff:
    """Replace the tariff's 24 hourly prices. Plans already made keep the prices they used."""
    rates = _rates(tariff, hourly_prices_minor_per_mwh)
    tariff.rates.all().delete()
    TariffRate.objects.bulk_create(rates)
    return tariff


@transaction.atomic
def charging_site_create(
    *,
    hub: Hub,
    power_cap_w: int,
    tariff: Tariff,
    default_arrival_time: dt.time | None = None,
    default_ready_time: dt.time | None = None,
) -> ChargingSite:
    """Give a hub its charging site: the grid connection's cap and the tariff it pays."""
    site = ChargingSite(hub=hub, power_cap_w=power_cap_w, tariff=tariff)
    if default_arrival_time is not None:
        site.default_arrival_time = default_arrival_time
    if default_ready_time is not None:
        site.default_ready_time = default_ready_time
    site.full_clean()
    site.save()
    return site


@transaction.atomic
def charger_create(
    *,
    site: ChargingSite,
    code: str,
    current: str,
    connector: str,
    max_power_w: int,
    status: str = ChargerStatus.OPERATIONAL,
) -> Charger:
    charger = Charger(
        site=site,
        code=code.strip().upper(),
        current=current,
        connector=connector,
        max_power_w=max_power_w,
        status=status,
    )
    charger.full_clean()
    charger.save()
    return charger


def session_cost_minor(
    *, site: ChargingSite, started_at: dt.datetime, ended_at: dt.datetime, energy_wh: int
) -> int:
    """Energy cost at the site's tariff, spreading the energy evenly over the session."""
    prices = tariff_hourly_prices(tariff=site.tariff)
    zone = site.hub.zone
    # UTC, so that stepping hour by hour is real time, not wall-clock time, across DST.
    started_at, ended_at = started_at.astimezone(dt.UTC), ended_at.astimezone(dt.UTC)
    total_s = (ended_at - started_at).total_seconds()
    cost = 0.0
    cursor = started_at
    while cursor < ended_at:
        local = timezone.localtime(cursor, zone)
        # The next local hour boundary, computed in UTC so DST changes cannot loop.
        next_hour = cursor + dt.timedelta(
            minutes=60 - local.minute, seconds=-local.second, microseconds=-local.microsecond
        )
        segment_end = min(next_hour, ended_at)
        share = (segment_end - cursor).total_seconds() / total_s
        cost += energy_wh * share * prices[local.hour] / 1_000_000
        cursor = segment_end
    return round(cost)


def charging_session_check(
    *,
    vehicle: Vehicle,
    charger: Charger,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    energy_wh: int,
    now: dt.datetime | None = None,
) -> None:
    """The rules a session must meet on its own; raises ``ValidationFailed`` per field."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if timezone.is_naive(started_at) or timezone.is_naive(ended_at):
        raise ValidationFailed(
            "Times need a time zone.", errors={"started_at": ["Include a time zone offset."]}
        )
    if ended_at <= started_at:
        errors["ended_at"] = ["A session must end after it starts."]
    elif ended_at - started_at > MAX_SESSION:
        errors["ended_at"] = ["A session cannot last more than 48 hours."]
    if ended_at > now + CLOCK_TOLERANCE:
        errors["ended_at"] = ["Record a session once it has ended."]
    power_w = charge_power_w(vehicle_type=vehicle.vehicle_type, charger=charger)
    if power_w == 0:
        errors["charger"] = [
            f"{vehicle.code} cannot charge on {charger.code} "
            f"({charger.get_current_display()} {charger.get_connector_display()})."
        ]
    elif "ended_at" not in errors:
        hours = (ended_at - started_at).total_seconds() / 3600
        possible = power_w * hours * METER_TOLERANCE
        if energy_wh > possible:
            errors["energy_wh"] = [
                f"{energy_wh} Wh is more than {power_w / 1000:g} kW can deliver in "
                f"{hours:.2f} h ({possible:.0f} Wh)."
            ]
    if errors:
        raise ValidationFailed("The charging session is not plausible.", errors=errors)


@transaction.atomic
def charging_session_record(
    *,
    vehicle: Vehicle,
    charger: Charger,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    energy_wh: int,
    start_soc_pct: Decimal | None = None,
    end_soc_pct: Decimal | None = None,
    source: str,
    actor: User | None = None,
) -> tuple[ChargingSession, bool]:
    """Record a finished session, priced at the site's tariff. Returns it and whether it is new.

    Idempotent: the same charger and start again is the stored session (``False``), unless
    it names another vehicle (``Conflict``). A session overlapping another on the same
    charger or of the same vehicle is a ``Conflict``.
    """
    charging_session_check(
        vehicle=vehicle,
        charger=charger,
        started_at=started_at,
        ended_at=ended_at,
        energy_wh=energy_wh,
    )
    # Vehicle before charger, always: two recorders never wait on each other in a cycle.
    Vehicle.objects.select_for_update().filter(pk=vehicle.pk).first()
    locked = (
        Charger.objects.select_for_update()
        .select_related("site__tariff", "site__hub")
        .get(pk=charger.pk)
    )
    existing = ChargingSession.objects.filter(charger=locked, started_at=started_at).first()
    if existing is not None:
        if existing.vehicle_id == vehicle.pk:
            return existing, False
        raise Conflict(
            f"{locked.code} already has a session starting then, for another vehicle.",
            code=FleetErrorCode.SESSION_EXISTS,
            errors={"started_at": ["Another vehicle's session starts at this time."]},
        )
    overlap = (
        ChargingSession.objects.filter(Q(charger=locked) | Q(vehicle=vehicle))
        .filter(started_at__lt=ended_at, ended_at__gt=started_at)
        .select_related("vehicle", "charger")
        .first()
    )
    if overlap is not None:
        raise Conflict(
            f"Overlaps {overlap.vehicle.code} on {overlap.charger.code} "
            f"from {timezone.localtime(overlap.started_at):%Y-%m-%d %H:%M}.",
            code=FleetErrorCode.SESSION_OVERLAP,
            errors={"started_at": ["Overlaps another session of this charger or vehicle."]},
        )
    session = ChargingSession(
        vehicle=vehicle,
        charger=locked,
        started_at=started_at,
        ended_at=ended_at,
        energy_wh=energy_wh,
        start_soc_pct=start_soc_pct,
        end_soc_pct=end_soc_pct,
        cost_minor=session_cost_minor(
            site=locked.site, started_at=started_at, ended_at=ended_at, energy_wh=energy_wh
        ),
        currency=locked.site.tariff.currency,
        source=source,
        recorded_by=actor if actor is not None and actor.is_authenticated else None,
    )
    session.full_clean(validate_unique=False)
    session.save()
    return session, True
