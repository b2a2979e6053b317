"""What the engine hands back: routes of visits, split into trips, and the jobs it left out.

Figures here are the solver's own; ``checker.check`` recomputes them from the problem, and
the benchmark and tests trust only the checker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class VisitKind(StrEnum):
    START = "start"  # leaves its start location
    JOB = "job"  # serves a job (delivery or pickup)
    RELOAD = "reload"  # back at the hub to reload between trips
    BREAK = "break"  # driver's pause (location: where it was taken)
    END = "end"  # arrives at its end location (or its last stop on an open route)


@dataclass(frozen=True, slots=True)
class Visit:
    kind: VisitKind
    location: int
    arrival_s: float  # reaches the location
    start_s: float  # service starts (after waiting for the window)
    departure_s: float  # leaves
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """One vehicle's day: visits in order, from START to END."""

    vehicle_id: str
    visits: tuple[Visit, ...]
    distance_m: float
    duration_s: float
    energy_wh: float
    cost: float

    @property
    def job_ids(self) -> list[str]:
        return [v.job_id for v in self.visits if v.kind == VisitKind.JOB and v.job_id]

    @property
    def trips(self) -> list[list[Visit]]:
        """The job visits of each trip out of the hub (a reload closes a trip)."""
        trips: list[list[Visit]] = [[]]
        for visit in self.visits:
            if visit.kind == VisitKind.RELOAD:
                trips.append([])
            elif visit.kind == VisitKind.JOB:
                trips[-1].append(visit)
        return [t for t in trips if t]


class UnassignedReason(StrEnum):
    NO_SKILL = "no_skill"  # no vehicle offers every skill the job needs
    CAPACITY = "capacity"  # demand exceeds every suitable vehicle's capacity
    RANGE = "range"  # beyond every suitable vehicle's range (distance limit or battery)
    WINDOW = "window"  # the window cannot be reached from the hub even by a vehicle going alone
    SHIFT = "shift"  # reachable in time, but no shift is long enough to get there and back
    DROPPED_FOR_COST = "dropped_for_cost"  # feasible alone; the plan had no room worth its cost


@dataclass(frozen=True, slots=True)
class Unassigned:
    job_id: str
    reason: UnassignedReason
    detail: str
    fix: str | None = None  # the cheapest change that would make it feasible, where one exists


@dataclass(frozen=True, slots=True)
class Progress:
    """Reported while the solver runs, for progress bars."""

    fraction: float  # share of the time limit used, 0..1
    best_cost: float | None  # best objective so far (None until a first solution)
    phase: str = "search"


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class Solution:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    objective: float
    backend: str
    solve_s: float
    stats: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def distance_m(self) -> float:
        return sum(r.distance_m for r in self.routes)

    @property
    def vehicles_used(self) -> int:
        return sum(1 for r in self.routes if r.job_ids)

    def route_of(self, vehicle_id: str) -> Route | None:
        return next((r for r in self.routes if r.vehicle_id == vehicle_id), None)
