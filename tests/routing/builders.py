"""Small hand-made routing problems where the right answer is obvious.

On a straight road location ``i`` sits ``xs[i]`` metres along it; on a plane it sits at
``points[i]`` (metres east, north). Vans travel 10 m/s (1 km in 100 s), bikes 5 m/s.
"""

import math

from lastmile.routing.params import Backend, SolverParams
from lastmile.routing.problem import (
    Job,
    Load,
    Location,
    Problem,
    Shipment,
    TimeWindow,
    TravelMatrix,
    Vehicle,
)

SPEED_MPS = 10.0
DAY = TimeWindow(0, 86_400)


def road(xs: list[float]) -> tuple[tuple[Location, ...], TravelMatrix]:
    locations = tuple(Location(52.5, 13.0 + i * 1e-3) for i in range(len(xs)))
    dist = tuple(tuple(abs(a - b) for b in xs) for a in xs)
    times = tuple(tuple(d / SPEED_MPS for d in row) for row in dist)
    return locations, TravelMatrix(dist, times)


def problem(
    xs: list[float],
    jobs: list[Job],
    vehicles: list[Vehicle],
    shipments: list[Shipment] = (),
    profiles: tuple[str, ...] = ("van",),
) -> Problem:
    locations, matrix = road(xs)
    return Problem(
        locations=locations,
        jobs=tuple(jobs),
        vehicles=tuple(vehicles),
        matrices=dict.fromkeys(profiles, matrix),
        shipments=tuple(shipments),
    )


def plane(points: list[tuple[float, float]], speed: float = SPEED_MPS) -> TravelMatrix:
    dist = tuple(tuple(math.dist(a, b) for b in points) for a in points)
    return TravelMatrix(dist, tuple(tuple(d / speed for d in row) for row in dist))


def plane_problem(points, jobs, vehicles, shipments=()) -> Problem:
    locations = tuple(Location(52.5 + y * 1e-5, 13.4 + x * 1e-5) for x, y in points)
    return Problem(
        locations=locations,
        jobs=tuple(jobs),
        vehicles=tuple(vehicles),
        matrices={"van": plane(points), "bike": plane(points, speed=SPEED_MPS / 2)},
        shipments=tuple(shipments),
    )


def van(vid: str = "v1", *, parcels: int = 100, **kwargs) -> Vehicle:
    kwargs.setdefault("shift", DAY)
    kwargs.setdefault("end", 0)
    return Vehicle(id=vid, start=0, capacity=Load(parcels=parcels), **kwargs)


def job(
    jid: str,
    location: int,
    *,
    parcels: int = 1,
    window: tuple[int, int] | None = None,
    windows: tuple[tuple[int, int], ...] = (),
    **kw,
) -> Job:
    spans = ((window,) if window is not None else ()) + tuple(windows)
    if spans:
        kw["time_windows"] = tuple(TimeWindow(*w) for w in spans)
    return Job(id=jid, location=location, demand=Load(parcels=parcels), **kw)


def ortools(seconds: float = 1.0, **kwargs) -> SolverParams:
    return SolverParams(time_limit_s=seconds, backend=Backend.ORTOOLS, **kwargs)
