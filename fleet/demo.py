"""Demo fleet for the Berlin hubs: e-vans and e-cargo bikes with telematics devices and recent
positions, chargers under a site power cap, a time-of-use tariff, and a first charging plan.

Idempotent: rows are looked up by their natural keys; pings are only sent to a vehicle that
has no position yet, and a plan is only requested for a hub that has none.
"""

import datetime as dt
import random
from collections.abc import Iterable

from django.utils import timezone

from fleet import services
from fleet.models import (
    ChargingPlan,
    ChargingSite,
    Connector,
    Current,
    Device,
    Tariff,
    Vehicle,
    VehicleKind,
    VehicleState,
    VehicleType,
)
from lastmile.hubs.models import Hub

TARIFF_NAME = "Berlin business time-of-use (demo)"
# Minor units per MWh by local hour: cheap at night, dearest in the evening peak.
HOURLY_PRICES = [
    *[21_000] * 6,  # 00-06
    *[29_000] * 3,  # 06-09
    *[31_000] * 8,  # 09-17
    *[38_000] * 4,  # 17-21
    27_000,  # 21-22
    *[21_000] * 2,  # 22-24
]

VEHICLE_TYPES = [
    {
        "name": "E-Transporter 3.5 t L2H2",
        "kind": VehicleKind.E_VAN,
        "capacity_weight_g": 1_000_000,
        "capacity_volume_cm3": 11_000_000,
        "capacity_parcels": 180,
        "battery_capacity_wh": 75_000,
        "usable_battery_pct": 92,
        "consumption_wh_per_km": 240,
        "consumption_loaded_wh_per_km": 310,
        "max_ac_power_w": 11_000,
        "ac_connector": Connector.TYPE2,
        "max_dc_power_w": 80_000,
        "dc_connector": Connector.CCS2,
        "cost_per_km_minor": 16,
        "cost_per_hour_minor": 3_200,
        "fixed_cost_minor": 4_500,
    },
    {
        "name": "E-Cargo bike, 1.5 m³ box",
        "kind": VehicleKind.E_CARGO_BIKE,
        "capacity_weight_g": 150_000,
        "capacity_volume_cm3": 1_500_000,
        "capacity_parcels": 45,
        "battery_capacity_wh": 1_500,
        "usable_battery_pct": 95,
        "consumption_wh_per_km": 14,
        "consumption_loaded_wh_per_km": 22,
        "max_ac_power_w": 700,
        "ac_connector": Connector.SCHUKO,
        "cost_per_km_minor": 4,
        "cost_per_hour_minor": 2_600,
        "fixed_cost_minor": 900,
    },
    {
        "name": "Diesel van 3.5 t (legacy)",
        "kind": VehicleKind.ICE_VAN,
        "capacity_weight_g": 1_100_000,
        "capacity_volume_cm3": 12_000_000,
        "capacity_parcels": 200,
        "co2_g_per_km": 215,
        "cost_per_km_minor": 24,
        "cost_per_hour_minor": 3_200,
        "fixed_cost_minor": 4_000,
    },
]

# Per hub: site cap, chargers (code, current, connector, W), vehicles (code, type name, reg).
HUB_FLEETS = {
    "BER-TH": {
        "power_cap_w": 60_000,
        "chargers": [
            *[(f"AC-{n:02d}", Current.AC, Connector.TYPE2, 11_000) for n in range(1, 5)],
            ("DC-01", Current.DC, Connector.CCS2, 50_000),
            *[(f"SCH-{n:02d}", Current.AC, Connector.SCHUKO, 2_300) for n in range(1, 3)],
        ],
        "vehicles": [
            *[(f"TH-EV{n:02d}", VEHICLE_TYPES[0]["name"], f"B-LM {100 + n}E") for n in range(1, 5)],
            *[(f"TH-CB{n:02d}", VEHICLE_TYPES[1]["name"], "") for n in range(1, 3)],
            ("TH-DV01", VEHICLE_TYPES[2]["name"], "B-LM 901"),
        ],
    },
    "BER-KX": {
        "power_cap_w": 20_000,
        "chargers": [
            *[(f"AC-{n:02d}", Current.AC, Connector.TYPE2, 11_000) for n in range(1, 3)],
            *[(f"SCH-{n:02d}", Current.AC, Connector.SCHUKO, 2_300) for n in range(1, 5)],
        ],
        "vehicles": [
            *[(f"KX-EV{n:02d}", VEHICLE_TYPES[0]["name"], f"B-LM {200 + n}E") for n in range(1, 3)],
            *[(f"KX-CB{n:02d}", VEHICLE_TYPES[1]["name"], "") for n in range(1, 5)],
        ],
    },
}


