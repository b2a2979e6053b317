"""Solving and checking: the engine finds the routes, the independent checker is the gate.

Every caller (a day's plan, a moved stop, a re-plan) solves through :func:`solution_find` and
stores nothing the checker in :func:`solution_check` rejects; each says in its own words what
was refused. Progress and cancel travel in the ``SolverParams`` (``progress``, ``should_stop``).
"""

from __future__ import annotations

from collections.abc import Callable

from lastmile.core.errors import ApplicationError
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.routing.checker import CheckReport, check
from lastmile.routing.params import SolverParams
from lastmile.routing.problem import Problem
from lastmile.routing.solution import Solution
from lastmile.routing.solver import solve


class InfeasiblePlan(ApplicationError):
    """The solver's plan breaks a rule the independent checker enforces; it is not stored."""

    code = DispatchErrorCode.INFEASIBLE_PLAN
    status = 409
    title = "The plan breaks a constraint"


def solution_find(problem: Problem, params: SolverParams) -> Solution:
    """The engine's routes for ``problem``; nothing to deliver is an empty solution without
    asking the solver."""
    if not problem.jobs and not problem.shipments:
        return Solution(routes=(), unassigned=(), objective=0.0, backend="none", solve_s=0.0)
    return solve(problem, params)


def solution_check(
    problem: Problem,
    solution: Solution,
    *,
    refused: Callable[[CheckReport], ApplicationError] | None = None,
) -> CheckReport:
    """The independent checker's report on ``solution``; raises ``refused(report)`` (by
    default ``InfeasiblePlan``) when it breaks a rule, so the caller stores nothing."""
    report = check(problem, solution)
    if not report.feasible:
        raise (refused or _infeasible_plan)(report)
    return report


def _infeasible_plan(report: CheckReport) -> InfeasiblePlan:
    return InfeasiblePlan(
        f"The solver's plan breaks {len(report.violations)} rule(s), so it was not stored. "
        f"First: {report.violations[0]}",
        extra={"violations": report.violations[:20]},
    )
