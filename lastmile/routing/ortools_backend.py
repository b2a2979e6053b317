"""The OR-Tools backend: every feature of the problem model on the routing library.

Nodes are laid out as: jobs (single jobs, then shipment legs), reload stops (``max_trips - 1``
per multi-trip vehicle, optional), then each vehicle's own start and end node. Matrices are
handed to OR-Tools natively (``RegisterTransitMatrix``), never as per-arc Python callbacks:
guided local search lives on iterations per second. Jobs that no vehicle could serve even
alone are left out of the model and explained; the rest carry a drop penalty scaled by
priority, so an overfull day drops jobs instead of failing the whole solve.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from lastmile.routing.checker import route_violations
from lastmile.routing.explain import blocker_of, explain_unassigned
from lastmile.routing.params import Objective, SolverParams, resolve_objective, throttled
from lastmile.routing.problem import (
    PRIORITY_WEIGHT,
    Job,
    JobKind,
    Load,
    Problem,
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

# Objective money unit: a thousandth of a minor unit, so per-km and per-hour rates stay exact
# enough once divided down to metres and seconds.
COST_SCALE = 1000
# Fixed jobs and soft-end jobs are already on the vehicle: their windows' ends become soft, at
# this cost per unit late.
FIXED_LATENESS_COST = 1_000_000


class NoSolutionError(RuntimeError):
    """OR-Tools found no assignment at all (only possible with fixed sequences)."""


@dataclass
class _Node:
    kind: VisitKind
    location: int | None  # None: the virtual end of an open route (zero distance to it)
    service_s: int = 0
    job: Job | None = None
    vehicle: int | None = None  # owner of reload/start/end nodes


@dataclass
class _Model:
    problem: Problem
    params: SolverParams
    nodes: list[_Node] = field(default_factory=list)
    job_node: dict[str, int] = field(default_factory=dict)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    left_out: list[Unassigned] = field(default_factory=list)


def _layout(problem: Problem, params: SolverParams) -> _Model:
    model = _Model(problem, params)
    fixed = {j for v in problem.vehicles for j in v.fixed_sequence}
    blocked: set[str] = set()
    # Pre-check each job alone: what cannot be served even alone stays out of the model.
    for job in problem.jobs:
        if job.id in fixed:
            continue
        reason = blocker_of(problem, job)
        if reason is not None:
            model.left_out.append(reason)
            blocked.add(job.id)
    for shipment in problem.shipments:
        if shipment.pickup.id in fixed or shipment.delivery.id in fixed:
            continue
        reason = blocker_of(problem, shipment)
        if reason is not None:
            for leg in (shipment.pickup, shipment.delivery):
                model.left_out.append(Unassigned(leg.id, reason.reason, reason.detail, reason.fix))
                blocked.add(leg.id)
    for job in problem.all_jobs:
        if job.id in blocked:
            continue
        model.job_node[job.id] = len(model.nodes)
        model.nodes.append(_Node(VisitKind.JOB, job.location, job.service_s, job))
    for v_index, vehicle in enumerate(problem.vehicles):
        for _ in range(vehicle.max_trips - 1):
            model.nodes.append(
                _Node(VisitKind.RELOAD, vehicle.reload_at, vehicle.reload_s, vehicle=v_index)
            )
    for v_index, vehicle in enumerate(problem.vehicles):
        model.starts.append(len(model.nodes))
        model.nodes.append(_Node(VisitKind.START, vehicle.start, vehicle=v_index))
        model.ends.append(len(model.nodes))
        model.nodes.append(_Node(VisitKind.END, vehicle.end, vehicle=v_index))
    return model


def _int_matrices(model: _Model, profile: str) -> tuple[list[list[int]], list[list[int]]]:
    """Scaled distance and time-with-service matrices over the model's nodes."""
    matrix = model.problem.matrices[profile]
    ds, ts = model.params.distance_scale, model.params.time_scale
    locs = [n.location for n in model.nodes]
    distinct = sorted({loc for loc in locs if loc is not None})
    # Scale once per distinct location pair, then expand to nodes (many nodes share a hub).
    dist_loc = {a: {b: round(matrix.distances_m[a][b] * ds) for b in distinct} for a in distinct}
    time_loc = {
        a: {b: math.ceil(matrix.durations_s[a][b] * ts - 1e-9) for b in distinct} for a in distinct
    }
    zero_row = [0] * len(locs)
    dist: list[list[int]] = []
    times: list[list[int]] = []
    for node, a in zip(model.nodes, locs, strict=True):
        service = node.service_s * ts
        if a is None:
            dist.append(zero_row)
            times.append([service] * len(locs))
            continue
        drow, trow = dist_loc[a], time_loc[a]
        dist.append([0 if b is None else drow[b] for b in locs])
        times.append([service if b is None else service + trow[b] for b in locs])
    return dist, times


