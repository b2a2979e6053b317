"""The PyVRP backend: capacities, time windows, ranges, open routes and multi-trip on PyVRP.

PyVRP's iterated local search finds better plans than OR-Tools in the same time, but its
model is narrower; ``unsupported_reason`` says when a problem does not fit it, and the caller
then uses OR-Tools. Jobs that no vehicle could serve even alone stay out of the model and are
explained; the rest are optional clients with a prize far above any cost of serving them, so
an overfull day drops jobs instead of failing, and a servable job is never dropped to save
cost. PyVRP works on integers: the returned routes are rescheduled on the float matrix.

PyVRP has no drivers' breaks: each route is planned to be back early by the breaks it may
owe, then each owed break is placed where it costs least (ideally while the van would wait
for a window anyway), and a route that cannot take it hands one job to another route.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pyvrp
from pyvrp import (
    ActivityType,
    Client,
    ClientGroup,
    CostEvaluator,
    Depot,
    IteratedLocalSearch,
    IteratedLocalSearchCallbacks,
    IteratedLocalSearchParams,
    PenaltyParams,
    ProblemData,
    SolveParams,
    VehicleType,
)
from pyvrp.stop import MaxRuntime

from lastmile.routing.explain import blocker_of, explain_unassigned
from lastmile.routing.params import Objective, SolverParams, resolve_objective, throttled
from lastmile.routing.problem import (
    PRIORITY_WEIGHT,
    Break,
    Job,
    JobKind,
    Load,
    Problem,
    Shipment,
    TimeWindow,
    Vehicle,
)
from lastmile.routing.solution import (
    Progress,
    Route,
    Solution,
    Unassigned,
    Visit,
    VisitKind,
)

logger = logging.getLogger(__name__)

# Keep the sum of all prizes, costs and penalties well inside PyVRP's signed 64-bit costs.
MAX_TOTAL_COST = 2**60
# PyVRP money units per unit of the largest per-metre or per-second rate (see below).
COST_RESOLUTION = 1000
PROGRESS_EVERY_S = 0.5
# A route that cannot take its break gives up at most this many jobs to other routes.
MAX_MOVED_FOR_BREAK = 20
EPS = 1e-6


class BackendFailed(RuntimeError):
    """PyVRP found no feasible plan; the caller may fall back to OR-Tools."""


def unsupported_reason(problem: Problem, params: SolverParams) -> str | None:
    """Why PyVRP cannot solve ``problem`` exactly under our model, or None if it can.

    PyVRP 0.14 has no pinned jobs or fixed sequences, no per-client cost of serving a job off
    its preferred vehicle and no soft window ends. It has no breaks either, but those are
    placed into its routes afterwards (see ``_with_breaks``). Skills are modelled through
    profiles (see ``_build``); a job whose skills no vehicle offers is left out and explained.
    Several windows on a job become a mutually exclusive client group. A PyVRP shipment must
    be served within one trip, narrower than our model once a vehicle reloads.
    """
    vehicles = problem.vehicles
    if any(v.fixed_sequence for v in vehicles):
        return "vehicles with a fixed sequence of jobs"
    jobs = problem.all_jobs
    if any(j.vehicle_id is not None for j in jobs):
        return "jobs pinned to a vehicle"
    if params.move_cost > 0 and problem.has_preferences:
        return "jobs with a preferred vehicle"
    if any(j.soft_end and j.time_windows for j in jobs):
        return "jobs with a soft window end"
    if problem.shipments:
        if any(v.max_trips > 1 for v in vehicles):
            return "shipments with multi-trip vehicles (PyVRP keeps a shipment within one trip)"
        for shipment in problem.shipments:
            if any(len(leg.time_windows) > 1 for leg in (shipment.pickup, shipment.delivery)):
                return f"shipment {shipment.id} has a leg with more than one time window"
    return None


@dataclass(frozen=True, slots=True)
class _Stop:
    """What a PyVRP client or shipment leg stands for."""

    job: Job
    window: TimeWindow | None  # the one window this copy of the job is served in


@dataclass
class _Model:
    """The ProblemData and the way back from its indices to our jobs and vehicles."""

    data: ProblemData
    objective: Objective
    cost_unit: float  # PyVRP cost units per unit of our objective
    client_stops: list[_Stop]
    shipment_stops: list[tuple[_Stop, _Stop]]
    type_vehicles: list[list[Vehicle]]  # the concrete vehicles of each vehicle type
    max_penalty: float  # the ceiling for PyVRP's adaptive penalties
    stats: dict[str, float | int | str] = field(default_factory=dict)


def _cost_coefficients(
    vehicle_types: list[Vehicle], objective: Objective, params: SolverParams
) -> tuple[list[tuple[int, int, int]], float]:
    """(fixed, per distance unit, per duration unit) per type, and PyVRP units per our unit.

    The model measures distance in metres × distance_scale and time in seconds × time_scale,
    so per_km and per_hour are converted to those units, then the money unit is chosen so
    the largest rate is COST_RESOLUTION and every rate rounds to a close integer. Exact
    integers would need a unit of 1 / (3600 · 1000 · ds · ts) minor units: costs that large
    outgrow PyVRP's penalties, which then cannot steer the search back to feasible plans.
    """
    if objective == Objective.DISTANCE:
        return [(0, 1, 0)] * len(vehicle_types), float(params.distance_scale)
    ds, ts = params.distance_scale, params.time_scale
    rates = [
        (v.costs.fixed, v.costs.per_km / (1000 * ds), v.costs.per_hour / (3600 * ts))
        for v in vehicle_types
    ]
    top = max((rate for _, per_dist, per_dur in rates for rate in (per_dist, per_dur)), default=0)
    unit = COST_RESOLUTION / top if top > 0 else 1.0
    coefficients = [
        (round(fixed * unit), round(per_dist * unit), round(per_dur * unit))
        for fixed, per_dist, per_dur in rates
    ]
    return coefficients, unit


def _vehicle_key(vehicle: Vehicle) -> Vehicle:
    return replace(vehicle, id="")


def _used_dimensions(jobs: list[Job]) -> list[int]:
    return [d for d in range(len(Load.DIMENSIONS)) if any(j.demand.as_tuple()[d] for j in jobs)]


def _amounts(load: Load, dims: list[int]) -> list[int]:
    values = load.as_tuple()
    return [values[d] for d in dims]


def _build(
    problem: Problem, params: SolverParams, jobs: list[Job], shipments: list[Shipment]
) -> _Model:
    """The PyVRP ProblemData for the jobs and shipments left in the model."""
    ds, ts = params.distance_scale, params.time_scale
    objective = resolve_objective(problem, params)

    # Identical vehicles (all but the id) share one vehicle type.
    groups: dict[Vehicle, list[Vehicle]] = {}
    for vehicle in problem.vehicles:
        groups.setdefault(_vehicle_key(vehicle), []).append(vehicle)
    type_vehicles = list(groups.values())
    representatives = [vs[0] for vs in type_vehicles]

    # Skills: PyVRP has no per-client vehicle restriction, so a job that only some vehicles may
    # serve gets a location of its own, and each skill set gets its own profile in which
    # arcs to that location are longer than the vehicle may drive: serving it breaks the
    # distance limit, and PyVRP never returns a plan that breaks a limit as feasible.
    restricted = {
        job.id: job
        for job in problem.all_jobs
        if job.skills and not all(job.skills <= v.skills for v in representatives)
    }
    skill_sets = {v.id: (v.skills if restricted else frozenset()) for v in representatives}
    profile_keys = sorted(
        {(v.profile, skill_sets[v.id]) for v in representatives},
        key=lambda key: (key[0], sorted(key[1])),
    )

    # A profile with a range limit rounds distances up, so a route within range in the model
    # is within range in full precision too.
    ranged = {v.profile for v in representatives if math.isfinite(v.range_m)}
    n = len(problem.locations)
    open_routes = any(v.end is None for v in representatives)
    base_size = n + 1 if open_routes else n  # an open route ends at a virtual location, 0 away
    job_location = {job_id: base_size + k for k, job_id in enumerate(restricted)}
    # Each extra location copies its job's row and column.
    source = np.array(
        list(range(base_size)) + [restricted[job_id].location for job_id in restricted]
    )
    base: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for profile in sorted({v.profile for v in representatives}):
        matrix = problem.matrices[profile]
        dist = np.zeros((base_size, base_size), dtype=np.int64)
        dur = np.zeros((base_size, base_size), dtype=np.int64)
        scaled = np.asarray(matrix.distances_m, dtype=np.float64) * ds
        rounded = np.ceil(scaled - 1e-9) if profile in ranged else np.round(scaled)
        dist[:n, :n] = np.maximum(rounded, 0)
        times = np.asarray(matrix.durations_s, dtype=np.float64) * ts
        dur[:n, :n] = np.maximum(np.ceil(times - 1e-9), 0)
        dist, dur = dist[np.ix_(source, source)], dur[np.ix_(source, source)]
        np.fill_diagonal(dist, 0)
        np.fill_diagonal(dur, 0)
        base[profile] = (dist, dur)
    # No legitimate route is longer than every location's longest arc added up.
    max_dist = max((int(d.max()) for d, _ in base.values()), default=0)
    route_bound = max((int(d.max(axis=1).sum()) for d, _ in base.values()), default=0) + 1
    ranges = [
        math.floor(v.range_m * ds + 1e-9) for v in representatives if math.isfinite(v.range_m)
    ]
    forbidden = max([route_bound, *ranges]) + 1
    distance_matrices, duration_matrices = [], []
    for profile, skills in profile_keys:
        dist, dur = base[profile]
        if restricted:
            dist = dist.copy()
            for job_id, job in restricted.items():
                if not job.skills <= skills:
                    where = job_location[job_id]
                    dist[where, :] = forbidden
                    dist[:, where] = forbidden
                    dist[where, where] = 0
        distance_matrices.append(dist)
        duration_matrices.append(dur)

    locations = [pyvrp.Location(x=loc.lng, y=loc.lat) for loc in problem.locations]
    if open_routes:
        locations.append(pyvrp.Location(x=0.0, y=0.0, name="open route end"))
    for job_id, job in restricted.items():
        spot = problem.locations[job.location]
        locations.append(pyvrp.Location(x=spot.lng, y=spot.lat, name=job_id))

    depots: list[Depot] = []
    depot_index: dict[tuple[int, int], int] = {}

    def depot(location: int, service: int) -> int:
        key = (location, service)
        if key not in depot_index:
            depot_index[key] = len(depots)
            depots.append(Depot(location=location, service_duration=service))
        return depot_index[key]

    dims = _used_dimensions(list(problem.all_jobs))
    coefficients, cost_unit = _cost_coefficients(representatives, objective, params)
    vehicle_types: list[VehicleType] = []
    for vehicle, vehicles, (fixed, per_dist, per_dur) in zip(
        representatives, type_vehicles, coefficients, strict=True
    ):
        extra: dict[str, int | list[int]] = {}
        # Room for the breaks a route may owe, placed after the search (``_with_breaks``).
        reserve = _break_reserve_s(vehicle)
        if vehicle.max_duration_s is not None:
            extra["shift_duration"] = max(0, vehicle.max_duration_s - reserve) * ts
        if math.isfinite(vehicle.range_m):
            extra["max_distance"] = math.floor(vehicle.range_m * ds + 1e-9)
        elif restricted:
            extra["max_distance"] = route_bound
        if vehicle.max_trips > 1:
            # A depot of its own, even at the start location: its service time is the reload.
            extra["reload_depots"] = [depot(vehicle.reload_at, vehicle.reload_s * ts)]
            extra["max_reloads"] = vehicle.max_trips - 1
        vehicle_types.append(
            VehicleType(
                num_available=len(vehicles),
                capacity=_amounts(vehicle.capacity, dims),
                start_depot=depot(vehicle.start, 0),
                end_depot=depot(n if vehicle.end is None else vehicle.end, 0),
                fixed_cost=fixed,
                tw_early=vehicle.shift.start_s * ts,
                tw_late=max(vehicle.shift.start_s, vehicle.shift.end_s - reserve) * ts,
                unit_distance_cost=per_dist,
                unit_duration_cost=per_dur,
                profile=profile_keys.index((vehicle.profile, skill_sets[vehicle.id])),
                **extra,  # type: ignore[arg-type]
            )
        )

    # A prize above anything serving one job can cost: a detour (two arcs, or a reload on
    # the way), a whole shift of paid time and a vehicle's fixed cost, with room to spare.
    bound = 1 + max(
        (
            fixed + 4 * max_dist * per_dist + (v.shift.end_s - v.shift.start_s) * ts * per_dur
            for v, (fixed, per_dist, per_dur) in zip(representatives, coefficients, strict=True)
        ),
        default=1,
    )
    top_prize = bound * max(
        (PRIORITY_WEIGHT[j.priority] for j in [*jobs, *_legs(shipments)]), default=1
    )
    visits = len(jobs) + 2 * len(shipments) + 1
    if top_prize * visits > MAX_TOTAL_COST:
        raise BackendFailed("costs too large for PyVRP's integer objective; lower the scales")
    # A unit of excess load, time warp or distance must be able to cost more than the best
    # prize, or an overfull day settles on an infeasible plan instead of dropping a job. The
    # cap keeps penalty × the largest violation a random start may have inside 64 bits.
    horizon = max(
        [v.shift.end_s * ts for v in representatives]
        + [w.end_s * ts for j in problem.all_jobs for w in j.time_windows]
    )
    total_demand = sum(sum(j.demand.as_tuple()) for j in problem.all_jobs)
    worst_violation = visits * max(horizon, max_dist, 1) + total_demand
    max_penalty = max(
        PenaltyParams().max_penalty, min(2.0 * top_prize, MAX_TOTAL_COST / worst_violation)
    )

    def prize(priority: int) -> int:
        return bound * PRIORITY_WEIGHT[priority]

    clients: list[Client] = []
    client_stops: list[_Stop] = []
    client_groups: list[ClientGroup] = []
    for job in jobs:
        demand = _amounts(job.demand, dims)
        loads = {"delivery": demand} if job.kind == JobKind.DELIVERY else {"pickup": demand}
        windows: list[TimeWindow | None] = list(job.time_windows) or [None]
        group = None
        if len(windows) > 1:
            # One copy of the job per window, exactly one of which may be served.
            group = len(client_groups)
            client_groups.append(ClientGroup(required=False))
        for window in windows:
            if group is not None:
                client_groups[group].add_client(len(clients))
            span = (
                {}
                if window is None
                else {"tw_early": window.start_s * ts, "tw_late": window.end_s * ts}
            )
            clients.append(
                Client(
                    location=job_location.get(job.id, job.location),
                    service_duration=job.service_s * ts,
                    prize=prize(job.priority),
                    required=False,
                    group=group,
                    name=job.id,
                    **loads,
                    **span,
                )
            )
            client_stops.append(_Stop(job, window))

    pyvrp_shipments: list[pyvrp.Shipment] = []
    shipment_stops: list[tuple[_Stop, _Stop]] = []
    for shipment in shipments:
        pickup, delivery = shipment.pickup, shipment.delivery
        p_window = pickup.time_windows[0] if pickup.time_windows else None
        d_window = delivery.time_windows[0] if delivery.time_windows else None
        span: dict[str, int] = {}
        if p_window is not None:
            span |= {
                "pickup_tw_early": p_window.start_s * ts,
                "pickup_tw_late": p_window.end_s * ts,
            }
        if d_window is not None:
            span |= {
                "delivery_tw_early": d_window.start_s * ts,
                "delivery_tw_late": d_window.end_s * ts,
            }
        pyvrp_shipments.append(
            pyvrp.Shipment(
                pickup_location=job_location.get(pickup.id, pickup.location),
                delivery_location=job_location.get(delivery.id, delivery.location),
                pickup_service_duration=pickup.service_s * ts,
                delivery_service_duration=delivery.service_s * ts,
                amount=_amounts(delivery.demand, dims),
                prize=prize(max(pickup.priority, delivery.priority)),
                required=False,
                name=shipment.id,
                **span,
            )
        )
        shipment_stops.append((_Stop(pickup, p_window), _Stop(delivery, d_window)))

    data = ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=distance_matrices,
        duration_matrices=duration_matrices,
        groups=client_groups,
        shipments=pyvrp_shipments,
    )
    return _Model(
        data=data,
        objective=objective,
        cost_unit=cost_unit,
        client_stops=client_stops,
        shipment_stops=shipment_stops,
        type_vehicles=type_vehicles,
        max_penalty=max_penalty,
        stats={"vehicle_types": len(vehicle_types), "load_dimensions": len(dims)},
    )


@dataclass
class _PenaltyParams(PenaltyParams):
    """A higher penalty ceiling, but the usual starting penalties.

    PyVRP starts halfway to the ceiling; with a ceiling sized to our prizes the search would
    spend most of its time lowering penalties first. The initial plan is still built with
    the ceiling, so it starts feasible wherever it can.
    """

    def midpoint_penalties(self, data: ProblemData) -> tuple[list[float], float, float]:
        return PenaltyParams().midpoint_penalties(data)


class _ProgressReporter(IteratedLocalSearchCallbacks):
    """Relays PyVRP's search to our progress callback, at most every PROGRESS_EVERY_S."""

    def __init__(self, params: SolverParams, model: _Model, started: float) -> None:
        self._params = params
        self._model = model
        self._started = started
        self._last = -math.inf

    def _report(self, best: pyvrp.Solution) -> None:
        progress = self._params.progress
        if progress is None:
            return
        now = time.monotonic()
        self._last = now
        cost = None
        if best.is_feasible():
            raw = best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost()
            cost = raw / self._model.cost_unit
        fraction = min(1.0, (now - self._started) / max(self._params.time_limit_s, 1e-9))
        progress(Progress(fraction=fraction, best_cost=cost))

    def on_start(self, ils: IteratedLocalSearch) -> None:
        self._report(ils.initial_solution)

    def on_iteration(
        self,
        current: pyvrp.Solution,
        candidate: pyvrp.Solution,
        best: pyvrp.Solution,
        cost_evaluator: CostEvaluator,
    ) -> None:
        if time.monotonic() - self._last >= PROGRESS_EVERY_S:
            self._report(best)


