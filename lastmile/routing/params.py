"""How to solve: backend, search strategy, time limit, integer scaling, progress reporting."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from lastmile.routing.problem import Problem
from lastmile.routing.solution import ProgressCallback


class Backend(StrEnum):
    AUTO = "auto"  # PyVRP where the problem fits its model, OR-Tools otherwise
    ORTOOLS = "ortools"  # every feature of the problem model
    # Capacities, windows, skills, ranges, costs, multi-trip and pickup-delivery pairs (not
    # both together), breaks (placed into its routes after the search); no fixed sequences
    # or pinned jobs.
    PYVRP = "pyvrp"


class Objective(StrEnum):
    AUTO = "auto"  # money where vehicles carry costs, distance otherwise
    COST = "cost"  # fixed + per km + per hour, in minor units
    DISTANCE = "distance"  # total distance only (how the Solomon best-knowns are measured)


@dataclass(frozen=True, slots=True)
class SolverParams:
    time_limit_s: float = 10.0
    backend: Backend = Backend.AUTO
    objective: Objective = Objective.AUTO
    # OR-Tools names (routing_enums_pb2): FirstSolutionStrategy and LocalSearchMetaheuristic.
    # "AUTO" picks per problem: insertion for tight windows, the arc heuristic for wide ones.
    first_solution: str = "AUTO"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    # Integer models need integer data: distances and times are multiplied by these before
    # rounding (travel times round up, so a plan on time in the model is on time for real).
    distance_scale: int = 1
    time_scale: int = 1
    seed: int = 1
    # Re-planning with "minimal changes": what serving a job on a vehicle other than its
    # ``preferred_vehicle_id`` costs, once per such job, in objective units (metres under the
    # distance objective, minor currency units under the cost objective). 0 ignores
    # preferences. Never worth dropping a job over: the drop penalty stays above it.
    move_cost: float = 0.0
    # Vehicle id → job ids in order: the plan being re-planned, where OR-Tools starts its
    # search (jobs not listed start unassigned). Ignored when it breaks a hard rule, and by
    # PyVRP, whose search starts from scratch.
    initial_routes: Mapping[str, tuple[str, ...]] | None = None
    progress: ProgressCallback | None = None
    # Asked now and then during the search; True ends it early with the best plan so far
    # (a dispatcher cancelling a planning run). Cheap calls only: see ``throttled``.
    should_stop: Callable[[], bool] | None = None
    log_search: bool = False


def resolve_objective(problem: Problem, params: SolverParams) -> Objective:
    """``AUTO`` means money where any vehicle carries costs, distance otherwise."""
    if params.objective != Objective.AUTO:
        return params.objective
    if any(not v.costs.is_zero for v in problem.vehicles):
        return Objective.COST
    return Objective.DISTANCE


def throttled(check: Callable[[], bool], every_s: float = 0.5) -> Callable[[], bool]:
    """``check`` asked at most every ``every_s`` seconds; the search polls far more often."""
    last = [float("-inf")]
    stopped = [False]

    def poll() -> bool:
        now = time.monotonic()
        if not stopped[0] and now - last[0] >= every_s:
            last[0] = now
            stopped[0] = bool(check())
        return stopped[0]

    return poll