def _horizon(problem: Problem) -> int:
    ends = [v.shift.end_s for v in problem.vehicles]
    ends += [w.end_s for j in problem.all_jobs for w in j.time_windows]
    return max(ends, default=86_400)


def _first_solution(problem: Problem, params: SolverParams) -> int:
    names = routing_enums_pb2.FirstSolutionStrategy
    if params.first_solution != "AUTO":
        return names.Value.Value(params.first_solution)
    if any(j.soft_end and j.time_windows for j in problem.all_jobs):
        # A soft window end is priced, not bounded: heuristics that insert by arc cost alone
        # see no reason to keep such jobs on time, and on a live day of parcels on board they
        # run routes so late that some parcels no longer fit before the vehicle's day ends.
        # This one inserts each job where the whole objective (lateness too) grows least.
        return names.LOCAL_CHEAPEST_COST_INSERTION
    # Insertion copes with tight windows; the arc heuristic builds better routes when windows
    # are wide (measured on the Solomon classes, see benchmarks/bench_routing.py).
    horizon = max(
        1, _horizon(problem) - min((v.shift.start_s for v in problem.vehicles), default=0)
    )
    widths = [
        (j.time_windows[-1].end_s - j.time_windows[0].start_s) / horizon
        for j in problem.all_jobs
        if j.time_windows
    ]
    if widths and sum(widths) / len(widths) < 0.5:
        return names.PARALLEL_CHEAPEST_INSERTION
    return names.PATH_CHEAPEST_ARC