def solve_pyvrp(problem: Problem, params: SolverParams) -> Solution:
    """Solve with PyVRP within ``params.time_limit_s``; see the module docstring.

    Raises ``BackendFailed`` when PyVRP's best plan breaks a constraint.
    """
    started = time.monotonic()
    progress = params.progress
    if progress is not None:
        progress(Progress(fraction=0.0, best_cost=None, phase="model"))

    # What cannot be served even alone stays out of the model, explained.
    left_out: list[Unassigned] = []
    jobs: list[Job] = []
    for job in problem.jobs:
        reason = blocker_of(problem, job)
        if reason is None:
            jobs.append(job)
        else:
            left_out.append(reason)
    shipments: list[Shipment] = []
    for shipment in problem.shipments:
        reason = blocker_of(problem, shipment)
        if reason is None:
            shipments.append(shipment)
        else:
            left_out.extend(
                Unassigned(leg.id, reason.reason, reason.detail, reason.fix)
                for leg in (shipment.pickup, shipment.delivery)
            )

    if not problem.vehicles or not (jobs or shipments):
        solution = Solution(
            routes=(),
            unassigned=tuple(left_out)
            + tuple(explain_unassigned(problem, [j.id for j in jobs] + _leg_ids(shipments))),
            objective=0.0,
            backend="pyvrp",
            solve_s=time.monotonic() - started,
            # Nothing is served, so nothing is moved.
            stats={"moved_from_preferred": 0} if problem.has_preferences else {},
        )
        if progress is not None:
            progress(Progress(fraction=1.0, best_cost=0.0, phase="done"))
        return solution

    model = _build(problem, params, jobs, shipments)
    reporter = _ProgressReporter(params, model, started)
    solve_params = SolveParams(
        ils=IteratedLocalSearchParams(callbacks=reporter),
        penalty=_PenaltyParams(max_penalty=model.max_penalty),
    )
    runtime = MaxRuntime(max(0.0, params.time_limit_s - (time.monotonic() - started)))
    runtime(0)  # start its clock now, so PyVRP's initial local search counts against the limit
    cancelled = throttled(params.should_stop) if params.should_stop else None

    def stop(best_cost: float) -> bool:
        return runtime(best_cost) or (cancelled is not None and cancelled())

    result = pyvrp.solve(
        model.data,
        stop=stop,
        seed=params.seed,
        collect_stats=False,
        display=params.log_search,
        params=solve_params,
    )
    best = result.best
    if not best.is_feasible():
        raise BackendFailed(
            "PyVRP's best plan is infeasible "
            f"(time warp {best.time_warp()}, excess load {best.excess_load()}, "
            f"excess distance {best.excess_distance()})"
        )

    routes = _read_routes(problem, model, best)
    served = {job_id for route in routes for job_id in route.job_ids}
    missing = [j.id for j in jobs if j.id not in served]
    missing += [leg for leg in _leg_ids(shipments) if leg not in served]
    solution = Solution(
        routes=tuple(routes),
        unassigned=tuple(left_out) + tuple(explain_unassigned(problem, missing)),
        objective=sum(r.cost for r in routes),
        backend="pyvrp",
        solve_s=time.monotonic() - started,
        stats={
            **model.stats,
            "clients": model.data.num_clients,
            "shipments": model.data.num_shipments,
            "iterations": result.num_iterations,
            "search_s": round(result.runtime, 3),
            "model_cost": int(
                best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost()
            ),
        },
    )
    if problem.has_preferences:
        # Preferences reach PyVRP only when moves are free (see ``unsupported_reason``), but
        # how many jobs changed vehicle still tells the dispatcher what the re-plan disturbs.
        served_by = {job_id: r.vehicle_id for r in routes for job_id in r.job_ids}
        solution.stats["moved_from_preferred"] = len(problem.moved_from_preferred(served_by))
    if progress is not None:
        progress(Progress(fraction=1.0, best_cost=solution.objective, phase="done"))
    return solution


