"""The routing problem: what dispatch hands the engine.

Plain frozen dataclasses, no Django. Units are in the names: metres, seconds, grams, Wh.
Times are whole seconds on one clock chosen by the caller (dispatch uses seconds since
midnight of the service day in the hub's zone). Every value is checked on construction, so a
bad problem fails loudly where it is built, not deep inside the solver.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ProblemError(ValueError):
    """The problem handed to the engine is inconsistent (a caller's bug or bad data)."""


@dataclass(frozen=True, slots=True)
class Location:
    """A point on the map in WGS84 degrees."""

    lat: float
    lng: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0) or not (-180.0 <= self.lng <= 180.0):
            raise ProblemError(f"coordinates out of range: {self.lat}, {self.lng}")


@dataclass(frozen=True, slots=True)
class Load:
    """An amount in each capacity dimension; used for demands and for capacities."""

    weight_g: int = 0
    volume_cm3: int = 0
    parcels: int = 0

    DIMENSIONS = ("weight_g", "volume_cm3", "parcels")

    def __post_init__(self) -> None:
        if min(self.weight_g, self.volume_cm3, self.parcels) < 0:
            raise ProblemError(f"negative load: {self}")

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.weight_g, self.volume_cm3, self.parcels)

    def fits_in(self, capacity: Load) -> bool:
        return all(a <= b for a, b in zip(self.as_tuple(), capacity.as_tuple(), strict=True))

    def __add__(self, other: Load) -> Load:
        return Load(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def __sub__(self, other: Load) -> Load:
        # Differences may be negative mid-computation, so bypass the non-negative check.
        values = [a - b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)]
        out = object.__new__(Load)
        for name, value in zip(Load.DIMENSIONS, values, strict=True):
            object.__setattr__(out, name, value)
        return out


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Service must start within [start_s, end_s]; arriving earlier means waiting."""

    start_s: int
    end_s: int

    def __post_init__(self) -> None:
        if self.end_s < self.start_s:
            raise ProblemError(f"time window ends before it starts: {self}")


class JobKind(StrEnum):
    DELIVERY = "delivery"  # goods leave the vehicle here (loaded at the start or a pickup)
    PICKUP = "pickup"  # goods board the vehicle here (returned to the hub or a paired delivery)


# Priorities weigh what dropping a job costs: an urgent job is never dropped to keep a normal one.
PRIORITY_NORMAL = 1
PRIORITY_HIGH = 2
PRIORITY_URGENT = 3
# How much more dropping a job costs by priority, in both backends' drop penalties.
PRIORITY_WEIGHT = {PRIORITY_NORMAL: 1, PRIORITY_HIGH: 10, PRIORITY_URGENT: 100}


@dataclass(frozen=True, slots=True)
class Job:
    """One stop to make: deliver to, or collect from, a location.

    ``vehicle_id`` pins the job to a vehicle anywhere in its route (parcels already loaded on
    it); a vehicle's ``fixed_sequence`` pins jobs to the head of its route in order.

    Re-planning a live day adds two softer wishes. ``preferred_vehicle_id`` names the vehicle
    that holds the job in the current plan: serving it elsewhere costs
    ``SolverParams.move_cost``, so a re-plan changes only what is worth changing.
    ``soft_end`` lets the last window's end be missed (a parcel already on the vehicle is
    delivered late rather than not at all); the start of every window still holds.
    """

    id: str
    location: int
    kind: JobKind = JobKind.DELIVERY
    demand: Load = field(default_factory=Load)
    time_windows: tuple[TimeWindow, ...] = ()
    service_s: int = 0
    skills: frozenset[str] = frozenset()
    priority: int = PRIORITY_NORMAL
    vehicle_id: str | None = None
    preferred_vehicle_id: str | None = None
    soft_end: bool = False

    def __post_init__(self) -> None:
        if self.service_s < 0:
            raise ProblemError(f"job {self.id}: negative service time")
        if self.priority not in (PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_URGENT):
            raise ProblemError(f"job {self.id}: priority must be 1, 2 or 3")
        windows = sorted(self.time_windows, key=lambda w: w.start_s)
        for a, b in itertools.pairwise(windows):
            if b.start_s <= a.end_s:
                raise ProblemError(f"job {self.id}: time windows overlap")
        object.__setattr__(self, "time_windows", tuple(windows))


@dataclass(frozen=True, slots=True)
class Shipment:
    """A pickup and a delivery served by the same vehicle, pickup first.

    The delivery's ``demand`` is what rides between them; the pickup carries the same.
    """

    id: str
    pickup: Job
    delivery: Job

    def __post_init__(self) -> None:
        if self.pickup.kind != JobKind.PICKUP or self.delivery.kind != JobKind.DELIVERY:
            raise ProblemError(f"shipment {self.id}: needs a pickup job then a delivery job")
        if self.pickup.demand != self.delivery.demand:
            raise ProblemError(f"shipment {self.id}: pickup and delivery demand differ")


@dataclass(frozen=True, slots=True)
class Break:
    """An unpaid pause of ``duration_s`` that must start within ``window``.

    ``after_work_s`` makes it owed only by a route that works longer than that: its time from
    leaving to coming back, less the breaks it takes (a working-time rule: 30 minutes after
    six hours). A shorter route may skip it; 0 means every route with a stop takes it. A
    vehicle's breaks are taken in their order, so a later break never stands in for an
    earlier one.

    ``within_s`` bounds the work before it: the break starts no later than that after the
    route leaves (for the first; the vehicle leaves when it must to serve its first stop
    when service starts there) or after the previous break ends (no more than six hours of
    work in a row). Measured from the route, not the clock, so a route leaving late is not
    asked to pause early.
    """

    window: TimeWindow
    duration_s: int
    after_work_s: int = 0
    within_s: int | None = None

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ProblemError(f"break {self}: duration must be positive")
        if self.after_work_s < 0:
            raise ProblemError(f"break {self}: after_work_s must not be negative")
        if self.within_s is not None and self.within_s <= 0:
            raise ProblemError(f"break {self}: within_s must be positive")


@dataclass(frozen=True, slots=True)
class EnergyModel:
    """Battery the route may use (usable Wh, after reserve) and consumption per km."""

    usable_wh: int
    wh_per_km: float

    def __post_init__(self) -> None:
        if self.usable_wh <= 0 or self.wh_per_km <= 0:
            raise ProblemError("energy model needs positive usable_wh and wh_per_km")

    def energy_wh(self, distance_m: float) -> float:
        return distance_m * self.wh_per_km / 1000.0

    @property
    def range_m(self) -> float:
        return self.usable_wh * 1000.0 / self.wh_per_km


@dataclass(frozen=True, slots=True)
class Costs:
    """What running the vehicle costs, in minor units of one currency."""

    fixed: int = 0
    per_km: int = 0
    per_hour: int = 0

    @property
    def is_zero(self) -> bool:
        return self.fixed == 0 and self.per_km == 0 and self.per_hour == 0


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A vehicle with its driver's shift.

    ``start``/``end`` are location indices; ``end=None`` is an open route (it ends at its last
    stop). ``max_trips > 1`` lets it return to ``reload_location`` (default: its start) to
    reload, spending ``reload_s`` there, and go out again within the shift.
    """

    id: str
    start: int
    shift: TimeWindow
    capacity: Load
    end: int | None = None
    profile: str = "van"
    skills: frozenset[str] = frozenset()
    breaks: tuple[Break, ...] = ()
    max_duration_s: int | None = None
    max_distance_m: int | None = None
    energy: EnergyModel | None = None
    costs: Costs = field(default_factory=Costs)
    max_trips: int = 1
    reload_location: int | None = None
    reload_s: int = 0
    fixed_sequence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_trips < 1:
            raise ProblemError(f"vehicle {self.id}: max_trips must be at least 1")
        if self.max_duration_s is not None and self.max_duration_s <= 0:
            raise ProblemError(f"vehicle {self.id}: max_duration_s must be positive")
        if self.max_distance_m is not None and self.max_distance_m <= 0:
            raise ProblemError(f"vehicle {self.id}: max_distance_m must be positive")

    @property
    def reload_at(self) -> int:
        return self.start if self.reload_location is None else self.reload_location

    @property
    def range_m(self) -> float:
        """How far it may drive today: the tighter of distance limit and battery."""
        limits = [math.inf]
        if self.max_distance_m is not None:
            limits.append(float(self.max_distance_m))
        if self.energy is not None:
            limits.append(self.energy.range_m)
        return min(limits)


