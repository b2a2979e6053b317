"""Drivers' breaks owed by a working-time rule: the checker's verdict, and both backends.

On the road of ``builders`` a van covers 1 km in 100 s. A break with ``after_work_s`` is owed
only by a route working longer than that; one without is owed by every route with a stop.
"""

import dataclasses

import pytest

from lastmile.routing.checker import check
from lastmile.routing.params import Backend, SolverParams
from lastmile.routing.problem import Break, TimeWindow
from lastmile.routing.pyvrp_backend import _Stop, _with_breaks
from lastmile.routing.solution import Route, Solution, Visit, VisitKind
from lastmile.routing.solver import solve
from tests.routing.builders import job, problem, van

HOUR = 3600
# The German rule's first step: 30 minutes, owed after six hours of work.
LUNCH = Break(TimeWindow(3 * HOUR, 6 * HOUR), 1800, after_work_s=6 * HOUR)


def hand_route(vehicle_id, *steps):
    """A route of job ids and "break" markers; the checker re-times it from the problem."""
    visits = [Visit(VisitKind.START, 0, 0, 0, 0)]
    for step in steps:
        kind = VisitKind.BREAK if step == "break" else VisitKind.JOB
        visits.append(Visit(kind, 0, 0, 0, 0, None if step == "break" else step))
    visits.append(Visit(VisitKind.END, 0, 0, 0, 0))
    return Route(vehicle_id, tuple(visits), 0.0, 0.0, 0.0, 0.0)


def solution(*routes):
    return Solution(tuple(routes), (), objective=0.0, backend="hand", solve_s=0.0)


def long_day(breaks=(LUNCH,), first_opens=None):
    """Two stops of four hours' service each: a route serving both works over eight hours
    (``first_opens``: A's service starts no earlier than that)."""
    window = {} if first_opens is None else {"window": (first_opens, 20 * HOUR)}
    return problem(
        [0, 1000, 2000],
        [job("A", 1, service_s=4 * HOUR, **window), job("B", 2, service_s=4 * HOUR)],
        [van("v1", breaks=breaks)],
    )


def test_a_route_finished_within_the_threshold_needs_no_break():
    # given: two stops a few minutes out
    p = problem([0, 1000, 2000], [job("A", 1), job("B", 2)], [van("v1", breaks=(LUNCH,))])
    # when
    report = check(p, solution(hand_route("v1", "A", "B")))
    # then
    assert report.feasible, report.violations


def test_a_route_over_the_threshold_without_its_break_is_flagged():
    # when
    report = check(long_day(), solution(hand_route("v1", "A", "B")))
    # then
    assert any("1 break(s) not taken" in v for v in report.violations), report.violations


def test_a_route_over_the_threshold_with_its_break_passes():
    # given: the break after A, which is done at 4 h 01 min: inside the window
    report = check(long_day(), solution(hand_route("v1", "A", "break", "B")))
    # then
    assert report.feasible, report.violations


def test_a_break_without_a_threshold_is_owed_by_any_route_with_a_stop():
    # given
    always = Break(TimeWindow(0, HOUR), 600)
    p = problem([0, 1000], [job("A", 1)], [van("v1", breaks=(always,))])
    # when
    report = check(p, solution(hand_route("v1", "A")))
    # then
    assert any("break(s) not taken" in v for v in report.violations)


@pytest.mark.parametrize("backend", [Backend.PYVRP, Backend.ORTOOLS])
def test_a_long_route_takes_its_break_and_a_short_one_does_not(backend):
    # given
    short = problem([0, 1000, 2000], [job("A", 1), job("B", 2)], [van("v1", breaks=(LUNCH,))])
    params = SolverParams(time_limit_s=1.0, backend=backend)
    # when
    long_plan = solve(long_day(), params)
    short_plan = solve(short, params)
    # then: both served, checker clean, a break only where owed
    for p, plan, breaks in ((long_day(), long_plan, 1), (short, short_plan, 0)):
        report = check(p, plan)
        assert report.feasible, report.violations
        assert not plan.unassigned
        taken = [v for v in plan.routes[0].visits if v.kind == VisitKind.BREAK]
        assert len(taken) == breaks
        assert all(LUNCH.window.start_s <= v.start_s <= LUNCH.window.end_s for v in taken)