def _legs(shipments: list[Shipment]) -> list[Job]:
    return [leg for s in shipments for leg in (s.pickup, s.delivery)]


def _leg_ids(shipments: list[Shipment]) -> list[str]:
    return [leg.id for leg in _legs(shipments)]


def _read_routes(problem: Problem, model: _Model, best: pyvrp.Solution) -> list[Route]:
    """Our routes from PyVRP's, each type's routes handed to its vehicles in order, with the
    breaks each route owes placed into it (see ``_with_breaks``)."""
    by_type: dict[int, list[pyvrp.Route]] = {}
    for route in best.routes():
        by_type.setdefault(route.vehicle_type(), []).append(route)
    planned: list[tuple[Vehicle, list[_Item]]] = []
    for type_index, type_routes in sorted(by_type.items()):
        vehicles = model.type_vehicles[type_index]
        for vehicle, route in zip(vehicles, type_routes, strict=False):
            items: list[_Item] = []
            for activity in list(route)[1:-1]:
                if activity.type == ActivityType.CLIENT:
                    items.append(model.client_stops[activity.idx])
                elif activity.type == ActivityType.DEPOT:
                    items.append(None)
                else:
                    pickup, delivery = model.shipment_stops[activity.idx]
                    items.append(pickup if activity.type == ActivityType.PICKUP else delivery)
            planned.append((vehicle, items))
    if any(vehicle.breaks for vehicle, _ in planned):
        used = {vehicle.id for vehicle, _ in planned}
        spare = [vehicle for vehicle in problem.vehicles if vehicle.id not in used]
        planned = _with_breaks(problem, planned, spare, model.stats)
    return [_schedule(problem, vehicle, items, model.objective) for vehicle, items in planned]


