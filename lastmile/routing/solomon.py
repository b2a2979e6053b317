"""Read Solomon VRPTW instances (classic text format) into the engine's problem model.

Distances are Euclidean in full precision and travel time equals distance, as in every
published result; the instance's coordinates are kept as a tiny degree box only so each
location is a valid ``Location``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from lastmile.routing.problem import Job, Load, Location, Problem, TimeWindow, TravelMatrix, Vehicle

PROFILE = "solomon"


@dataclass(frozen=True, slots=True)
class BestKnown:
    vehicles: int
    distance: float


def read_instance(path: Path) -> Problem:
    """Depot is row 0; every customer a delivery of ``DEMAND`` with its window and service."""
    lines = [line.split() for line in path.read_text().splitlines()]
    rows = [parts for parts in lines if parts]
    try:
        header = next(i for i, parts in enumerate(rows) if parts[:2] == ["NUMBER", "CAPACITY"])
        fleet, capacity = int(rows[header + 1][0]), int(rows[header + 1][1])
        customers = [
            [float(x) for x in parts]
            for parts in rows[header + 2 :]
            if len(parts) == 7 and parts[0].isdigit()
        ]
    except (StopIteration, ValueError, IndexError) as exc:
        raise ValueError(f"{path.name}: not a Solomon instance ({exc})") from exc
    points = [(c[1], c[2]) for c in customers]
    dist = tuple(tuple(math.hypot(ax - bx, ay - by) for bx, by in points) for ax, ay in points)
    depot = customers[0]
    horizon = TimeWindow(int(depot[4]), int(depot[5]))
    jobs = tuple(
        Job(
            id=str(int(c[0])),
            location=i,
            demand=Load(parcels=int(c[3])),
            time_windows=(TimeWindow(int(c[4]), int(c[5])),),
            service_s=int(c[6]),
        )
        for i, c in enumerate(customers)
        if i > 0
    )
    vehicles = tuple(
        Vehicle(
            id=f"v{k + 1}",
            start=0,
            end=0,
            shift=horizon,
            capacity=Load(parcels=capacity),
            profile=PROFILE,
        )
        for k in range(fleet)
    )
    return Problem(
        locations=tuple(Location(y / 1000, x / 1000) for x, y in points),
        jobs=jobs,
        vehicles=vehicles,
        matrices={PROFILE: TravelMatrix(dist, dist)},
    )


def read_best_known(path: Path) -> dict[str, BestKnown]:
    """``instance,vehicles,distance,source`` rows keyed by instance name."""
    with path.open(newline="") as handle:
        return {
            row["instance"]: BestKnown(int(row["vehicles"]), float(row["distance"]))
            for row in csv.DictReader(handle)
        }
