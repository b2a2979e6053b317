"""Each constraint of the OR-Tools backend on a problem small enough to know the answer.

Every solution is also checked by the independent checker, so a test passes only when the
plan is right and really feasible.
"""

import itertools

import pytest

from lastmile.routing.checker import check
from lastmile.routing.params import Objective
from lastmile.routing.problem import (
    PRIORITY_URGENT,
    Break,
    Costs,
    EnergyModel,
    Job,
    JobKind,
    Load,
    Shipment,
    TimeWindow,
)
from lastmile.routing.solution import Progress, VisitKind
from lastmile.routing.solver import solve
from tests.routing.builders import job, ortools, problem, van


def solved(p, params=None):
    solution = solve(p, params or ortools())
    report = check(p, solution)
    assert report.feasible, report.violations
    return solution


def test_a_window_forces_the_far_stop_first():
    # given: B lies beyond A, but B closes early and A opens late
    p = problem(
        [0, 1000, 2000],
        [job("A", 1, window=(500, 1000)), job("B", 2, window=(0, 250))],
        [van()],
    )
    # when
    solution = solved(p)
    # then
    assert solution.routes[0].job_ids == ["B", "A"]


def test_a_skill_only_one_vehicle_has_puts_the_job_on_that_vehicle():
    # given: the chilled job; only v2 has a cold box, and v2 costs more to run
    p = problem(
        [0, 1000],
        [job("chilled", 1, skills=frozenset({"cold_chain"}))],
        [
            van("v1", costs=Costs(per_km=10)),
            van("v2", skills=frozenset({"cold_chain"}), costs=Costs(fixed=500, per_km=50)),
        ],
    )
    # when
    solution = solved(p)
    # then
    assert solution.route_of("v2").job_ids == ["chilled"]
    assert solution.route_of("v1") is None


def test_a_capacity_forces_a_second_vehicle():
    # given: two orders of 6 parcels, vans of 10
    p = problem(
        [0, 1000, 1100],
        [job("A", 1, parcels=6), job("B", 2, parcels=6)],
        [van("v1", parcels=10), van("v2", parcels=10)],
    )
    # when
    solution = solved(p)
    # then
    assert solution.vehicles_used == 2
    assert not solution.unassigned


def test_a_battery_range_forces_a_second_ev():
    # given: stops 5 km east and 5 km west; each EV has 12 km of usable range
    ev = {"energy": EnergyModel(usable_wh=2400, wh_per_km=200)}
    p = problem(
        [0, 5000, -5000],
        [job("east", 1), job("west", 2)],
        [van("ev1", **ev), van("ev2", **ev)],
    )
    # when
    solution = solved(p)
    report = check(p, solution)
    # then: one round trip is 10 km (2,000 Wh); both on one EV would be 20 km
    assert solution.vehicles_used == 2
    assert all(r.energy_wh <= 2400 for r in report.routes)
    assert sorted(round(r.energy_wh) for r in solution.routes) == [2000, 2000]


def test_a_pickup_and_its_delivery_ride_the_same_vehicle_pickup_first():
    # given: collect at 3 km, deliver at 1 km (the short way would pass the delivery first)
    pair = Shipment(
        "S1",
        pickup=Job("S1-p", 2, JobKind.PICKUP, Load(parcels=1)),
        delivery=Job("S1-d", 1, JobKind.DELIVERY, Load(parcels=1)),
    )
    p = problem([0, 1000, 3000], [], [van("v1"), van("v2")], shipments=[pair])
    # when
    solution = solved(p)
    # then
    routes = [r for r in solution.routes if r.job_ids]
    assert len(routes) == 1
    assert routes[0].job_ids == ["S1-p", "S1-d"]


def test_a_cargo_bike_with_small_capacity_makes_two_trips():
    # given: one bike carrying 2 parcels, four 1-parcel orders, two trips allowed
    bike = van("bike", parcels=2, max_trips=2, reload_s=300, profile="cargo_bike")
    p = problem(
        [0, 500, 600, -500, -600],
        [job(f"o{i}", i) for i in range(1, 5)],
        [bike],
        profiles=("cargo_bike",),
    )
    # when
    solution = solved(p)
    # then
    route = solution.routes[0]
    assert len(route.trips) == 2
    assert all(len(trip) == 2 for trip in route.trips)
    reloads = [v for v in route.visits if v.kind == VisitKind.RELOAD]
    assert len(reloads) == 1
    assert reloads[0].departure_s - reloads[0].start_s == 300


def test_fixed_jobs_stay_at_the_head_of_their_route_in_order():
    # given: a re-plan where the far stop is already next, then the middle one
    p = problem(
        [0, 500, 3000, 1500],
        [job("near", 1), job("far", 2), job("middle", 3)],
        [van("v1", fixed_sequence=("far", "middle"))],
    )
    # when
    solution = solved(p)
    # then
    assert solution.routes[0].job_ids[:2] == ["far", "middle"]
    assert set(solution.routes[0].job_ids) == {"near", "far", "middle"}


