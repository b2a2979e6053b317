"""Why a job was left out, and the cheapest change that would let it in.

Each job is tried alone on each vehicle (start → job → end, or pickup → delivery for a
shipment), constraint by constraint, so the reason given is the one that really blocks it:
skills, then capacity, then range, then the window, then the shift. A soft-end job may be
served late, so its window never blocks it (the shift still may). A job that fits some
vehicle alone was dropped for cost: the plan had no room for it worth its price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lastmile.routing.problem import Job, Load, Problem, Shipment, Vehicle
from lastmile.routing.solution import Unassigned, UnassignedReason

EPS = 1e-6


@dataclass(frozen=True, slots=True)
class _Trial:
    """One vehicle serving the job(s) alone: how far, and when it could start each leg."""

    distance_m: float
    start_s: list[float]  # earliest service start at each job, in order
    late_by_s: float  # how far the tightest hard window is missed (0 when all are met)
    back_s: float  # earliest arrival at the end
    window_job: Job | None  # the job whose window is missed


def _fmt_time(seconds: float) -> str:
    s = math.ceil(seconds)
    day, s = divmod(s, 86_400)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}"
    return f"{text} (+{day}d)" if day else text


def _try_alone(problem: Problem, vehicle: Vehicle, jobs: Sequence[Job]) -> _Trial:
    matrix = problem.matrices[vehicle.profile]
    t = float(vehicle.shift.start_s)
    here = vehicle.start
    distance = 0.0
    starts: list[float] = []
    late_by = 0.0
    window_job: Job | None = None
    for job in jobs:
        distance += matrix.distances_m[here][job.location]
        arrival = t + matrix.durations_s[here][job.location]
        open_windows = [w for w in job.time_windows if w.end_s + EPS >= arrival]
        if job.time_windows and not open_windows:
            # A soft-end job is served late, on arrival: that is allowed, not a blocker.
            miss = 0.0 if job.soft_end else arrival - job.time_windows[-1].end_s
            if miss > late_by:
                late_by, window_job = miss, job
            start = arrival
        else:
            start = max(arrival, open_windows[0].start_s) if open_windows else arrival
        starts.append(start)
        t = start + job.service_s
        here = job.location
    if vehicle.end is not None:
        distance += matrix.distances_m[here][vehicle.end]
        back = t + matrix.durations_s[here][vehicle.end]
    else:
        back = t
    return _Trial(distance, starts, late_by, back, window_job)


def _suitable_by_skill(problem: Problem, jobs: Sequence[Job]) -> list[Vehicle]:
    needed = frozenset().union(*(j.skills for j in jobs))
    pinned = {j.vehicle_id for j in jobs if j.vehicle_id is not None}
    out = []
    for v in problem.vehicles:
        if pinned and v.id not in pinned:
            continue
        if needed <= v.skills:
            out.append(v)
    return out


def _blocker(problem: Problem, job_id: str, jobs: Sequence[Job]) -> Unassigned | None:
    """The first constraint that no vehicle can meet for these jobs served alone, if any."""
    needed = frozenset().union(*(j.skills for j in jobs))
    vehicles = _suitable_by_skill(problem, jobs)
    if not vehicles:
        if any(j.vehicle_id for j in jobs):
            return Unassigned(
                job_id,
                UnassignedReason.NO_SKILL,
                "pinned to a vehicle that lacks a required skill",
                "unpin it or give the vehicle the skill",
            )
        wanted = ", ".join(sorted(needed))
        return Unassigned(
            job_id,
            UnassignedReason.NO_SKILL,
            f"no vehicle offers every required skill ({wanted})",
            f"add a vehicle with {wanted}",
        )

    demand = max((j.demand for j in jobs), key=Load.as_tuple)
    fitting = [v for v in vehicles if demand.fits_in(v.capacity)]
    if not fitting:
        largest = max(vehicles, key=lambda v: v.capacity.as_tuple())
        over = [
            f"{name} {need} > {have}"
            for name, need, have in zip(
                Load.DIMENSIONS, demand.as_tuple(), largest.capacity.as_tuple(), strict=True
            )
            if need > have
        ]
        return Unassigned(
            job_id,
            UnassignedReason.CAPACITY,
            f"demand exceeds every suitable vehicle ({', '.join(over)} on {largest.id})",
            "a vehicle with capacity of at least "
            + ", ".join(
                f"{n} {d}" for n, d in zip(Load.DIMENSIONS, demand.as_tuple(), strict=True) if d
            ),
        )

    trials = {v.id: _try_alone(problem, v, jobs) for v in fitting}
    in_range = [v for v in fitting if trials[v.id].distance_m <= v.range_m + EPS]
    if not in_range:
        need_m = min(trials[v.id].distance_m for v in fitting)
        best_range = max(v.range_m for v in fitting)
        return Unassigned(
            job_id,
            UnassignedReason.RANGE,
            f"the round trip is {need_m / 1000:.1f} km, beyond every suitable vehicle's range "
            f"(longest {best_range / 1000:.1f} km)",
            f"a vehicle with at least {math.ceil(need_m / 1000)} km of range",
        )

    on_time = [v for v in in_range if trials[v.id].late_by_s <= EPS]
    if not on_time:
        best = min(in_range, key=lambda v: trials[v.id].late_by_s)
        trial = trials[best.id]
        missed = trial.window_job or jobs[-1]
        return Unassigned(
            job_id,
            UnassignedReason.WINDOW,
            f"the window of {missed.id} closes {_fmt_time(missed.time_windows[-1].end_s)}, "
            f"but even alone a vehicle arrives {_fmt_time(missed.time_windows[-1].end_s + trial.late_by_s)} at the earliest",
            f"a window open until {_fmt_time(missed.time_windows[-1].end_s + trial.late_by_s)} or later",
        )

    def shift_ok(v: Vehicle) -> bool:
        trial = trials[v.id]
        duration = trial.back_s - v.shift.start_s
        # Waiting before the first stop is not worked time: the driver may leave later.
        first_wait = max(
            0.0, trial.start_s[0] - (v.shift.start_s + _first_leg_s(problem, v, jobs[0]))
        )
        worked = duration - first_wait
        if v.max_duration_s is not None and worked > v.max_duration_s + EPS:
            return False
        return trial.back_s <= v.shift.end_s + EPS

    if not any(shift_ok(v) for v in on_time):
        best = min(on_time, key=lambda v: trials[v.id].back_s - v.shift.end_s)
        back = trials[best.id].back_s
        return Unassigned(
            job_id,
            UnassignedReason.SHIFT,
            f"reachable in time, but no shift is long enough to get back "
            f"(earliest return {_fmt_time(back)}, {best.id}'s shift ends "
            f"{_fmt_time(best.shift.end_s)})",
            f"a shift ending at {_fmt_time(back)} or later",
        )
    return None


def _first_leg_s(problem: Problem, vehicle: Vehicle, job: Job) -> float:
    return problem.matrices[vehicle.profile].durations_s[vehicle.start][job.location]


def blocker_of(problem: Problem, item: Job | Shipment) -> Unassigned | None:
    """Why this job (or shipment, both legs in order) cannot be served even alone, if so."""
    if isinstance(item, Shipment):
        return _blocker(problem, item.id, [item.pickup, item.delivery])
    return _blocker(problem, item.id, [item])


def explain_unassigned(problem: Problem, job_ids: Iterable[str]) -> list[Unassigned]:
    """An explanation for each left-out job; a shipment leg is explained by its shipment."""
    jobs = problem.jobs_by_id()
    shipments = problem.shipment_of()
    out: list[Unassigned] = []
    for job_id in job_ids:
        item: Job | Shipment = shipments.get(job_id) or jobs[job_id]
        blocked = blocker_of(problem, item)
        if blocked is not None:
            out.append(Unassigned(job_id, blocked.reason, blocked.detail, blocked.fix))
        else:
            out.append(
                Unassigned(
                    job_id,
                    UnassignedReason.DROPPED_FOR_COST,
                    "feasible on its own, but no route had room for it at a cost "
                    "below its penalty (capacity, windows or shifts were used up)",
                    "another vehicle or courier, or a wider window",
                )
            )
    return out