def _with_breaks(
    problem: Problem,
    planned: list[tuple[Vehicle, list[_Item]]],
    spare: list[Vehicle],
    stats: dict[str, float | int | str],
) -> list[tuple[Vehicle, list[_Item]]]:
    """Every route with the breaks it owes, repairing the few that cannot take them.

    PyVRP planned each route to be back early by the breaks it may owe, which keeps the
    shift end but not the windows in the middle of a tightly packed route. Such a route
    gives up jobs (most distance saved first) until its breaks fit, and each goes to the
    route that takes it at the least extra distance with all its rules and breaks kept (an
    unused ``spare`` vehicle too). Measured on the 500-order bench day: clean, but some 10 %
    more kilometres than without breaks; modelling the breaks inside PyVRP's search is the
    way to close that. Raises ``BackendFailed`` when no
    such move exists, so the caller can fall back to OR-Tools.
    """
    out: list[tuple[Vehicle, list[_Item]]] = []
    stuck: list[tuple[Vehicle, list[_Item]]] = []
    for vehicle, items in planned:
        placed = _place_breaks(problem, vehicle, items)
        if placed is None:
            stuck.append((vehicle, items))
        else:
            out.append((vehicle, placed))
    # Unused vehicles may take a moved job; those still empty afterwards stay unused.
    out += [(vehicle, []) for vehicle in spare]
    repairs = 0
    for vehicle, items in stuck:
        # Give up jobs, most distance saved first, until the breaks fit; then hand each one
        # to the route (or unused vehicle) that takes it at the least extra distance.
        rest, moved = list(items), []
        placed = None
        while placed is None and len(moved) < MAX_MOVED_FOR_BREAK:
            order = _removals_by_saving(problem, vehicle, rest)
            if not order:
                break
            moved.append(rest.pop(order[0]))
            placed = _place_breaks(problem, vehicle, rest)
        if placed is None:
            raise BackendFailed(f"route of {vehicle.id} cannot take the breaks it owes")
        out.append((vehicle, placed))
        for stop in moved:
            if not isinstance(stop, _Stop):  # only jobs are offered for removal
                continue
            target = _cheapest_insertion(problem, out, stop.job)
            if target is None:
                raise BackendFailed(
                    f"no route can take {stop.job.id} off {vehicle.id} to make room for a break"
                )
            where, items_there = target
            out[where] = (out[where][0], items_there)
            repairs += 1
    out = [(vehicle, items) for vehicle, items in out if any(_is_job(i) for i in items)]
    stats["break_repairs"] = repairs
    stats["breaks_placed"] = sum(1 for _, items in out for item in items if isinstance(item, Break))
    return out


