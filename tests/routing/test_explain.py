"""Every unassigned job comes back with the constraint that blocks it and the cheapest fix."""

import pytest

from lastmile.routing.checker import check
from lastmile.routing.problem import EnergyModel, TimeWindow
from lastmile.routing.solution import UnassignedReason
from lastmile.routing.solver import solve
from tests.routing.builders import job, ortools, problem, van


def unassigned_of(p, job_id):
    solution = solve(p, ortools(0.5))
    assert check(p, solution).feasible
    return next(u for u in solution.unassigned if u.job_id == job_id)


def test_a_skill_no_vehicle_offers_is_named_with_its_fix():
    # given
    p = problem([0, 1000], [job("A", 1, skills=frozenset({"hazmat"}))], [van()])
    # when
    u = unassigned_of(p, "A")
    # then
    assert u.reason == UnassignedReason.NO_SKILL
    assert "hazmat" in u.detail
    assert u.fix == "add a vehicle with hazmat"


def test_a_demand_beyond_every_vehicle_asks_for_a_bigger_one():
    # given
    p = problem(
        [0, 1000], [job("A", 1, parcels=50)], [van("small", parcels=10), van("mid", parcels=20)]
    )
    # when
    u = unassigned_of(p, "A")
    # then
    assert u.reason == UnassignedReason.CAPACITY
    assert "parcels 50 > 20" in u.detail
    assert u.fix == "a vehicle with capacity of at least parcels 50"


def test_a_stop_beyond_every_battery_asks_for_more_range():
    # given: 8 km away (16 km there and back), 10 km of usable range
    p = problem(
        [0, 8000],
        [job("A", 1)],
        [van("ev", energy=EnergyModel(usable_wh=2000, wh_per_km=200))],
    )
    # when
    u = unassigned_of(p, "A")
    # then
    assert u.reason == UnassignedReason.RANGE
    assert "16.0 km" in u.detail
    assert u.fix == "a vehicle with at least 16 km of range"


def test_a_window_closing_before_anyone_can_arrive_suggests_a_later_one():
    # given: 6 km away takes 600 s from a 08:00 shift start; the window closes 08:05
    p = problem(
        [0, 6000],
        [job("A", 1, window=(8 * 3600, 8 * 3600 + 300))],
        [van(shift=TimeWindow(8 * 3600, 18 * 3600))],
    )
    # when
    u = unassigned_of(p, "A")
    # then
    assert u.reason == UnassignedReason.WINDOW
    assert "08:05" in u.detail
    assert u.fix == "a window open until 08:10 or later"


def test_a_stop_reachable_but_too_far_for_the_shift_asks_for_a_longer_shift():
    # given: reachable by 09:00 in its window, but the shift ends before the way back
    p = problem(
        [0, 18_000],
        [job("A", 1, window=(0, 10 * 3600))],
        [van(shift=TimeWindow(8 * 3600, 8 * 3600 + 2700))],
    )
    # when
    u = unassigned_of(p, "A")
    # then
    assert u.reason == UnassignedReason.SHIFT
    assert u.fix == "a shift ending at 09:00 or later"


def test_a_job_feasible_alone_but_crowded_out_is_dropped_for_cost():
    # given: each order fits alone, the van holds only one
    p = problem(
        [0, 1000, 1200], [job("A", 1, parcels=8), job("B", 2, parcels=8)], [van(parcels=10)]
    )
    # when
    solution = solve(p, ortools(0.5))
    # then
    assert len(solution.unassigned) == 1
    assert solution.unassigned[0].reason == UnassignedReason.DROPPED_FOR_COST


@pytest.mark.parametrize("parcels", [50])
def test_a_job_blocked_alone_never_enters_the_model_but_the_rest_is_planned(parcels):
    # given: one impossible order among good ones
    p = problem(
        [0, 1000, 2000],
        [job("big", 1, parcels=parcels), job("ok", 2)],
        [van(parcels=10)],
    )
    # when
    solution = solve(p, ortools(0.5))
    # then
    assert solution.routes[0].job_ids == ["ok"]
    assert [(u.job_id, u.reason) for u in solution.unassigned] == [
        ("big", UnassignedReason.CAPACITY)
    ]