def solve_ortools(problem: Problem, params: SolverParams) -> Solution:
    """Solve with OR-Tools within ``params.time_limit_s``; see the module docstring."""
    started = time.monotonic()
    model = _layout(problem, params)
    vehicles = problem.vehicles
    if not vehicles or not model.job_node:
        return _empty_solution(model, started)

    manager = pywrapcp.RoutingIndexManager(
        len(model.nodes), len(vehicles), model.starts, model.ends
    )
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()
    ds, ts = params.distance_scale, params.time_scale
    objective = resolve_objective(problem, params)

    # --- Matrices, once per profile --------------------------------------------------------
    profiles = sorted({v.profile for v in vehicles})
    dist_m: dict[str, list[list[int]]] = {}
    time_m: dict[str, list[list[int]]] = {}
    dist_cb: dict[str, int] = {}
    time_cb: dict[str, int] = {}
    for profile in profiles:
        dist_m[profile], time_m[profile] = _int_matrices(model, profile)
        dist_cb[profile] = routing.RegisterTransitMatrix(dist_m[profile])
        time_cb[profile] = routing.RegisterTransitMatrix(time_m[profile])

    # --- Arc costs ------------------------------------------------------------------------
    max_arc = max(max(max(row) for row in m) for m in dist_m.values()) or 1
    if objective == Objective.DISTANCE:
        for v_index, vehicle in enumerate(vehicles):
            routing.SetArcCostEvaluatorOfVehicle(dist_cb[vehicle.profile], v_index)
        max_arc_cost, max_fixed, max_time_coef = max_arc, 0, 0
    else:
        cost_cb: dict[tuple[str, int], int] = {}
        max_arc_cost = 1
        for v_index, vehicle in enumerate(vehicles):
            key = (vehicle.profile, vehicle.costs.per_km)
            if key not in cost_cb:
                # per_km minor units per km is per_km thousandths of a minor unit per metre.
                factor = vehicle.costs.per_km * COST_SCALE / 1000 / ds
                matrix = [[round(d * factor) for d in row] for row in dist_m[vehicle.profile]]
                max_arc_cost = max(max_arc_cost, max(max(r) for r in matrix))
                cost_cb[key] = routing.RegisterTransitMatrix(matrix)
            routing.SetArcCostEvaluatorOfVehicle(cost_cb[key], v_index)
            routing.SetFixedCostOfVehicle(vehicle.costs.fixed * COST_SCALE, v_index)
        max_fixed = max(v.costs.fixed for v in vehicles) * COST_SCALE
        max_time_coef = max(round(v.costs.per_hour * COST_SCALE / 3600 / ts) for v in vehicles)

    # --- Time -----------------------------------------------------------------------------
    horizon = _horizon(problem) * ts
    routing.AddDimensionWithVehicleTransits(
        [time_cb[v.profile] for v in vehicles], horizon, horizon, False, "time"
    )
    time_dim = routing.GetDimensionOrDie("time")
    for v_index, vehicle in enumerate(vehicles):
        start, end = routing.Start(v_index), routing.End(v_index)
        time_dim.CumulVar(start).SetRange(vehicle.shift.start_s * ts, vehicle.shift.end_s * ts)
        time_dim.CumulVar(end).SetRange(vehicle.shift.start_s * ts, vehicle.shift.end_s * ts)
        if vehicle.max_duration_s is not None:
            time_dim.SetSpanUpperBoundForVehicle(vehicle.max_duration_s * ts, v_index)
        if objective == Objective.COST and vehicle.costs.per_hour:
            coef = max(1, round(vehicle.costs.per_hour * COST_SCALE / 3600 / ts))
            time_dim.SetSpanCostCoefficientForVehicle(coef, v_index)
        # Leave as late and come back as early as the plan allows, at no cost to the objective.
        routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(start))
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(end))

    fixed_jobs = {j for v in vehicles for j in v.fixed_sequence}
    jobs = problem.jobs_by_id()
    for job_id, node in model.job_node.items():
        job = jobs[job_id]
        index = manager.NodeToIndex(node)
        if not job.time_windows:
            continue
        cumul = time_dim.CumulVar(index)
        first, last = job.time_windows[0], job.time_windows[-1]
        if job_id in fixed_jobs:
            cumul.SetMin(first.start_s * ts)
            time_dim.SetCumulVarSoftUpperBound(index, last.end_s * ts, FIXED_LATENESS_COST)
            continue
        if job.soft_end:
            # Late beats never: only the last end gives way; the gaps between windows hold.
            cumul.SetMin(first.start_s * ts)
            time_dim.SetCumulVarSoftUpperBound(index, last.end_s * ts, FIXED_LATENESS_COST)
        else:
            cumul.SetRange(first.start_s * ts, last.end_s * ts)
        for a, b in zip(job.time_windows, job.time_windows[1:], strict=False):
            cumul.RemoveInterval(a.end_s * ts + 1, b.start_s * ts - 1)

    # --- Breaks ---------------------------------------------------------------------------
    break_vars: dict[int, list] = {}
    if any(v.breaks for v in vehicles):
        visit_transits = [0] * routing.Size()
        for index in range(routing.Size()):
            if routing.IsStart(index):
                continue
            visit_transits[index] = model.nodes[manager.IndexToNode(index)].service_s * ts
        for v_index, vehicle in enumerate(vehicles):
            intervals = [
                solver.FixedDurationIntervalVar(
                    b.window.start_s * ts,
                    b.window.end_s * ts,
                    b.duration_s * ts,
                    False,  # always scheduled; one a short route does not owe is dropped
                    f"break-{vehicle.id}-{i}",
                )
                for i, b in enumerate(vehicle.breaks)
            ]
            if intervals:
                time_dim.SetBreakIntervalsOfVehicle(intervals, v_index, visit_transits)
                bounded = [b for b in vehicle.breaks if b.within_s is not None]
                if bounded:
                    # No stretch of work longer than this without a pause at least this long
                    # (before the route starts and after it ends count as pauses).
                    time_dim.SetBreakDistanceDurationOfVehicle(
                        min(b.within_s for b in bounded) * ts,
                        min(b.duration_s for b in bounded) * ts,
                        v_index,
                    )
                break_vars[v_index] = intervals

    # --- Distance and range (the battery is a distance limit: Wh = km x Wh/km) -------------
    if any(math.isfinite(v.range_m) for v in vehicles):
        # No route can be longer than every node's longest arc added up.
        big = max(sum(max(row) for row in m) for m in dist_m.values()) + 1
        caps = [
            min(big, math.floor(v.range_m * ds)) if math.isfinite(v.range_m) else big
            for v in vehicles
        ]
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [dist_cb[v.profile] for v in vehicles], 0, caps, True, "distance"
        )

    # --- Loads ----------------------------------------------------------------------------
    _add_loads(model, routing, manager)

    # --- Minimal changes: a job off its preferred vehicle costs move_cost -------------------
    move_coef = _add_moves(model, routing, objective)

    # --- Skills, pins, fixed sequences, reload owners ---------------------------------------
    allowed_of: dict[str, list[int]] = {}
    for job_id, node in model.job_node.items():
        job = jobs[job_id]
        allowed = [
            i
            for i, v in enumerate(vehicles)
            if job.skills <= v.skills and (job.vehicle_id is None or job.vehicle_id == v.id)
        ]
        allowed_of[job_id] = allowed
        if len(allowed) < len(vehicles):
            # -1 keeps "not performed" open, so the job may still be dropped.
            routing.VehicleVar(manager.NodeToIndex(node)).SetValues([-1, *allowed])
    for node_id, node in enumerate(model.nodes):
        if node.kind == VisitKind.RELOAD:
            index = manager.NodeToIndex(node_id)
            routing.VehicleVar(index).SetValues([-1, node.vehicle])
            routing.AddDisjunction([index], 0)
    for v_index, vehicle in enumerate(vehicles):
        previous = routing.Start(v_index)
        for job_id in vehicle.fixed_sequence:
            index = manager.NodeToIndex(model.job_node[job_id])
            routing.NextVar(previous).SetValue(index)
            routing.VehicleVar(index).SetValue(v_index)
            previous = index

    # --- Shipments: same vehicle, pickup first ---------------------------------------------
    for shipment in problem.shipments:
        if shipment.pickup.id not in model.job_node:
            continue
        p = manager.NodeToIndex(model.job_node[shipment.pickup.id])
        d = manager.NodeToIndex(model.job_node[shipment.delivery.id])
        routing.AddPickupAndDelivery(p, d)
        solver.Add(routing.VehicleVar(p) == routing.VehicleVar(d))
        solver.Add(time_dim.CumulVar(p) <= time_dim.CumulVar(d))

    # --- Dropping: what a job is worth ------------------------------------------------------
    # Above any detour, fixed cost, time cost and move the job brings, so a servable job is
    # never dropped to save cost or to stay on its preferred vehicle.
    penalty_base = 4 * (max_arc_cost + max_fixed) + max_time_coef * horizon + move_coef + 1
    lateness_at_stake = _lateness_at_stake(model, allowed_of, horizon, ts)
    # The objective is an int64: every penalty added up (all jobs dropped) must still fit.
    penalty_cap = 2**62 // max(1, len(model.job_node))
    for job_id, node in model.job_node.items():
        if job_id in fixed_jobs:
            continue
        job = jobs[job_id]
        penalty = penalty_base * PRIORITY_WEIGHT[job.priority]
        if job.soft_end and job.time_windows:
            # Above the most lateness serving it can run up, on itself and on every other
            # soft-end job of the vehicles it may ride (each one it delays), or dropping it
            # would beat delivering late.
            stake = max((lateness_at_stake[v] for v in allowed_of[job_id]), default=0)
            penalty += FIXED_LATENESS_COST * stake
        routing.AddDisjunction([manager.NodeToIndex(node)], min(penalty, penalty_cap))

    # --- Search ---------------------------------------------------------------------------
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = _first_solution(problem, params)
    search.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.Value.Value(
        params.metaheuristic
    )
    search.time_limit.FromMilliseconds(max(1, round(params.time_limit_s * 1000)))
    search.log_search = params.log_search
    _tune(search, params)

    progress = params.progress
    limit_s = params.time_limit_s
    best: list[float] = []
    if progress is not None:
        progress(Progress(fraction=0.0, best_cost=None, phase="first_solution"))

        def on_solution() -> None:
            cost = routing.CostVar().Max()
            best.append(cost)
            fraction = min(1.0, (time.monotonic() - started) / max(limit_s, 1e-9))
            progress(Progress(fraction=fraction, best_cost=cost / _cost_unit(objective, ds)))

        routing.AddAtSolutionCallback(on_solution)

    for intervals in break_vars.values():
        for interval in intervals:
            routing.AddIntervalToAssignment(interval)
    if params.should_stop is not None:
        # Kept in a local so the callable outlives the search it is polled from.
        stop_check = throttled(params.should_stop)
        routing.AddSearchMonitor(solver.CustomLimit(stop_check))

    assignment, strategy = None, ""
    if params.initial_routes:
        assignment = _search_from_routes(model, routing, manager, search, params)
        strategy = "initial_routes" if assignment is not None else ""
    if assignment is None:
        assignment, strategy = _search(routing, search, params, len(model.nodes), started)
    if assignment is None:
        raise NoSolutionError(
            f"OR-Tools found no solution (status {routing.status()}); "
            "check fixed sequences against vehicle shifts and capacities"
        )
    solution = _read_solution(
        model, routing, manager, assignment, time_dim, break_vars, objective, started
    )
    solution.stats["first_solution"] = strategy
    if progress is not None:
        progress(Progress(fraction=1.0, best_cost=solution.objective, phase="done"))
    return solution