def test_a_loaded_parcel_stays_on_its_vehicle():
    # given: v1 sits next to the stop, but the parcel is already loaded on v2
    p = problem(
        [0, 100],
        [job("loaded", 1, vehicle_id="v2")],
        [van("v1"), van("v2", costs=Costs(fixed=100))],
    )
    # when
    solution = solved(p)
    # then
    assert solution.route_of("v2").job_ids == ["loaded"]


def test_a_pickup_after_deliveries_uses_the_room_they_freed():
    # given: a full van (10 of 10) delivers 10 at A, then collects a 10-parcel return at B
    p = problem(
        [0, 1000, 2000],
        [
            job("deliver", 1, parcels=10),
            Job("collect", 2, JobKind.PICKUP, Load(parcels=10)),
        ],
        [van("v1", parcels=10)],
    )
    # when
    solution = solved(p)
    # then
    assert solution.routes[0].job_ids == ["deliver", "collect"]


def test_a_break_is_taken_inside_its_window():
    # given: a 30-minute break to start between 200 s and 400 s
    pause = Break(TimeWindow(200, 400), 1800)
    p = problem([0, 1000, 2000], [job("A", 1), job("B", 2)], [van("v1", breaks=(pause,))])
    # when
    solution = solved(p)
    # then
    breaks = [v for v in solution.routes[0].visits if v.kind == VisitKind.BREAK]
    assert len(breaks) == 1
    assert 200 <= breaks[0].start_s <= 400
    assert breaks[0].departure_s - breaks[0].start_s == 1800


def test_an_urgent_job_wins_the_last_space():
    # given: room for one of two orders
    p = problem(
        [0, 1000, 1000],
        [job("normal", 1, parcels=5), job("urgent", 2, parcels=5, priority=PRIORITY_URGENT)],
        [van("v1", parcels=5)],
    )
    # when
    solution = solved(p)
    # then
    assert solution.routes[0].job_ids == ["urgent"]
    assert [u.job_id for u in solution.unassigned] == ["normal"]


def test_a_second_time_window_is_used_when_the_first_is_missed():
    # given: 3 km away (300 s), windows 0-100 and 1000-1100
    p = problem(
        [0, 3000],
        [Job("A", 1, time_windows=(TimeWindow(0, 100), TimeWindow(1000, 1100)))],
        [van()],
    )
    # when
    solution = solved(p)
    # then
    visit = next(v for v in solution.routes[0].visits if v.job_id == "A")
    assert 1000 <= visit.start_s <= 1100


def test_an_open_route_ends_at_its_last_stop():
    # given
    p = problem([0, 1000, 2000], [job("A", 1), job("B", 2)], [van("v1", end=None)])
    # when
    solution = solved(p)
    # then: 2 km out, no way back
    assert solution.routes[0].distance_m == pytest.approx(2000)
    assert check(p, solution).distance_m == pytest.approx(2000)


def test_the_cheaper_vehicle_is_used_when_money_is_the_objective():
    # given: same van, one with a high fixed cost
    p = problem(
        [0, 1000],
        [job("A", 1)],
        [
            van("dear", costs=Costs(fixed=5000, per_km=30)),
            van("cheap", costs=Costs(fixed=1000, per_km=30)),
        ],
    )
    # when
    solution = solved(p, ortools(objective=Objective.COST))
    # then
    assert solution.route_of("cheap").job_ids == ["A"]
    assert solution.routes[0].cost == pytest.approx(1000 + 30 * 2)


def test_a_maximum_duration_splits_the_work():
    # given: each stop needs 30 minutes; a driver may work at most 40 minutes
    p = problem(
        [0, 100, 200],
        [job("A", 1, service_s=1800), job("B", 2, service_s=1800)],
        [van("v1", max_duration_s=2400), van("v2", max_duration_s=2400)],
    )
    # when
    solution = solved(p)
    # then
    assert solution.vehicles_used == 2


def test_progress_is_reported_up_to_completion():
    # given
    seen: list[Progress] = []
    p = problem([0, 1000, 2000], [job("A", 1), job("B", 2)], [van()])
    # when
    solved(p, ortools(0.5, progress=seen.append))
    # then
    assert seen[0].fraction == 0.0
    assert seen[-1].fraction == 1.0
    assert seen[-1].best_cost == pytest.approx(4000)
    assert all(a.fraction <= b.fraction for a, b in itertools.pairwise(seen))


def test_the_same_input_gives_the_same_plan():
    # given
    p = problem(
        [0, 300, 900, 1400, 2000, 2500],
        [job(f"o{i}", i, window=(0, 5000)) for i in range(1, 6)],
        [van("v1", parcels=3), van("v2", parcels=3)],
    )
    # when
    first = solve(p, ortools(0.3))
    second = solve(p, ortools(0.3))
    # then
    assert [r.job_ids for r in first.routes] == [r.job_ids for r in second.routes]
