"""Fleet figures: telematics ingest throughput, and smart vs naive charging at a 40-van hub.

    python benchmarks/bench_fleet.py [--pings 50000] [--batch 500] [--http-pings 10000]

Ingest runs the real service (``pings_ingest``) and then the HTTP endpoint through DRF's test
client, against ``DATABASE_URL`` (target: >= 5,000 pings/s on PostgreSQL with batches of
500), and deletes what it wrote. Charging solves one night for 40 e-vans under a site cap
with the optimiser and with "plug in on arrival at full power", and prints cost and peak.
"""

import argparse
import datetime as dt
import random
import time
import uuid

from _django import purge, setup

VEHICLES = 20


def bench_ingest(args: argparse.Namespace, vendor: str) -> None:
    from django.utils import timezone
    from rest_framework.test import APIClient

    from fleet import services
    from fleet.models import Vehicle, VehicleType
    from lastmile.hubs.models import Hub
    from lastmile.hubs.services import hub_create

    hub = Hub.objects.filter(code="BENCH-HUB").first() or hub_create(
        name="Benchmark hub",
        code="BENCH-HUB",
        address="Benchmark",
        latitude=52.5,
        longitude=13.4,
        time_zone="Europe/Berlin",
    )
    vehicle_type = VehicleType.objects.filter(name="Benchmark e-van").first()
    vehicle_type = vehicle_type or services.vehicle_type_create(
        name="Benchmark e-van",
        kind="e_van",
        capacity_weight_g=1_000_000,
        capacity_volume_cm3=11_000_000,
        capacity_parcels=180,
        battery_capacity_wh=75_000,
        consumption_wh_per_km=250,
        max_ac_power_w=11_000,
        ac_connector="type2",
    )
    tag = uuid.uuid4().hex[:6].upper()
    devices, tokens = [], []
    for n in range(VEHICLES):
        vehicle = services.vehicle_create(
            code=f"BENCH-{tag}-{n:02d}", vehicle_type=vehicle_type, home_hub=hub, source="bench"
        )
        device, token = services.device_create(vehicle=vehicle, name="bench", source="bench")
        devices.append(device)
        tokens.append(token)

    rng = random.Random(7)  # benchmark data, not security
    start = timezone.now() - dt.timedelta(days=2)

    def batch(number: int, size: int) -> list[services.PingInput]:
        # Each device's clock advances one second per ping; batches interleave devices.
        first = (number // VEHICLES) * size
        return [
            services.PingInput(
                recorded_at=start + dt.timedelta(seconds=first + i),
                latitude=round(52.45 + rng.random() * 0.1, 6),
                longitude=round(13.3 + rng.random() * 0.2, 6),
                speed_kmh=round(rng.random() * 50, 1),
                heading_deg=rng.randrange(360),
                soc_pct=round(20 + rng.random() * 70, 1),
                odometer_m=10_000_000 + first + i,
            )
            for i in range(size)
        ]

    try:
        batches = [batch(n, args.batch) for n in range(args.pings // args.batch)]
        count = sum(len(b) for b in batches)
        started = time.perf_counter()
        for n, pings in enumerate(batches):
            services.pings_ingest(device=devices[n % VEHICLES], pings=pings)
        service_s = time.perf_counter() - started

        # The same batches again: all duplicates, the idempotent path devices hit on retries.
        resend = batches[: max(1, len(batches) // 5)]
        started = time.perf_counter()
        for n, pings in enumerate(resend):
            services.pings_ingest(device=devices[n % VEHICLES], pings=pings)
        duplicate_s = time.perf_counter() - started
        resent = sum(len(b) for b in resend)

        http_batches = args.http_pings // args.batch
        bodies = []
        for n in range(http_batches):
            pings = batch(len(batches) + VEHICLES * (n + 1), args.batch)
            bodies.append(
                {
                    "pings": [
                        {
                            "recorded_at": p.recorded_at.isoformat(),
                            "latitude": p.latitude,
                            "longitude": p.longitude,
                            "speed_kmh": p.speed_kmh,
                            "heading_deg": p.heading_deg,
                            "soc_pct": p.soc_pct,
                            "odometer_m": p.odometer_m,
                        }
                        for p in pings
                    ]
                }
            )
        clients = []
        for token in tokens:
            client = APIClient(SERVER_NAME="localhost")
            client.credentials(HTTP_AUTHORIZATION=f"Device {token}")
            clients.append(client)
        started = time.perf_counter()
        for n, body in enumerate(bodies):
            response = clients[n % VEHICLES].post(
                "/api/v1/fleet/telematics/pings/", body, format="json"
            )
            assert response.status_code == 200, response.content[:300]
        http_s = time.perf_counter() - started
        http_count = http_batches * args.batch
        print(
            f"FLEET_PING_INGEST db={vendor} batch={args.batch} "
            f"service_pings={count} service_s={service_s:.2f} "
            f"service_pings_per_s={count / service_s:.0f} "
            f"duplicate_pings_per_s={resent / duplicate_s:.0f} "
            f"http_pings={http_count} http_s={http_s:.2f} "
            f"http_pings_per_s={http_count / http_s:.0f}"
        )
    finally:
        vehicles = Vehicle.objects.filter(code__startswith=f"BENCH-{tag}-")
        purge(vehicles)  # their devices and pings first


def bench_charging() -> None:
    from fleet.demo import HOURLY_PRICES
    from fleet.optimizer import (
        ChargerSpec,
        ChargingProblem,
        VehicleCharging,
        plan_naive,
        plan_smart,
    )

    rng = random.Random(40)  # benchmark data, not security
    # 17:00 to 07:00 in 15-minute slots, at the demo's Berlin time-of-use prices.
    slots = 14 * 4
    prices = tuple(HOURLY_PRICES[(17 + i // 4) % 24] for i in range(slots))
    chargers = tuple(
        [ChargerSpec(i, "ac", "type2", 11_000) for i in range(36)]
        + [ChargerSpec(100 + i, "dc", "ccs2", 50_000) for i in range(4)]
    )
    usable = 75_000 * 92 // 100
    vehicles = tuple(
        VehicleCharging(
            id=n,
            available_slot=rng.randint(0, 12),  # back between 17:00 and 20:00
            ready_slot=rng.randint(52, 56),  # leaving between 06:00 and 07:00
            need_wh=usable - int(usable * rng.uniform(0.15, 0.55)),  # to full
            ac_connector="type2",
            max_ac_power_w=11_000,
            dc_connector="ccs2",
            max_dc_power_w=80_000,
        )
        for n in range(40)
    )
    cap_w = 200_000
    problem = ChargingProblem(
        slot_minutes=15,
        prices_minor_per_mwh=prices,
        power_cap_w=cap_w,
        efficiency=0.9,
        chargers=chargers,
        vehicles=vehicles,
    )
    started = time.perf_counter()
    smart = plan_smart(problem, time_limit_s=20)
    solve_s = time.perf_counter() - started
    naive = plan_naive(problem)
    saving = 100 * (naive.cost_minor - smart.cost_minor) / naive.cost_minor
    print(
        f"CHARGING vehicles={len(vehicles)} chargers={len(chargers)} cap_kw={cap_w / 1000:g} "
        f"need_kwh={sum(v.need_wh for v in vehicles) / 1000:.0f} "
        f"smart_cost_eur={smart.cost_minor / 100:.2f} naive_cost_eur={naive.cost_minor / 100:.2f} "
        f"saving_pct={saving:.1f} "
        f"smart_peak_kw={smart.peak_w / 1000:.1f} naive_peak_kw={naive.peak_w / 1000:.1f} "
        f"naive_slots_over_cap={naive.slots_over(cap_w)} "
        f"smart_shortfall_wh={smart.shortfall_wh} naive_shortfall_wh={naive.shortfall_wh} "
        f"solver={smart.solver} status={smart.solver_status} solve_s={solve_s:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=50_000, help="pings through the service")
    parser.add_argument("--batch", type=int, default=500, help="pings per batch")
    parser.add_argument("--http-pings", type=int, default=10_000, help="pings through HTTP")
    args = parser.parse_args()
    vendor = setup()
    bench_ingest(args, vendor)
    bench_charging()


if __name__ == "__main__":
    main()