# First solutions tried side by side on small problems; the best one seeds the metaheuristic.
# Which wins depends on the instance (insertion on tight windows, savings and the arc
# heuristic on wide ones), and each costs a fraction of a second at 100 jobs.
PORTFOLIO = (
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "SAVINGS",
    "PATH_CHEAPEST_ARC",
)
PORTFOLIO_MAX_NODES = 300
PORTFOLIO_SHARE = 0.2


def _search_from_routes(model: _Model, routing, manager, search, params: SolverParams):
    """Start from the given routes (a live plan) instead of building from scratch.

    A plan being re-planned is a good solution already. Its routes are locked in as the head
    of each vehicle's chain and cheapest insertion adds what is new (one solution); then the
    locks are lifted and guided local search may change anything that pays. Measured on a
    staged mid-day of 500 orders: improving the routes read in as a complete assignment left
    urgent orders out for 10 s; insertion behind the chains places them at once. Locks kept
    for the whole search would forbid serving a new order before a vehicle's existing stops,
    so they only shape the start. Jobs the model left out are skipped. One chain that breaks
    a hard rule (a load over capacity, a shift that no longer fits) makes the locked solve
    fail as a whole: the chains the independent checker finds broken are then left out of
    the start (their jobs inserted like new ones) and the rest locked again. When that fails
    too, or no chain is left, it gives ``None`` and the caller builds a first solution as
    usual.
    """
    problem = model.problem
    chains: dict[int, list[str]] = {}
    for v_index, vehicle in enumerate(problem.vehicles):
        job_ids = (params.initial_routes or {}).get(vehicle.id, ())
        chains[v_index] = [j for j in job_ids if j in model.job_node]
    routing.CloseModelWithParameters(search)
    started = time.monotonic()
    found = _solve_locked(model, routing, manager, search, chains)
    if found is None:
        broken = {
            v_index
            for v_index, job_ids in chains.items()
            if job_ids and route_violations(problem, problem.vehicles[v_index].id, job_ids)
        }
        if broken and len(broken) < sum(1 for c in chains.values() if c):
            logger.info(
                "initial routes break a rule on some vehicles; starting them afresh",
                extra={"vehicles": sorted(problem.vehicles[i].id for i in broken)},
            )
            chains = {i: ([] if i in broken else c) for i, c in chains.items()}
            found = _solve_locked(model, routing, manager, search, chains)
    if found is None:
        logger.info("initial routes infeasible; building a first solution instead")
        return None
    left_ms = round((params.time_limit_s - (time.monotonic() - started)) * 1000)
    search.time_limit.FromMilliseconds(max(1, left_ms))
    return routing.SolveFromAssignmentWithParameters(found, search) or found