def _is_job(item: _Item) -> bool:
    return isinstance(item, _Stop)


def _removals_by_saving(problem: Problem, vehicle: Vehicle, items: list[_Item]) -> list[int]:
    """Positions of the route's single jobs (not shipment legs or reloads), the one whose
    removal saves most distance first."""
    matrix = problem.matrices[vehicle.profile].distances_m
    legs = set(problem.shipment_of())
    stops = [vehicle.start, *(_location(vehicle, item) for item in items), vehicle.end]
    savings = []
    for index, item in enumerate(items):
        if not isinstance(item, _Stop) or item.job.id in legs:
            continue
        before, here, after = stops[index], stops[index + 1], stops[index + 2]
        saving = _arc(matrix, before, here) + _arc(matrix, here, after)
        saving -= _arc(matrix, before, after)
        savings.append((-saving, index))
    return [index for _, index in sorted(savings)]


def _cheapest_insertion(
    problem: Problem, routes: list[tuple[Vehicle, list[_Item]]], job: Job
) -> tuple[int, list[_Item]] | None:
    """(route index, its new items) serving ``job`` at the least extra distance, with every
    window, load, skill, range and owed break kept; None if no route can take it."""
    options: list[tuple[float, int, int, _Stop]] = []
    for where, (vehicle, items) in enumerate(routes):
        if not job.skills <= vehicle.skills:
            continue
        matrix = problem.matrices[vehicle.profile].distances_m
        stops = [vehicle.start, *(_location(vehicle, item) for item in items), vehicle.end]
        windows: list[TimeWindow | None] = list(job.time_windows) or [None]
        for position in range(len(items) + 1):
            before, after = stops[position], stops[position + 1]
            extra = _arc(matrix, before, job.location) + _arc(matrix, job.location, after)
            extra -= _arc(matrix, before, after)
            for window in windows:
                options.append((extra, where, position, _Stop(job, window)))
    for _, where, position, stop in sorted(options, key=lambda o: (o[0], o[1], o[2])):
        vehicle, items = routes[where]
        candidate = [*items[:position], stop, *items[position:]]
        if not _loads_fit(problem, vehicle, candidate):
            continue
        if _distance(problem, vehicle, candidate) > vehicle.range_m + EPS:
            continue
        if not _times(problem, vehicle, candidate).feasible:
            continue
        # Longer now, the route may owe a break it did not before: place them afresh.
        placed = _place_breaks(
            problem, vehicle, [item for item in candidate if not isinstance(item, Break)]
        )
        if placed is not None:
            return where, placed
    return None


