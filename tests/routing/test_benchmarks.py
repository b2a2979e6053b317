"""Solomon instances and the generated city day, end to end through ``solve`` and the checker.

Short time limits: these prove the whole path (reader, model, search, checker) stays
correct. The quality figures at 10 s and 30 s come from ``make bench-routing``.
"""

from pathlib import Path

import pytest

from lastmile.routing.checker import check
from lastmile.routing.instances import city_instance
from lastmile.routing.params import Backend, Objective, SolverParams
from lastmile.routing.solomon import read_best_known, read_instance
from lastmile.routing.solver import choose_backend, solve

SOLOMON = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "solomon"

pytestmark = pytest.mark.skipif(
    not SOLOMON.is_dir(), reason=f"Solomon instances not found at {SOLOMON}"
)


def solomon(name: str, backend: Backend, seconds: float):
    problem = read_instance(SOLOMON / f"{name}.txt")
    params = SolverParams(
        time_limit_s=seconds,
        backend=backend,
        objective=Objective.DISTANCE,
        distance_scale=100,
        time_scale=100,
    )
    solution = solve(problem, params)
    report = check(problem, solution)
    best = read_best_known(SOLOMON / "bks.csv")[name]
    return solution, report, 100 * (report.distance_m / best.distance - 1)


def test_the_reader_keeps_every_customer_window_and_the_fleet():
    problem = read_instance(SOLOMON / "R101.txt")
    assert len(problem.jobs) == 100
    assert len(problem.vehicles) == 25
    assert problem.vehicles[0].capacity.parcels == 200
    first = problem.jobs[0]
    assert (first.time_windows[0].start_s, first.time_windows[0].end_s, first.service_s) == (
        161,
        171,
        10,
    )


@pytest.mark.parametrize("name", ["C101", "R101", "RC101"])
def test_ortools_serves_every_customer_of_tight_window_instances(name):
    # R101 and RC101 are where a plain path-cheapest-arc start finds nothing at all.
    solution, report, gap = solomon(name, Backend.ORTOOLS, 2.0)
    assert report.feasible, report.violations
    assert not solution.unassigned
    assert gap < 10


def test_the_automatic_backend_is_pyvrp_for_solomon_and_near_the_best_known():
    problem = read_instance(SOLOMON / "C101.txt")
    assert choose_backend(problem, SolverParams()) == Backend.PYVRP
    solution, report, gap = solomon("C101", Backend.AUTO, 2.0)
    assert solution.backend == "pyvrp"
    assert report.feasible, report.violations
    assert gap < 1.0


def test_a_generated_city_day_is_planned_feasibly_with_money_as_the_objective():
    # given: 80 deliveries with booked slots, 6 e-vans with costs
    problem = city_instance(jobs=80, vehicles=6, seed=3)
    # when
    solution = solve(problem, SolverParams(time_limit_s=3.0, backend=Backend.ORTOOLS))
    report = check(problem, solution)
    # then
    assert report.feasible, report.violations
    assert len(solution.unassigned) <= 2
    assert solution.objective == pytest.approx(sum(r.cost for r in solution.routes))