def _solve_locked(model: _Model, routing, manager, search, chains: dict[int, list[str]]):
    """One first solution: each vehicle's chain locked at the head of its route, the rest
    inserted; a copy of it, or ``None`` when the chains admit none."""
    routes = [
        [manager.NodeToIndex(model.job_node[j]) for j in chains.get(v_index, [])]
        for v_index in range(len(model.problem.vehicles))
    ]
    if not routing.ApplyLocksToAllVehicles(routes, False):
        return None
    first = pywrapcp.DefaultRoutingSearchParameters()
    first.CopyFrom(search)
    first.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
    first.solution_limit = 1  # the locked chains plus insertions, nothing more
    found = routing.SolveWithParameters(first)
    # Locks hold for as long as they are applied: lift them so the metaheuristic may change
    # anything (resequence, move between vehicles) that pays.
    routing.ApplyLocksToAllVehicles([[] for _ in routes], False)
    return None if found is None else routing.solver().Assignment(found)


def _search(routing, search, params: SolverParams, nodes: int, started: float):
    """Run the search; on small problems seed it with the best of a portfolio of starts.

    Returns the assignment (None if nothing was found) and the first-solution strategy used.
    """
    enums = routing_enums_pb2
    chosen = enums.FirstSolutionStrategy.Value.Name(search.first_solution_strategy)
    if params.first_solution != "AUTO" or nodes > PORTFOLIO_MAX_NODES:
        return routing.SolveWithParameters(search), chosen
    each_ms = max(50, round(params.time_limit_s * 1000 * PORTFOLIO_SHARE / len(PORTFOLIO)))
    best, best_cost = None, None
    for name in PORTFOLIO:
        trial = pywrapcp.DefaultRoutingSearchParameters()
        trial.CopyFrom(search)
        trial.first_solution_strategy = enums.FirstSolutionStrategy.Value.Value(name)
        trial.local_search_metaheuristic = enums.LocalSearchMetaheuristic.GREEDY_DESCENT
        trial.time_limit.FromMilliseconds(each_ms)
        found = routing.SolveWithParameters(trial)
        if found is not None and (best_cost is None or found.ObjectiveValue() < best_cost):
            # The model reuses its assignment on the next solve: keep a copy of the best.
            best, best_cost, chosen = (
                routing.solver().Assignment(found),
                found.ObjectiveValue(),
                name,
            )
    remaining_ms = round((params.time_limit_s - (time.monotonic() - started)) * 1000)
    if best is None:
        return routing.SolveWithParameters(search), chosen
    if remaining_ms <= 0:
        return best, chosen
    search.time_limit.FromMilliseconds(remaining_ms)
    return routing.SolveFromAssignmentWithParameters(best, search) or best, chosen


