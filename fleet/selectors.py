"""Reads of the fleet: vehicles with their live state, what routing and emissions need to
know about a vehicle, device lookup by token, tariffs and charging plans.

``vehicle_routing_spec`` and ``route_emissions`` are the seams dispatch will call: the first
turns a vehicle into the routing engine's numbers, the second turns a planned route's distance
and parcels into CO2.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Prefetch, QuerySet

from fleet.errors import FleetErrorCode
from fleet.models import (
    SOLVED_STATUSES,
    Charger,
    ChargingPlan,
    ChargingPlanSlot,
    ChargingPlanVehicle,
    Device,
    FleetEvent,
    Tariff,
    TelematicsPing,
    Vehicle,
    VehicleState,
    VehicleStatus,
    VehicleType,
)
from fleet.optimizer import ChargerSpec, VehicleCharging, acceptance_w
from fleet.tokens import token_matches, token_prefix
from lastmile.core.errors import NotFound, ValidationFailed
from lastmile.core.history import references_to
from lastmile.hubs.models import Hub
from lastmile.orders.plausibility import HubCapacity
from lastmile.routing.matrix import PROFILES
from lastmile.routing.problem import Costs, EnergyModel, Load

# --- Vehicles -------------------------------------------------------------------------------


def vehicle_list(
    *, hub: Hub | None = None, status: str | None = None, kind: str | None = None
) -> QuerySet[Vehicle]:
    """Vehicles with their type, hub and live state joined (one query per page)."""
    vehicles = Vehicle.objects.select_related("vehicle_type", "home_hub", "state")
    if hub is not None:
        vehicles = vehicles.filter(home_hub=hub)
    if status:
        vehicles = vehicles.filter(status=status)
    if kind:
        vehicles = vehicles.filter(vehicle_type__kind=kind)
    return vehicles


def vehicle_history(*, vehicle: Vehicle) -> list[str]:
    """What refers to the vehicle (routes, pings, devices, charging, status changes…).

    Its live-state row and its creation event are its own and not counted: ``[]`` means a
    vehicle that never did anything, which may still be deleted; any other is retired.
    """
    found = references_to(vehicle, own=[VehicleState, FleetEvent])
    changes = (
        FleetEvent.objects.filter(vehicle=vehicle)
        .exclude(kind=FleetEvent.Kind.VEHICLE_CREATED)
        .count()
    )
    if changes:
        found.append(f"{changes} history {'entry' if changes == 1 else 'entries'}")
    return found


def vehicle_state_or_none(vehicle: Vehicle) -> VehicleState | None:
    """The vehicle's live-state row, or ``None`` when it has none (no query if joined)."""
    try:
        return vehicle.state
    except Vehicle.state.RelatedObjectDoesNotExist:
        return None


def vehicle_track(
    *, vehicle: Vehicle, since: dt.datetime, until: dt.datetime | None = None
) -> QuerySet[TelematicsPing]:
    """The vehicle's fixes in a period, oldest first (served by the vehicle-time index)."""
    pings = TelematicsPing.objects.filter(vehicle=vehicle, recorded_at__gte=since)
    if until is not None:
        pings = pings.filter(recorded_at__lt=until)
    return pings.order_by("recorded_at")


def hub_largest_capacity(hub: Hub) -> HubCapacity | None:
    """The heaviest payload and the largest load space among the hub's vehicles in service or
    in the workshop (one query); ``None`` for a hub without such vehicles.

    Orders check parcels against it: a parcel none of them carries cannot be delivered.
    """
    largest = Vehicle.objects.filter(
        home_hub=hub, status__in=[VehicleStatus.ACTIVE, VehicleStatus.MAINTENANCE]
    ).aggregate(
        weight_g=Max("vehicle_type__capacity_weight_g"),
        volume_cm3=Max("vehicle_type__capacity_volume_cm3"),
    )
    if largest["weight_g"] is None:
        return None
    return HubCapacity(weight_g=largest["weight_g"], volume_cm3=largest["volume_cm3"])


