"""A generated city day for benchmarks and tests: deliveries over Berlin with booked slots.

Real districts with their real centres, customers scattered around them, two-hour delivery
slots between 08:00 and 20:00 (evening slots more popular, as in home delivery), a few
all-day business windows, parcels of realistic size, and a van fleet from one hub.
"""

from __future__ import annotations

import math
import random

from lastmile.routing.matrix import HaversineProvider, build_matrices
from lastmile.routing.problem import (
    PRIORITY_HIGH,
    PRIORITY_NORMAL,
    Costs,
    EnergyModel,
    Job,
    Load,
    Location,
    Problem,
    TimeWindow,
    Vehicle,
)

# District centres (lat, lng) and a rough share of the city's orders.
DISTRICTS = [
    ("Mitte", 52.5200, 13.4050, 0.12),
    ("Friedrichshain-Kreuzberg", 52.5000, 13.4300, 0.13),
    ("Pankow", 52.5690, 13.4010, 0.11),
    ("Charlottenburg-Wilmersdorf", 52.5050, 13.3030, 0.10),
    ("Spandau", 52.5350, 13.2000, 0.06),
    ("Steglitz-Zehlendorf", 52.4340, 13.2420, 0.08),
    ("Tempelhof-Schöneberg", 52.4700, 13.3850, 0.10),
    ("Neukölln", 52.4810, 13.4350, 0.10),
    ("Treptow-Köpenick", 52.4430, 13.5750, 0.06),
    ("Marzahn-Hellersdorf", 52.5370, 13.6040, 0.05),
    ("Lichtenberg", 52.5150, 13.4990, 0.05),
    ("Reinickendorf", 52.5890, 13.3280, 0.04),
]
HUB = Location(52.5120, 13.4200)  # a depot near Ostbahnhof
HOUR = 3600
SLOTS = [(h * HOUR, (h + 2) * HOUR) for h in range(8, 20, 2)]
SLOT_WEIGHTS = [0.12, 0.12, 0.14, 0.16, 0.22, 0.24]


def city_instance(*, jobs: int = 1000, vehicles: int = 45, seed: int = 7) -> Problem:
    """A reproducible day: ``jobs`` deliveries, ``vehicles`` e-vans from one hub."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    locations = [HUB]
    job_list: list[Job] = []
    weights = [d[3] for d in DISTRICTS]
    for i in range(jobs):
        _, lat, lng, _ = rng.choices(DISTRICTS, weights)[0]
        # Scatter within about 2.5 km of the district centre.
        radius = 2500 * math.sqrt(rng.random())
        angle = rng.random() * 2 * math.pi
        dlat = radius * math.cos(angle) / 111_320
        dlng = radius * math.sin(angle) / (111_320 * math.cos(math.radians(lat)))
        locations.append(Location(round(lat + dlat, 6), round(lng + dlng, 6)))
        if rng.random() < 0.1:
            window = TimeWindow(9 * HOUR, 17 * HOUR)  # a business, open all day
        else:
            window = TimeWindow(*rng.choices(SLOTS, SLOT_WEIGHTS)[0])
        parcels = 1 if rng.random() < 0.75 else rng.randint(2, 4)
        job_list.append(
            Job(
                id=f"o{i + 1}",
                location=i + 1,
                demand=Load(
                    weight_g=sum(rng.randint(300, 8000) for _ in range(parcels)),
                    volume_cm3=sum(rng.randint(1500, 40_000) for _ in range(parcels)),
                    parcels=parcels,
                ),
                time_windows=(window,),
                service_s=rng.randint(120, 300),
                priority=PRIORITY_HIGH if rng.random() < 0.03 else PRIORITY_NORMAL,
            )
        )
    fleet = tuple(
        Vehicle(
            id=f"van{k + 1:02d}",
            start=0,
            end=0,
            shift=TimeWindow(7 * HOUR + 30 * 60, 21 * HOUR),
            capacity=Load(weight_g=900_000, volume_cm3=4_500_000, parcels=120),
            profile="van",
            max_duration_s=10 * HOUR,
            energy=EnergyModel(usable_wh=60_000, wh_per_km=220),
            costs=Costs(fixed=3000, per_km=25, per_hour=2400),
        )
        for k in range(vehicles)
    )
    locs = tuple(locations)
    return Problem(
        locations=locs,
        jobs=tuple(job_list),
        vehicles=fleet,
        matrices=build_matrices(locs, HaversineProvider(), {"van"}),
    )