def _cost_unit(objective: Objective, distance_scale: int) -> float:
    return distance_scale if objective == Objective.DISTANCE else COST_SCALE


def _tune(search, params: SolverParams) -> None:
    """Search settings measured on the Solomon benchmark (see the routing issue note)."""
    search.guided_local_search_lambda_coefficient = 0.1
    search.use_full_propagation = False


def _lateness_at_stake(
    model: _Model, allowed_of: dict[str, list[int]], horizon: int, ts: int
) -> list[int]:
    """Per vehicle: the most lateness (scaled time) its soft-end jobs can run up together.

    Serving one more job on a vehicle can delay every soft-end job after it on that route,
    each up to the horizon, so a soft-end job is only sure to be served (late) rather than
    dropped when its penalty is above this sum for its vehicle, not just its own lateness.
    """
    at_stake = [0] * len(model.problem.vehicles)
    jobs = model.problem.jobs_by_id()
    fixed = {j for v in model.problem.vehicles for j in v.fixed_sequence}
    for job_id, allowed in allowed_of.items():
        job = jobs[job_id]
        # Fixed jobs' window ends are soft too (and their lateness priced the same way).
        if not ((job.soft_end or job_id in fixed) and job.time_windows):
            continue
        late_max = max(0, horizon - job.time_windows[-1].end_s * ts)
        for v_index in allowed:
            at_stake[v_index] += late_max
    return at_stake


def _add_moves(model: _Model, routing, objective: Objective) -> int:
    """A "moves" dimension counting jobs served off their preferred vehicle; its span costs.

    Each vehicle gets a unary transit vector: 1 at nodes whose job prefers another vehicle.
    A route leaves each of its nodes once, so its span is exactly its number of moved jobs,
    and a span cost of ``move_cost`` (in objective units) charges each once. Vectors are
    nodes x vehicles ints, never per-vehicle matrices. Dropped jobs are not on any route, so
    they are not moves. Returns the per-move coefficient (0 when preferences are off).
    """
    problem, params = model.problem, model.params
    if params.move_cost <= 0 or not problem.has_preferences:
        return 0
    coef = max(1, round(params.move_cost * _cost_unit(objective, params.distance_scale)))
    vehicles = problem.vehicles
    preferred = {n.job.preferred_vehicle_id for n in model.nodes if n.job is not None} - {None}
    # Vehicles no job prefers share one vector: every node with a preference is a move.
    callbacks: dict[str | None, int] = {}
    evaluators = []
    for vehicle in vehicles:
        key = vehicle.id if vehicle.id in preferred else None
        if key not in callbacks:
            moves = [
                int(
                    n.job is not None
                    and n.job.preferred_vehicle_id is not None
                    and n.job.preferred_vehicle_id != key
                )
                for n in model.nodes
            ]
            callbacks[key] = routing.RegisterUnaryTransitVector(moves)
        evaluators.append(callbacks[key])
    routing.AddDimensionWithVehicleTransitAndCapacity(
        evaluators, 0, [len(model.nodes)] * len(vehicles), True, "moves"
    )
    moves_dim = routing.GetDimensionOrDie("moves")
    for v_index in range(len(vehicles)):
        moves_dim.SetSpanCostCoefficientForVehicle(coef, v_index)
    return coef