def _vehicle_types() -> dict[str, VehicleType]:
    types = {}
    for spec in VEHICLE_TYPES:
        existing = VehicleType.objects.filter(name=spec["name"]).first()
        types[spec["name"]] = existing or services.vehicle_type_create(**spec)
    return types


def _tariff() -> Tariff:
    return Tariff.objects.filter(name=TARIFF_NAME).first() or services.tariff_create(
        name=TARIFF_NAME, hourly_prices_minor_per_mwh=HOURLY_PRICES
    )


def _send_recent_pings(vehicle: Vehicle, hub: Hub, now: dt.datetime) -> None:
    """Three fixes over the last 20 minutes, near the hub, so the map has something to show."""
    state = VehicleState.objects.filter(vehicle=vehicle).first()
    if state is not None and state.recorded_at is not None:
        return
    device = Device.objects.filter(vehicle=vehicle, revoked_at__isnull=True).first()
    if device is None:
        device, _ = services.device_create(
            vehicle=vehicle, name=f"Telematics unit {vehicle.code}", source="demo"
        )
    rng = random.Random(vehicle.code)  # noqa: S311 - demo data, not security
    lat, lng = float(hub.latitude), float(hub.longitude)
    soc = rng.uniform(18, 75) if vehicle.vehicle_type.is_electric else None
    pings = []
    for minutes_ago in (20, 10, 2):
        lat += rng.uniform(-0.012, 0.012)
        lng += rng.uniform(-0.018, 0.018)
        pings.append(
            services.PingInput(
                recorded_at=now - dt.timedelta(minutes=minutes_ago),
                latitude=round(lat, 6),
                longitude=round(lng, 6),
                speed_kmh=round(rng.uniform(0, 35), 1),
                heading_deg=rng.randrange(360),
                soc_pct=None if soc is None else round(soc + minutes_ago * 0.3, 1),
                odometer_m=rng.randrange(5_000_000, 60_000_000),
            )
        )
    services.pings_ingest(device=device, pings=pings, now=now)


def seed_fleet(hubs: Iterable[Hub], *, now: dt.datetime | None = None) -> int:
    """Create or complete the demo fleet at the demo hubs; returns how many vehicles it has."""
    now = now or timezone.now()
    types = _vehicle_types()
    tariff = _tariff()
    count = 0
    for hub in hubs:
        spec = HUB_FLEETS.get(hub.code)
        if spec is None:
            continue
        site = ChargingSite.objects.filter(hub=hub).first() or services.charging_site_create(
            hub=hub, power_cap_w=spec["power_cap_w"], tariff=tariff
        )
        existing_chargers = set(site.chargers.values_list("code", flat=True))
        for code, current, connector, watts in spec["chargers"]:
            if code not in existing_chargers:
                services.charger_create(
                    site=site, code=code, current=current, connector=connector, max_power_w=watts
                )
        for code, type_name, registration in spec["vehicles"]:
            vehicle = Vehicle.objects.select_related("vehicle_type").filter(code=code).first()
            if vehicle is None:
                vehicle = services.vehicle_create(
                    code=code,
                    vehicle_type=types[type_name],
                    home_hub=hub,
                    registration=registration,
                    source="demo",
                )
            _send_recent_pings(vehicle, hub, now)
            count += 1
        if not ChargingPlan.objects.filter(hub=hub).exists():
            # Solved after the demo's transaction commits (in-process without Redis).
            services.charging_plan_request(hub=hub, source="demo", now=now)
    return count
