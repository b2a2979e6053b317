"""One entry point: pick the backend for the problem, solve, and say which one ran."""

from __future__ import annotations

import logging

from lastmile.routing.params import Backend, SolverParams
from lastmile.routing.problem import Problem
from lastmile.routing.solution import Solution

logger = logging.getLogger(__name__)


def choose_backend(problem: Problem, params: SolverParams) -> Backend:
    """PyVRP where it models the whole problem (it searches better), OR-Tools otherwise."""
    from lastmile.routing.pyvrp_backend import unsupported_reason

    if params.backend != Backend.AUTO:
        return params.backend
    reason = unsupported_reason(problem, params)
    if reason is None:
        return Backend.PYVRP
    logger.info("routing backend: ortools", extra={"reason": reason})
    return Backend.ORTOOLS


def solve(problem: Problem, params: SolverParams | None = None) -> Solution:
    """Solve ``problem`` within ``params.time_limit_s`` on the chosen backend."""
    from lastmile.routing.ortools_backend import solve_ortools
    from lastmile.routing.pyvrp_backend import BackendFailed, solve_pyvrp, unsupported_reason

    params = params or SolverParams()
    backend = choose_backend(problem, params)
    if backend == Backend.PYVRP:
        reason = unsupported_reason(problem, params)
        if reason is not None:
            raise ValueError(f"the PyVRP backend cannot solve this problem: {reason}")
        try:
            return solve_pyvrp(problem, params)
        except BackendFailed as exc:
            if params.backend == Backend.PYVRP:
                raise
            logger.warning(
                "pyvrp found no feasible plan; falling back to ortools", extra={"error": str(exc)}
            )
    return solve_ortools(problem, params)