# --- What routing needs ---------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingVehicleSpec:
    """A vehicle in the routing engine's terms (``lastmile.routing.problem``).

    Dispatch builds ``routing.Vehicle(id=…, start=…, shift=…, capacity=spec.capacity,
    profile=spec.profile, skills=spec.skills, energy=spec.energy, costs=spec.costs)``.
    """

    vehicle_id: int
    code: str
    profile: str
    speed_kmh: float  # the profile's urban average, for display and sanity checks
    detour_factor: float
    capacity: Load
    energy: EnergyModel | None  # None for combustion vans: range is not a constraint
    costs: Costs
    currency: str
    skills: frozenset[str]


def vehicle_routing_spec(
    *, vehicle: Vehicle, soc_pct: float | None = None, reserve_pct: int | None = None
) -> RoutingVehicleSpec:
    """The routing engine's numbers for ``vehicle``.

    Usable energy is the battery's usable share minus the operational reserve
    (``FLEET_ENERGY_RESERVE_PCT``). Planned the night before, the battery is assumed charged
    to its target (``soc_pct=None``: full); re-planning during the day passes the live state
    of charge so the vehicle starts with what it has left.
    """
    vt = vehicle.vehicle_type
    reserve_pct = settings.FLEET_ENERGY_RESERVE_PCT if reserve_pct is None else reserve_pct
    energy = None
    if vt.is_electric:
        usable = vt.usable_battery_wh
        available = usable if soc_pct is None else usable * float(soc_pct) / 100
        usable_wh = int(available - usable * reserve_pct / 100)
        # Below the reserve there is nothing to plan with; 1 Wh keeps the model valid and
        # makes every job unreachable on range, which the engine then explains as such.
        energy = EnergyModel(usable_wh=max(1, usable_wh), wh_per_km=vt.route_wh_per_km)
    profile = PROFILES[vt.profile]
    return RoutingVehicleSpec(
        vehicle_id=vehicle.pk,
        code=vehicle.code,
        profile=vt.profile,
        speed_kmh=profile.speed_kmh,
        detour_factor=profile.detour_factor,
        capacity=Load(
            weight_g=vt.capacity_weight_g,
            volume_cm3=vt.capacity_volume_cm3,
            parcels=vt.capacity_parcels,
        ),
        energy=energy,
        costs=Costs(
            fixed=vt.fixed_cost_minor, per_km=vt.cost_per_km_minor, per_hour=vt.cost_per_hour_minor
        ),
        currency=vt.currency,
        skills=frozenset(vehicle.skills),
    )


# --- Emissions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteEmissions:
    distance_m: int
    parcels: int
    energy_wh: int | None  # battery energy for electric vehicles, None for combustion
    co2_g: int
    co2_g_per_parcel: float | None  # None for a route without parcels
    basis: str  # "grid_mix" (electric, well-to-battery at the grid factor) or "tank_to_wheel"


def route_emissions(*, vehicle: Vehicle, distance_m: int, parcels: int) -> RouteEmissions:
    """CO2 of driving ``distance_m`` with ``parcels`` on board.

    Electric: the route's battery energy, plus charging losses, at the grid's CO2 factor
    (``FLEET_GRID_CO2_G_PER_KWH``). Combustion: the type's tank-to-wheel g/km. Dispatch calls
    this per route with the route's distance and parcel count; the CO2-per-parcel KPI sums it.
    """
    if distance_m < 0 or parcels < 0:
        raise ValidationFailed(
            "Distance and parcels cannot be negative.",
            errors={"distance_m": ["Must be zero or more."]},
        )
    vt = vehicle.vehicle_type
    km = distance_m / 1000
    if vt.is_electric:
        energy_wh = km * vt.route_wh_per_km
        grid_wh = energy_wh / (settings.FLEET_CHARGING_EFFICIENCY_PCT / 100)
        co2 = grid_wh / 1000 * settings.FLEET_GRID_CO2_G_PER_KWH
        energy, basis = round(energy_wh), "grid_mix"
    else:
        co2, energy, basis = km * vt.co2_g_per_km, None, "tank_to_wheel"
    return RouteEmissions(
        distance_m=distance_m,
        parcels=parcels,
        energy_wh=energy,
        co2_g=round(co2),
        co2_g_per_parcel=round(co2 / parcels, 1) if parcels else None,
        basis=basis,
    )


