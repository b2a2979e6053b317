"""Small hand-made routing problems on a straight road, where the right answer is obvious.

Location ``i`` sits ``xs[i]`` metres along the road; travel is 10 m/s, so 1 km takes 100 s.
"""

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


def van(vid: str = "v1", *, parcels: int = 100, **kwargs) -> Vehicle:
    kwargs.setdefault("shift", DAY)
    kwargs.setdefault("end", 0)
    return Vehicle(id=vid, start=0, capacity=Load(parcels=parcels), **kwargs)


def job(
    jid: str, location: int, *, parcels: int = 1, window: tuple[int, int] | None = None, **kw
) -> Job:
    if window is not None:
        kw["time_windows"] = (TimeWindow(*window),)
    return Job(id=jid, location=location, demand=Load(parcels=parcels), **kw)


def ortools(seconds: float = 1.0, **kwargs) -> SolverParams:
    return SolverParams(time_limit_s=seconds, backend=Backend.ORTOOLS, **kwargs)