def _location(vehicle: Vehicle, item: _Item) -> int | None:
    """Where the item is; a break is taken where the vehicle stands (None: no move)."""
    if isinstance(item, Break):
        return None
    return vehicle.reload_at if item is None else item.job.location


def _arc(matrix: tuple[tuple[float, ...], ...], a: int | None, b: int | None) -> float:
    # None is a break (no move) or an open route's end (nothing to drive back).
    return 0.0 if a is None or b is None else matrix[a][b]


def _distance(problem: Problem, vehicle: Vehicle, items: list[_Item]) -> float:
    matrix = problem.matrices[vehicle.profile].distances_m
    here, total = vehicle.start, 0.0
    for item in items:
        location = _location(vehicle, item)
        if location is not None:
            total += matrix[here][location]
            here = location
    return total + _arc(matrix, here, vehicle.end)


def _loads_fit(problem: Problem, vehicle: Vehicle, items: list[_Item]) -> bool:
    """Whether every trip's peak load fits: deliveries (not shipment legs) ride from the
    hub, pickups and shipment legs board and leave on the way."""
    legs = set(problem.shipment_of())
    capacity = vehicle.capacity.as_tuple()
    trips: list[list[Job]] = [[]]
    for item in items:
        if item is None:
            trips.append([])
        elif isinstance(item, _Stop):
            trips[-1].append(item.job)
    for trip in trips:
        on_board = [0] * len(capacity)
        for job in trip:
            if job.kind == JobKind.DELIVERY and job.id not in legs:
                on_board = [a + b for a, b in zip(on_board, job.demand.as_tuple(), strict=True)]
        peaks = [on_board]
        for job in trip:
            sign = 1 if job.kind == JobKind.PICKUP else -1
            on_board = [a + sign * b for a, b in zip(on_board, job.demand.as_tuple(), strict=True)]
            peaks.append(on_board)
        if any(a > b for peak in peaks for a, b in zip(peak, capacity, strict=True)):
            return False
    return True


