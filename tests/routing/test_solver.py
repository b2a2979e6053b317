"""The one entry point: which backend runs, falling back, and stopping a search on request."""

import time

import pytest

from lastmile.routing.checker import check
from lastmile.routing.instances import city_instance
from lastmile.routing.params import Backend, SolverParams
from lastmile.routing.problem import Break, TimeWindow
from lastmile.routing.solver import choose_backend, solve
from tests.routing.builders import job, problem, van


def test_breaks_and_skills_stay_on_pyvrp_and_a_fixed_sequence_goes_to_ortools():
    skilled = problem(
        [0, 1000],
        [job("A", 1, skills=frozenset({"cold_chain"}))],
        [van("v1"), van("v2", skills=frozenset({"cold_chain"}))],
    )
    pause = Break(TimeWindow(0, 3600), 600)
    with_break = problem([0, 1000], [job("A", 1)], [van("v1", breaks=(pause,))])
    fixed = problem([0, 1000], [job("A", 1)], [van("v1", fixed_sequence=("A",))])
    assert choose_backend(skilled, SolverParams()) == Backend.PYVRP
    # Breaks used to send the day to OR-Tools; PyVRP now places them into its routes.
    assert choose_backend(with_break, SolverParams()) == Backend.PYVRP
    solution = solve(with_break, SolverParams(time_limit_s=0.3))
    assert solution.backend == "pyvrp"
    assert check(with_break, solution).feasible
    assert choose_backend(fixed, SolverParams()) == Backend.ORTOOLS
    assert solve(fixed, SolverParams(time_limit_s=0.3)).backend == "ortools"


def test_forcing_pyvrp_on_a_problem_it_cannot_model_is_refused_with_the_reason():
    p = problem([0, 1000], [job("A", 1)], [van("v1", fixed_sequence=("A",))])
    with pytest.raises(ValueError, match="fixed sequence"):
        solve(p, SolverParams(time_limit_s=0.3, backend=Backend.PYVRP))


@pytest.mark.parametrize("backend", [Backend.ORTOOLS, Backend.PYVRP])
def test_a_cancelled_search_stops_early_with_a_feasible_plan(backend):
    # given: a 30 s budget, cancelled after about a second
    p = city_instance(jobs=120, vehicles=8, seed=5)
    started = time.monotonic()

    def cancelled() -> bool:
        return time.monotonic() - started > 1.0

    # when
    solution = solve(p, SolverParams(time_limit_s=30, backend=backend, should_stop=cancelled))
    # then
    assert time.monotonic() - started < 10
    assert check(p, solution).feasible
    assert len(solution.unassigned) < len(p.jobs)
