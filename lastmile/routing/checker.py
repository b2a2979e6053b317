"""An independent solution checker: recomputes every figure from the problem alone.

It reads only the order of visits in each route and rebuilds distances (full float
precision), the earliest schedule, loads, range and energy from the problem's matrices, then
lists every rule broken. Tests and benchmarks trust this, never the solver's own numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lastmile.routing.problem import Job, JobKind, Load, Problem, Vehicle
from lastmile.routing.solution import Route, Solution, Visit, VisitKind

EPS = 1e-6


@dataclass
class RouteFigures:
    vehicle_id: str
    distance_m: float
    duration_s: float
    energy_wh: float
    end_s: float
    max_load: Load
    trips: int
    late_s: float = 0.0  # lateness of soft-end jobs on the route, added up (allowed, not free)


@dataclass
class CheckReport:
    violations: list[str] = field(default_factory=list)
    routes: list[RouteFigures] = field(default_factory=list)
    # Soft-end jobs served after their last window closed: allowed, but the dispatcher wants
    # to know (the customer is told the parcel comes late).
    late_jobs: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def distance_m(self) -> float:
        return sum(r.distance_m for r in self.routes)

    @property
    def vehicles_used(self) -> int:
        return len(self.routes)


def check(problem: Problem, solution: Solution) -> CheckReport:
    """Every violated rule of ``solution`` against ``problem``, with recomputed figures."""
    report = CheckReport()
    jobs = problem.jobs_by_id()
    vehicles = {v.id: v for v in problem.vehicles}
    position: dict[str, tuple[str, int]] = {}  # job id -> (vehicle id, visit position)
    seen_vehicles: set[str] = set()

    for route in solution.routes:
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is None:
            report.violations.append(f"route for unknown vehicle {route.vehicle_id}")
            continue
        if vehicle.id in seen_vehicles:
            report.violations.append(f"vehicle {vehicle.id} has more than one route")
        seen_vehicles.add(vehicle.id)
        if not route.job_ids:
            continue
        for i, job_id in enumerate(route.job_ids):
            if job_id not in jobs:
                report.violations.append(f"{vehicle.id}: unknown job {job_id}")
            elif job_id in position:
                report.violations.append(f"job {job_id} is served twice")
            else:
                position[job_id] = (vehicle.id, i)
        report.routes.append(
            _check_route(problem, vehicle, route, jobs, report.violations, report.late_jobs)
        )

    unassigned = {u.job_id for u in solution.unassigned}
    for job_id in jobs:
        if job_id not in position and job_id not in unassigned:
            report.violations.append(f"job {job_id} is neither served nor reported unassigned")
        if job_id in position and job_id in unassigned:
            report.violations.append(f"job {job_id} is served and also reported unassigned")

    for shipment in problem.shipments:
        p, d = position.get(shipment.pickup.id), position.get(shipment.delivery.id)
        if (p is None) != (d is None):
            report.violations.append(f"shipment {shipment.id}: only one leg is served")
        elif p is not None and d is not None:
            if p[0] != d[0]:
                report.violations.append(f"shipment {shipment.id}: legs on different vehicles")
            elif p[1] > d[1]:
                report.violations.append(f"shipment {shipment.id}: delivered before picked up")

    for vehicle in problem.vehicles:
        route = solution.route_of(vehicle.id)
        served = route.job_ids if route else []
        head = served[: len(vehicle.fixed_sequence)]
        if list(vehicle.fixed_sequence) != head:
            report.violations.append(f"{vehicle.id}: fixed sequence not kept at the head")
    for job in jobs.values():
        if job.vehicle_id and job.id in position and position[job.id][0] != job.vehicle_id:
            report.violations.append(f"job {job.id} pinned to {job.vehicle_id}, served elsewhere")
    return report


def route_violations(problem: Problem, vehicle_id: str, job_ids: Sequence[str]) -> list[str]:
    """The rules broken by vehicle ``vehicle_id`` serving ``job_ids`` in this order, alone
    (its shift, windows, loads, skills and range; not what other routes or the unassigned
    list must add up to)."""
    vehicle = next(v for v in problem.vehicles if v.id == vehicle_id)
    jobs = problem.jobs_by_id()
    visits = [Visit(VisitKind.START, vehicle.start, 0.0, 0.0, 0.0)]
    visits += [Visit(VisitKind.JOB, jobs[j].location, 0.0, 0.0, 0.0, j) for j in job_ids]
    end = vehicle.start if vehicle.end is None else vehicle.end  # not read: no location
    visits.append(Visit(VisitKind.END, end, 0.0, 0.0, 0.0))
    route = Route(vehicle.id, tuple(visits), 0.0, 0.0, 0.0, 0.0)
    out: list[str] = []
    _check_route(problem, vehicle, route, jobs, out, [])
    return out


def _check_route(
    problem: Problem,
    vehicle: Vehicle,
    route: Route,
    jobs: dict[str, Job],
    out: list[str],
    late_jobs: list[str],
) -> RouteFigures:
    matrix = problem.matrices[vehicle.profile]
    shipment_legs = {j.id for s in problem.shipments for j in (s.pickup, s.delivery)}
    name = vehicle.id
    here = vehicle.start
    t = float(vehicle.shift.start_s)
    distance = 0.0
    # Leaving later than the shift start shortens the working day by the waiting it saves,
    # as far as no window is missed: delaying by d moves visit i's start by
    # max(0, d - waiting up to i), so d may reach min_i(waiting up to i + window end - start).
    waited_s = 0.0
    max_delay_s = float("inf")
    breaks = list(vehicle.breaks)
    taken_s = 0.0
    trips: list[list[Job]] = [[]]
    late_s = 0.0
    leave_s: float | None = None  # when the work in a row began: leaving, or the last break
    for visit in route.visits:
        if visit.kind in (VisitKind.START, VisitKind.END):
            continue
        if visit.kind == VisitKind.BREAK:
            if not breaks:
                out.append(f"{name}: a break the vehicle does not have")
                continue
            pause = breaks.pop(0)
            taken_s += pause.duration_s
            begin = max(t, pause.window.start_s)
            if begin > pause.window.end_s + EPS:
                out.append(f"{name}: break starts {begin:.0f}, after its window")
            # Before the first stop there is no work yet; otherwise it counts from leaving.
            worked_in_row = 0.0 if leave_s is None else begin - leave_s
            if pause.within_s is not None and worked_in_row > pause.within_s + EPS:
                out.append(
                    f"{name}: break starts after {worked_in_row:.0f} s of work in a row, "
                    f"more than {pause.within_s}"
                )
            waited_s += begin - t
            max_delay_s = min(max_delay_s, waited_s + pause.window.end_s - begin)
            t = begin + pause.duration_s
            leave_s = t
            continue
        if visit.kind == VisitKind.RELOAD:
            if vehicle.max_trips < 2:
                out.append(f"{name}: reloads but is not a multi-trip vehicle")
            target = vehicle.reload_at
            service = vehicle.reload_s
            job = None
        else:
            job = jobs.get(visit.job_id or "")
            if job is None:
                continue
            target = job.location
            service = job.service_s
        distance += matrix.distances_m[here][target]
        arrival = t + matrix.durations_s[here][target]
        start = arrival
        if job is not None:
            if not job.skills <= vehicle.skills:
                out.append(
                    f"{name}: lacks skills {sorted(job.skills - vehicle.skills)} for {job.id}"
                )
            if job.time_windows:
                window = next((w for w in job.time_windows if w.end_s + EPS >= arrival), None)
                if window is None and job.soft_end:
                    # Late is allowed here, and served on arrival; leaving any later would
                    # only make it later, so it also caps how late the vehicle may leave.
                    late_s += arrival - job.time_windows[-1].end_s
                    late_jobs.append(job.id)
                    max_delay_s = min(max_delay_s, waited_s)
                elif window is None:
                    out.append(
                        f"{name}: {job.id} reached at {arrival:.2f}, after its window "
                        f"closed at {job.time_windows[-1].end_s}"
                    )
                else:
                    start = max(arrival, window.start_s)
                    waited_s += start - arrival
                    max_delay_s = min(max_delay_s, waited_s + window.end_s - start)
            trips[-1].append(job)
        else:
            trips.append([])
        if leave_s is None:
            # The vehicle leaves when it must to start serving its first stop when it does.
            leave_s = start - matrix.durations_s[here][target]
        t = start + service
        here = target
    if vehicle.end is not None:
        distance += matrix.distances_m[here][vehicle.end]
        t += matrix.durations_s[here][vehicle.end]
    if t > vehicle.shift.end_s + EPS:
        out.append(f"{name}: back at {t:.2f}, after the shift ends at {vehicle.shift.end_s}")
    max_delay_s = min(max_delay_s, vehicle.shift.end_s - t + waited_s)
    duration = t - vehicle.shift.start_s - max(0.0, min(waited_s, max_delay_s))
    # Work is the route's time less the breaks taken; a break not taken is owed when the
    # route works longer than its threshold (a short route needs no break).
    work_s = duration - taken_s
    owed = [pause for pause in breaks if work_s > pause.after_work_s + EPS]
    if owed:
        out.append(f"{name}: {len(owed)} break(s) not taken, owed after {work_s:.0f} s of work")
    if vehicle.max_duration_s is not None and duration > vehicle.max_duration_s + EPS:
        out.append(f"{name}: works {duration:.0f} s, over its limit {vehicle.max_duration_s}")
    if vehicle.max_distance_m is not None and distance > vehicle.max_distance_m + EPS:
        out.append(f"{name}: drives {distance:.0f} m, over its limit {vehicle.max_distance_m}")
    energy = vehicle.energy.energy_wh(distance) if vehicle.energy else 0.0
    if vehicle.energy and energy > vehicle.energy.usable_wh + EPS:
        out.append(f"{name}: needs {energy:.0f} Wh, more than {vehicle.energy.usable_wh} usable")
    trips = [trip for trip in trips if trip]
    if len(trips) > vehicle.max_trips:
        out.append(f"{name}: {len(trips)} trips, more than its {vehicle.max_trips}")
    max_load = Load()
    for trip in trips:
        peak = _trip_peak_load(trip, shipment_legs)
        for dim, (need, have) in enumerate(
            zip(peak.as_tuple(), vehicle.capacity.as_tuple(), strict=True)
        ):
            if need > have:
                out.append(f"{name}: carries {need} {Load.DIMENSIONS[dim]}, capacity {have}")
        max_load = Load(
            *(max(a, b) for a, b in zip(max_load.as_tuple(), peak.as_tuple(), strict=True))
        )
    return RouteFigures(name, distance, duration, energy, t, max_load, len(trips), late_s)


def _trip_peak_load(trip: list[Job], shipment_legs: set[str]) -> Load:
    """The most the vehicle holds at any point of one trip, per dimension."""
    on_board = [0, 0, 0]
    for job in trip:
        if job.kind == JobKind.DELIVERY and job.id not in shipment_legs:
            on_board = [a + b for a, b in zip(on_board, job.demand.as_tuple(), strict=True)]
    peak = list(on_board)
    for job in trip:
        sign = 1 if job.kind == JobKind.PICKUP else -1
        on_board = [a + sign * b for a, b in zip(on_board, job.demand.as_tuple(), strict=True)]
        peak = [max(a, b) for a, b in zip(peak, on_board, strict=True)]
    return Load(*peak)