def test_pyvrp_takes_the_break_while_the_van_would_wait_for_a_window():
    # given: A must be served at once, B opens at 7 h, long after A is done at 4 h 02 min:
    # the van waits there anyway, and the day is over six hours
    p = problem(
        [0, 1000, 2000],
        [
            job("A", 1, service_s=4 * HOUR, window=(0, 100)),
            job("B", 2, window=(7 * HOUR, 8 * HOUR)),
        ],
        [van("v1", breaks=(LUNCH,))],
    )
    without = problem([0, 1000, 2000], list(p.jobs), [van("v1")])
    # when
    plan = solve(p, SolverParams(time_limit_s=0.5, backend=Backend.PYVRP))
    plain = solve(without, SolverParams(time_limit_s=0.5, backend=Backend.PYVRP))
    # then: the break costs the day nothing
    assert check(p, plan).feasible
    assert [v.kind for v in plan.routes[0].visits].count(VisitKind.BREAK) == 1
    assert plan.routes[0].visits[-1].arrival_s == pytest.approx(
        plain.routes[0].visits[-1].arrival_s
    )


def test_a_route_that_cannot_take_its_break_hands_a_job_to_another_vehicle():
    # given: v1 serves A then B; a 1,000 s break must start between 150 s and 250 s, which
    # makes B (closing at 400 s) late wherever it goes. v2 may pause later, after B.
    early = Break(TimeWindow(150, 250), 1000)
    late = Break(TimeWindow(400, 500), 1000)
    a, b = job("A", 1, window=(100, 200)), job("B", 2, window=(300, 400))
    v1, v2 = van("v1", breaks=(early,)), van("v2", breaks=(late,))
    p = problem([0, 1000, 2000], [a, b], [v1, v2])
    stats: dict = {}
    # when
    routes = _with_breaks(
        p, [(v1, [_Stop(a, a.time_windows[0]), _Stop(b, b.time_windows[0])])], [v2], stats
    )
    # then: B moved to v2, each route with its break
    by_vehicle = {vehicle.id: items for vehicle, items in routes}
    assert [i.job.id for i in by_vehicle["v1"] if isinstance(i, _Stop)] == ["A"]
    assert [i.job.id for i in by_vehicle["v2"] if isinstance(i, _Stop)] == ["B"]
    assert stats["break_repairs"] == 1
    assert stats["breaks_placed"] == 2


def test_a_break_after_more_work_in_a_row_than_allowed_is_flagged():
    # given: a break due within 3 h of work, taken only after B, about 4 h in
    pause = dataclasses.replace(LUNCH, window=TimeWindow(0, 23 * HOUR), within_s=3 * HOUR)
    p = long_day(breaks=(pause,))
    # when
    report = check(p, solution(hand_route("v1", "A", "B", "break")))
    # then
    assert any("of work in a row" in v for v in report.violations), report.violations


def test_work_in_a_row_counts_from_leaving_not_from_the_shift_start():
    # given: a break due within 5 h of work; A opens at 04:00, so the van leaves just before
    pause = dataclasses.replace(LUNCH, window=TimeWindow(0, 23 * HOUR), within_s=5 * HOUR)
    p = long_day(breaks=(pause,), first_opens=4 * HOUR)
    # when: the break after A, some 4 h after leaving but over 8 h after the shift start
    report = check(p, solution(hand_route("v1", "A", "break", "B")))
    # then
    assert report.feasible, report.violations


@pytest.mark.parametrize("backend", [Backend.PYVRP, Backend.ORTOOLS])
def test_both_backends_pause_within_the_work_limit_of_a_route_leaving_late(backend):
    # given: a break due within 5 h of work, anywhere in the day; the van leaves near 04:00
    pause = dataclasses.replace(LUNCH, window=TimeWindow(0, 23 * HOUR), within_s=5 * HOUR)
    p = long_day(breaks=(pause,), first_opens=4 * HOUR)
    # when
    plan = solve(p, SolverParams(time_limit_s=1.0, backend=backend))
    # then: served, one break, checker clean (the work in a row included)
    report = check(p, plan)
    assert report.feasible, report.violations
    assert not plan.unassigned
    assert sum(v.kind == VisitKind.BREAK for v in plan.routes[0].visits) == 1