# What a route visits between leaving and coming back: a job (one window's copy of it), a
# reload at the hub (None) or a driver's break, taken where the vehicle stands.
_Item = _Stop | Break | None


@dataclass(frozen=True, slots=True)
class _Times:
    """A route's schedule on the float matrix: when it leaves, each item's (location,
    arrival, start, departure), when it is back, and whether every window and limit holds."""

    depart: float
    rows: list[tuple[int, float, float, float]]
    end_arrival: float
    feasible: bool

    def work_s(self, items: list[_Item]) -> float:
        """Time from leaving to coming back, less the breaks taken."""
        pauses = sum(item.duration_s for item in items if isinstance(item, Break))
        return self.end_arrival - self.depart - pauses


def _walk(
    problem: Problem, vehicle: Vehicle, items: list[_Item], depart: float
) -> tuple[list[tuple[int, float, float, float]], float, float, float, bool]:
    """(location, arrival, start, departure) per item, the end arrival, how much later it
    could leave (up to its first wait only, and at most to the best duration) and whether
    every window start is kept."""
    matrix = problem.matrices[vehicle.profile]
    rows = []
    here, t = vehicle.start, depart
    waited = 0.0
    head = most = math.inf
    on_time = True
    for item in items:
        if isinstance(item, Break):
            location, arrival = here, t
            begin = max(arrival, float(item.window.start_s))
            service, late = item.duration_s, float(item.window.end_s)
        else:
            location = vehicle.reload_at if item is None else item.job.location
            arrival = t + matrix.durations_s[here][location]
            if item is None:
                begin, service, late = arrival, vehicle.reload_s, math.inf
            else:
                window = item.window
                begin = arrival if window is None else max(arrival, float(window.start_s))
                service = item.job.service_s
                late = math.inf if window is None else float(window.end_s)
        on_time = on_time and begin <= late + EPS
        wait = begin - arrival
        if not waited:  # up to the first wait: stay on time there, absorb into it
            head = min(head, wait if wait > 0 else late - begin)
        # Leaving d later moves this service by d less all waiting up to it (its own too).
        waited += wait
        most = min(most, waited + late - begin)
        rows.append((location, arrival, begin, begin + service))
        here, t = location, begin + service
    end_arrival = t if vehicle.end is None else t + matrix.durations_s[here][vehicle.end]
    most = max(0.0, min(most, waited + vehicle.shift.end_s - end_arrival, waited))
    head = max(0.0, min(head, most)) if waited else 0.0
    return rows, end_arrival, head, most, on_time