def _add_loads(model: _Model, routing, manager) -> None:
    """One dimension per load kind any job uses.

    Single deliveries leave the hub on board; single pickups come back to it; a shipment is
    on board from its pickup to its delivery. When single deliveries share a route with
    anything that boards on the way (single pickups or shipments), the start load is free but
    tied to the sum of its single deliveries (a second, counting dimension), so the load is
    the real on-board load at every stop. Otherwise the dimension simply counts what has been
    handed over (or collected) so far, which is the same constraint, cheaper; multi-trip
    reload stops reset that count (their slack may absorb up to a full vehicle).
    """
    problem = model.problem
    vehicles = problem.vehicles
    shipment_legs = {j.id for s in problem.shipments for j in (s.pickup, s.delivery)}
    single = [n.job for n in model.nodes if n.job is not None and n.job.id not in shipment_legs]
    boards = any(j.kind == JobKind.PICKUP for j in single) or any(
        n.job is not None and n.job.id in shipment_legs for n in model.nodes
    )
    # Counting hand-overs would miss that single deliveries are still on board when
    # something else boards: with 8 to deliver, a 5-parcel pickup first makes 13, not 5.
    mixed = any(j.kind == JobKind.DELIVERY for j in single) and boards
    has_reloads = any(n.kind == VisitKind.RELOAD for n in model.nodes)
    solver = routing.solver()
    for dim_index, name in enumerate(Load.DIMENSIONS):
        demands = [0 if n.job is None else n.job.demand.as_tuple()[dim_index] for n in model.nodes]
        if not any(demands):
            continue
        caps = [v.capacity.as_tuple()[dim_index] for v in vehicles]
        top = max(caps)
        exact_mixed = mixed and not has_reloads
        transit = []
        for node, amount in zip(model.nodes, demands, strict=True):
            job = node.job
            if node.kind == VisitKind.RELOAD:
                transit.append(-top)
            elif job is None:
                transit.append(0)
            elif job.id in shipment_legs:
                transit.append(amount if job.kind == JobKind.PICKUP else -amount)
            elif exact_mixed and job.kind == JobKind.DELIVERY:
                transit.append(-amount)
            else:
                transit.append(amount)
        callback = routing.RegisterUnaryTransitVector(transit)
        routing.AddDimensionWithVehicleCapacity(
            callback, top if has_reloads else 0, caps, not exact_mixed, f"load_{name}"
        )
        load = routing.GetDimensionOrDie(f"load_{name}")
        if has_reloads:
            for node_id, node in enumerate(model.nodes):
                if node.kind in (VisitKind.END,):
                    continue
                index = manager.NodeToIndex(node_id)
                if node.kind != VisitKind.RELOAD:
                    load.SlackVar(index).SetValue(0)
        if exact_mixed:
            delivered = [
                amount
                if n.job is not None
                and n.job.id not in shipment_legs
                and n.job.kind == JobKind.DELIVERY
                else 0
                for n, amount in zip(model.nodes, demands, strict=True)
            ]
            routing.AddDimensionWithVehicleCapacity(
                routing.RegisterUnaryTransitVector(delivered), 0, caps, True, f"delivered_{name}"
            )
            counted = routing.GetDimensionOrDie(f"delivered_{name}")
            for v_index in range(len(vehicles)):
                solver.Add(
                    load.CumulVar(routing.Start(v_index)) == counted.CumulVar(routing.End(v_index))
                )