@dataclass(frozen=True, slots=True)
class TravelMatrix:
    """Distances (m) and travel times (s) between every pair of the problem's locations."""

    distances_m: tuple[tuple[float, ...], ...]
    durations_s: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        n = len(self.distances_m)
        if len(self.durations_s) != n or any(
            len(r) != n for r in (*self.distances_m, *self.durations_s)
        ):
            raise ProblemError("travel matrix must be square, distances and durations alike")

    @property
    def size(self) -> int:
        return len(self.distances_m)


@dataclass(frozen=True, slots=True)
class Problem:
    """Locations, the jobs to serve, the vehicles to serve them, and a matrix per profile."""

    locations: tuple[Location, ...]
    jobs: tuple[Job, ...]
    vehicles: tuple[Vehicle, ...]
    matrices: Mapping[str, TravelMatrix]
    shipments: tuple[Shipment, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.locations)
        for profile, matrix in self.matrices.items():
            if matrix.size != n:
                raise ProblemError(f"matrix {profile!r} has {matrix.size} rows, need {n}")
        ids = [j.id for j in self.all_jobs]
        if len(ids) != len(set(ids)):
            raise ProblemError("job ids must be unique (shipment legs included)")
        vehicle_ids = {v.id for v in self.vehicles}
        if len(vehicle_ids) != len(self.vehicles):
            raise ProblemError("vehicle ids must be unique")
        known = set(ids)
        for job in self.all_jobs:
            if not 0 <= job.location < n:
                raise ProblemError(f"job {job.id}: location index {job.location} out of range")
            if job.vehicle_id is not None and job.vehicle_id not in vehicle_ids:
                raise ProblemError(f"job {job.id}: pinned to unknown vehicle {job.vehicle_id}")
            preferred = job.preferred_vehicle_id
            if preferred is not None and preferred not in vehicle_ids:
                raise ProblemError(f"job {job.id}: prefers unknown vehicle {preferred}")
        for v in self.vehicles:
            if v.profile not in self.matrices:
                raise ProblemError(f"vehicle {v.id}: no travel matrix for profile {v.profile!r}")
            for loc in (v.start, v.end, v.reload_location):
                if loc is not None and not 0 <= loc < n:
                    raise ProblemError(f"vehicle {v.id}: location index {loc} out of range")
            unknown = set(v.fixed_sequence) - known
            if unknown:
                raise ProblemError(f"vehicle {v.id}: fixed jobs not in the problem: {unknown}")
        fixed = [j for v in self.vehicles for j in v.fixed_sequence]
        if len(fixed) != len(set(fixed)):
            raise ProblemError("a job is fixed on more than one vehicle")

    @property
    def all_jobs(self) -> tuple[Job, ...]:
        """Single jobs, then both legs of every shipment."""
        legs = tuple(j for s in self.shipments for j in (s.pickup, s.delivery))
        return self.jobs + legs

    def jobs_by_id(self) -> dict[str, Job]:
        return {j.id: j for j in self.all_jobs}

    def shipment_of(self) -> dict[str, Shipment]:
        """Each shipment leg's id mapped to its shipment."""
        return {j.id: s for s in self.shipments for j in (s.pickup, s.delivery)}

    @property
    def has_preferences(self) -> bool:
        """Whether any job names the vehicle it would rather stay on."""
        return any(j.preferred_vehicle_id is not None for j in self.all_jobs)

    def moved_from_preferred(self, served_by: Mapping[str, str]) -> list[str]:
        """Ids of served jobs whose vehicle (``served_by``: job id -> vehicle id) is not the
        one they prefer. Unassigned jobs are not moved: they are absent from ``served_by``."""
        return [
            j.id
            for j in self.all_jobs
            if j.preferred_vehicle_id is not None
            and j.id in served_by
            and served_by[j.id] != j.preferred_vehicle_id
        ]