# --- Devices --------------------------------------------------------------------------------


def device_get_by_token(*, token: str) -> Device | None:
    """The active device that owns ``token``, with its vehicle; ``None`` for anything else.

    A malformed token costs no query; a wrong secret is compared in constant time.
    """
    prefix = token_prefix(token)
    if prefix is None:
        return None
    device = (
        Device.objects.select_related("vehicle")
        .filter(token_prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if device is None or not token_matches(token, device.token_hash):
        return None
    return device


# --- Charging -------------------------------------------------------------------------------


def vehicle_charging_spec(vehicle_type: VehicleType) -> VehicleCharging:
    """The vehicle type's charging side, for compatibility checks (window and need unset)."""
    return VehicleCharging(
        id=0,
        available_slot=0,
        ready_slot=0,
        need_wh=0,
        ac_connector=vehicle_type.ac_connector,
        max_ac_power_w=vehicle_type.max_ac_power_w,
        dc_connector=vehicle_type.dc_connector,
        max_dc_power_w=vehicle_type.max_dc_power_w,
    )


def charger_spec(charger: Charger) -> ChargerSpec:
    return ChargerSpec(
        id=charger.pk,
        current=charger.current,
        connector=charger.connector,
        max_power_w=charger.max_power_w,
    )


def charge_power_w(*, vehicle_type: VehicleType, charger: Charger) -> int:
    """What the pair can transfer, W; 0 when the plug or the current does not fit."""
    return acceptance_w(vehicle_charging_spec(vehicle_type), charger_spec(charger))


def tariff_hourly_prices(*, tariff: Tariff) -> list[int]:
    """The tariff's 24 prices (minor units per MWh), hour 0 first; incomplete is refused."""
    rates = {rate.hour: rate.price_minor_per_mwh for rate in tariff.rates.all()}
    missing = [hour for hour in range(24) if hour not in rates]
    if missing:
        raise ValidationFailed(
            f"Tariff '{tariff}' has no price for hour(s) {', '.join(map(str, missing))}.",
            code=FleetErrorCode.TARIFF_INCOMPLETE,
            errors={"tariff": ["Every hour of the day needs a price."]},
        )
    return [rates[hour] for hour in range(24)]


def charging_plan_get(*, plan_id: int) -> ChargingPlan:
    """A plan with its vehicles, their chargers and power slots (four queries)."""
    plan_vehicles = ChargingPlanVehicle.objects.select_related(
        "vehicle", "charger"
    ).prefetch_related(Prefetch("slots", queryset=ChargingPlanSlot.objects.order_by("slot_index")))
    try:
        return (
            ChargingPlan.objects.select_related("hub")
            .prefetch_related(
                Prefetch("vehicles", queryset=plan_vehicles.order_by("vehicle__code"))
            )
            .get(pk=plan_id)
        )
    except ChargingPlan.DoesNotExist:
        raise NotFound("No such charging plan.") from None


def charging_plan_current(*, hub: Hub) -> ChargingPlan | None:
    """The hub's newest solved plan that has not been superseded."""
    return (
        ChargingPlan.objects.filter(hub=hub, status__in=SOLVED_STATUSES)
        .order_by("-horizon_start", "-pk")
        .first()
    )


@dataclass(frozen=True)
class TimelineBar:
    slot_index: int
    power_w: int
    vehicle_code: str


@dataclass(frozen=True)
class ChargerTimeline:
    label: str
    max_power_w: int
    bars: tuple[TimelineBar, ...]
    vehicles: tuple[str, ...]


@dataclass(frozen=True)
class PlanTimeline:
    """A solved plan laid out per charger and slot, for the back-office chart."""

    slot_starts: tuple[dt.datetime, ...]
    prices_minor_per_mwh: tuple[int, ...]
    chargers: tuple[ChargerTimeline, ...]
    site_load_w: tuple[int, ...]
    naive_load_w: tuple[int, ...]
    power_cap_w: int


def charging_plan_timeline(*, plan: ChargingPlan) -> PlanTimeline:
    """Per-charger bars and the site's load per slot, from a plan fetched with
    :func:`charging_plan_get` (no further query)."""
    slots = plan.slot_count
    site_load = [0] * slots
    per_charger: dict[int, list[TimelineBar]] = {}
    chargers: dict[int, Charger] = {}
    codes: dict[int, list[str]] = {}
    for row in plan.vehicles.all():
        if row.charger is None:
            continue
        chargers[row.charger_id] = row.charger
        codes.setdefault(row.charger_id, []).append(row.vehicle.code)
        for slot in row.slots.all():
            per_charger.setdefault(row.charger_id, []).append(
                TimelineBar(slot.slot_index, slot.power_w, row.vehicle.code)
            )
            if slot.slot_index < slots:
                site_load[slot.slot_index] += slot.power_w
    lanes = tuple(
        ChargerTimeline(
            label=charger.code,
            max_power_w=charger.max_power_w,
            bars=tuple(sorted(per_charger.get(pk, []), key=lambda bar: bar.slot_index)),
            vehicles=tuple(codes[pk]),
        )
        for pk, charger in sorted(chargers.items(), key=lambda item: item[1].code)
    )
    return PlanTimeline(
        slot_starts=tuple(plan.slot_start(i) for i in range(slots)),
        prices_minor_per_mwh=tuple(plan.prices_minor_per_mwh),
        chargers=lanes,
        site_load_w=tuple(site_load),
        naive_load_w=tuple(plan.naive_load_w or [0] * slots),
        power_cap_w=plan.power_cap_w,
    )


# --- Lookups by code (API input) ---------------------------------------------------------


def session_parties_by_code(
    *, vehicle_code: str, hub_code: str, charger_code: str
) -> tuple[Vehicle, Charger]:
    """The vehicle and the hub's charger a session names; unknown codes are field errors."""
    vehicle = Vehicle.objects.select_related("vehicle_type").filter(code=vehicle_code).first()
    charger = (
        Charger.objects.filter(site__hub__code=hub_code, code=charger_code)
        .select_related("site")
        .first()
    )
    errors = {}
    if vehicle is None:
        errors["vehicle"] = ["No vehicle with this code."]
    if charger is None:
        errors["charger"] = ["No charger with this code at this hub."]
    if errors:
        raise ValidationFailed("Unknown vehicle or charger.", errors=errors)
    return vehicle, charger


def hub_by_code(*, code: str) -> Hub:
    hub = Hub.objects.filter(code=code).first()
    if hub is None:
        raise ValidationFailed("Unknown hub.", errors={"hub": ["No hub with this code."]})
    return hub


def hub_vehicle_ids(*, hub: Hub, codes: list[str]) -> dict[str, int]:
    """Vehicle code → id for the hub's own vehicles; any other code is a field error."""
    ids = dict(Vehicle.objects.filter(home_hub=hub, code__in=codes).values_list("code", "pk"))
    unknown = [code for code in codes if code not in ids]
    if unknown:
        raise ValidationFailed(
            "Unknown vehicles.",
            errors={"vehicles": [f"{code} is not a vehicle of {hub.code}." for code in unknown]},
        )
    return ids