def _read_solution(model, routing, manager, assignment, time_dim, break_vars, objective, started):
    problem, params = model.problem, model.params
    ts = params.time_scale
    routes: list[Route] = []
    served: set[str] = set()
    for v_index, vehicle in enumerate(problem.vehicles):
        index = routing.Start(v_index)
        if routing.IsEnd(assignment.Value(routing.NextVar(index))):
            continue
        matrix = problem.matrices[vehicle.profile]
        visits: list[Visit] = []
        distance = 0.0
        prev_loc: int | None = None
        prev_departure = 0.0
        while True:
            node = model.nodes[manager.IndexToNode(index)]
            start_s = assignment.Value(time_dim.CumulVar(index)) / ts
            location = node.location if node.location is not None else prev_loc
            if prev_loc is None:
                arrival = start_s
            else:
                travel = 0.0 if node.location is None else matrix.durations_s[prev_loc][location]
                distance += 0.0 if node.location is None else matrix.distances_m[prev_loc][location]
                arrival = prev_departure + travel
            if node.kind == VisitKind.END:
                start_s = arrival
            departure = start_s + node.service_s
            visits.append(
                Visit(
                    node.kind,
                    location,
                    arrival,
                    start_s,
                    departure,
                    node.job.id if node.job is not None else None,
                )
            )
            if node.job is not None:
                served.add(node.job.id)
            if routing.IsEnd(index):
                break
            prev_loc, prev_departure = location, departure
            index = assignment.Value(routing.NextVar(index))
        visits = _with_breaks(visits, vehicle, break_vars.get(v_index, []), assignment, ts)
        duration = visits[-1].arrival_s - visits[0].departure_s
        energy = vehicle.energy.energy_wh(distance) if vehicle.energy else 0.0
        routes.append(
            Route(
                vehicle_id=vehicle.id,
                visits=tuple(visits),
                distance_m=distance,
                duration_s=duration,
                energy_wh=energy,
                cost=_route_cost(vehicle, distance, duration, objective),
            )
        )
    missing = [j.id for j in problem.all_jobs if j.id not in served]
    already = {u.job_id for u in model.left_out}
    unassigned = list(model.left_out) + explain_unassigned(
        problem, [j for j in missing if j not in already]
    )
    stats: dict[str, float | int | str] = {
        "status": int(routing.status()),
        "nodes": len(model.nodes),
    }
    if problem.has_preferences:
        served_by = {job_id: r.vehicle_id for r in routes for job_id in r.job_ids}
        stats["moved_from_preferred"] = len(problem.moved_from_preferred(served_by))
    return Solution(
        routes=tuple(routes),
        unassigned=tuple(unassigned),
        objective=sum(r.cost for r in routes),
        backend="ortools",
        solve_s=time.monotonic() - started,
        stats=stats,
    )


def _with_breaks(
    visits: list[Visit], vehicle: Vehicle, intervals, assignment, ts: int
) -> list[Visit]:
    """Insert each break where OR-Tools scheduled it: between the visits it falls between.

    Every break is a compulsory interval in the model (optional intervals tied to the route's
    working time by extra constraints stalled the search: measured, a 500-order re-plan with
    them left parcels on board without a stop). A break in a route working too little to owe
    it (no longer than its threshold) is dropped, wherever it landed; one owed but scheduled
    after the route is back goes last, where the checker times it."""
    out = list(visits)
    back_s = out[-1].arrival_s if out else 0.0
    timed = [
        (pause, assignment.StartValue(i) / ts, assignment.DurationValue(i) / ts)
        for pause, i in zip(vehicle.breaks, intervals, strict=True)
    ]
    leave_s = out[0].departure_s if out else 0.0
    paused_s = sum(d for _, b, d in timed if leave_s - 1e-9 <= b < back_s - 1e-9)
    work_s = back_s - leave_s - paused_s
    for pause, begin, duration in timed:
        if work_s <= pause.after_work_s:
            continue  # the route works too little to owe it
        position = next(
            (i for i, v in enumerate(out) if i > 0 and v.start_s >= begin + duration - 1e-9),
            len(out) - 1,
        )
        where = out[position - 1].location
        out.insert(position, Visit(VisitKind.BREAK, where, begin, begin, begin + duration))
    return out


def _route_cost(
    vehicle: Vehicle, distance_m: float, duration_s: float, objective: Objective
) -> float:
    if objective == Objective.DISTANCE:
        return distance_m
    costs = vehicle.costs
    return costs.fixed + costs.per_km * distance_m / 1000 + costs.per_hour * duration_s / 3600


def _empty_solution(model: _Model, started: float) -> Solution:
    problem = model.problem
    left = {u.job_id for u in model.left_out}
    rest = [j.id for j in problem.all_jobs if j.id not in left]
    return Solution(
        routes=(),
        unassigned=tuple(model.left_out) + tuple(explain_unassigned(problem, rest)),
        objective=0.0,
        backend="ortools",
        solve_s=time.monotonic() - started,
        # Nothing is served, so nothing is moved.
        stats={"moved_from_preferred": 0} if problem.has_preferences else {},
    )