def _times(problem: Problem, vehicle: Vehicle, items: list[_Item]) -> _Times:
    """The schedule, leaving so that the first stop has no idle wait.

    Leaving at the shift start, service starts at max(arrival, window start). The route
    then leaves later by its first wait, or less if a stop before that would miss its
    window, so no service starts later than it would have anyway. PyVRP measures a duration
    limit with the best departure, which may also shrink later waits by serving the first
    waiting stop later; a route this leaves over its limit leaves that late instead.
    """
    shift = vehicle.shift
    earliest, _, head, most, _ = _walk(problem, vehicle, items, float(shift.start_s))
    depart = float(shift.start_s) + head
    rows, end_arrival, _, _, on_time = _walk(problem, vehicle, items, depart)
    limit = vehicle.max_duration_s
    if limit is not None and end_arrival - depart > limit + EPS and most > head:
        depart = float(shift.start_s) + most
        rows, end_arrival, _, _, on_time = _walk(problem, vehicle, items, depart)
    feasible = (
        on_time
        and end_arrival <= shift.end_s + EPS
        and (limit is None or end_arrival - depart <= limit + EPS)
        # Counted on the earliest schedule, as the checker does: leaving later only shortens
        # the work before a break, so a route that passes there passes as driven.
        and _work_in_row_kept(items, earliest, float(shift.start_s))
    )
    return _Times(depart, rows, end_arrival, feasible)


def _work_in_row_kept(
    items: list[_Item], rows: list[tuple[int, float, float, float]], depart: float
) -> bool:
    """Each break starts within its ``within_s`` of work: counted from when the vehicle must
    leave to serve its first stop when service starts there, or from the previous break's
    end (the checker counts the same way)."""
    began: float | None = None
    before = depart
    for item, (_, arrival, begin, departure) in zip(items, rows, strict=True):
        if isinstance(item, Break):
            worked = 0.0 if began is None else begin - began
            if item.within_s is not None and worked > item.within_s + EPS:
                return False
            began = departure
        elif began is None:
            began = begin - (arrival - before)
        before = departure
    return True


def _break_reserve_s(vehicle: Vehicle) -> int:
    """The breaks a route of this vehicle may come to owe, added up: PyVRP plans every such
    route to be back that much before the shift ends, so the breaks fit in afterwards."""
    longest = vehicle.shift.end_s - vehicle.shift.start_s
    if vehicle.max_duration_s is not None:
        longest = min(longest, vehicle.max_duration_s)
    return sum(b.duration_s for b in vehicle.breaks if b.after_work_s < longest)


def _place_breaks(problem: Problem, vehicle: Vehicle, items: list[_Item]) -> list[_Item] | None:
    """``items`` with each break the route owes inserted, or None when one does not fit.

    Breaks are placed in their order; each goes where the route's working time grows least
    (a break taken while the van would wait for a window costs nothing), the latest of
    equals, among the positions that keep every window, the shift end and the duration limit. A break the
    route does not owe (it works no longer than the break's threshold) is left out.
    """
    placed = list(items)
    after = 0  # breaks keep their order: the next one goes after the last placed
    for pause in vehicle.breaks:
        times = _times(problem, vehicle, placed)
        if times.work_s(placed) <= pause.after_work_s + EPS:
            continue
        best: tuple[float, int] | None = None
        for position in range(after, len(placed) + 1):
            candidate = [*placed[:position], pause, *placed[position:]]
            fitted = _times(problem, vehicle, candidate)
            if not fitted.feasible:
                continue
            # Among equals the latest, leaving the shortest stretch of work after it.
            key = (fitted.end_arrival - fitted.depart, -position)
            if best is None or key < best:
                best = key
        if best is None:
            return None
        position = -best[1]
        placed.insert(position, pause)
        after = position + 1
    return placed


def _schedule(
    problem: Problem, vehicle: Vehicle, items: list[_Item], objective: Objective
) -> Route:
    """The route's visits timed on the float matrix (see ``_times``)."""
    times = _times(problem, vehicle, items)
    depart, end_arrival = times.depart, times.end_arrival
    matrix = problem.matrices[vehicle.profile]
    visits = [Visit(VisitKind.START, vehicle.start, depart, depart, depart)]
    distance = 0.0
    here = vehicle.start
    for item, (location, arrival, begin, departure) in zip(items, times.rows, strict=True):
        if isinstance(item, Break):
            visits.append(Visit(VisitKind.BREAK, location, arrival, begin, departure))
            continue
        distance += matrix.distances_m[here][location]
        if item is None:
            visits.append(Visit(VisitKind.RELOAD, location, arrival, begin, departure))
        else:
            visits.append(Visit(VisitKind.JOB, location, arrival, begin, departure, item.job.id))
        here = location
    end = here if vehicle.end is None else vehicle.end
    distance += matrix.distances_m[here][end] if vehicle.end is not None else 0.0
    visits.append(Visit(VisitKind.END, end, end_arrival, end_arrival, end_arrival))
    duration = end_arrival - depart
    energy = vehicle.energy.energy_wh(distance) if vehicle.energy else 0.0
    return Route(
        vehicle_id=vehicle.id,
        visits=tuple(visits),
        distance_m=distance,
        duration_s=duration,
        energy_wh=energy,
        cost=_route_cost(vehicle, distance, duration, objective),
    )


def _route_cost(
    vehicle: Vehicle, distance_m: float, duration_s: float, objective: Objective
) -> float:
    if objective == Objective.DISTANCE:
        return distance_m
    costs = vehicle.costs
    return costs.fixed + costs.per_km * distance_m / 1000 + costs.per_hour * duration_s / 3600
