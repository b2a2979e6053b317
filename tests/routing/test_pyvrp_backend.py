"""The PyVRP backend on problems small enough to know the answer (Solomon: test_benchmarks).

Locations sit on a plane, ``POINTS[i]`` metres from the hub; travel is 10 m/s. Every plan is
also checked by the independent checker, so a test passes only when it is really feasible.
"""

import pytest

from lastmile.routing.checker import check
from lastmile.routing.params import Objective, SolverParams
from lastmile.routing.problem import (
    Costs,
    EnergyModel,
    Job,
    JobKind,
    Load,
    Problem,
    Shipment,
)
from lastmile.routing.pyvrp_backend import solve_pyvrp, unsupported_reason
from lastmile.routing.solution import Progress, Solution, UnassignedReason, VisitKind
from tests.routing.builders import job, plane_problem, van

# The hub, then stops around it (metres east, metres north).
POINTS = [(0, 0), (1000, 0), (2000, 0), (0, 1500), (-1200, -400), (3000, 1000), (-2500, 2000)]


def make_problem(jobs, vehicles, shipments=(), points=POINTS) -> Problem:
    return plane_problem(points, jobs, vehicles, shipments)


def params(seconds: float = 0.3, **kwargs) -> SolverParams:
    return SolverParams(time_limit_s=seconds, **kwargs)


def solved(problem: Problem, solver_params: SolverParams | None = None) -> Solution:
    solution = solve_pyvrp(problem, solver_params or params())
    report = check(problem, solution)
    assert report.feasible, report.violations
    assert solution.backend == "pyvrp"
    return solution


def test_capacity_forces_a_second_vehicle():
    # given: four stops of 3 parcels, vans holding 6
    jobs = [job(f"j{i}", i, parcels=3) for i in (1, 2, 3, 4)]
    p = make_problem(jobs, [van("v1", parcels=6), van("v2", parcels=6), van("v3", parcels=6)])

    # when
    solution = solved(p)

    # then: two full vans, nothing left out
    assert solution.vehicles_used == 2
    assert sorted(len(r.job_ids) for r in solution.routes) == [2, 2]
    assert not solution.unassigned


def test_a_window_forces_the_far_stop_first():
    # given: B lies beyond A, but B closes early and A opens late
    p = make_problem([job("A", 1, windows=[(500, 1000)]), job("B", 2, windows=[(0, 250)])], [van()])

    # when
    solution = solved(p)

    # then
    (route,) = solution.routes
    assert route.job_ids == ["B", "A"]
    assert route.distance_m == pytest.approx(4000)


def test_the_route_leaves_late_enough_not_to_wait_at_its_first_stop():
    # given: the only stop opens at 1000 s and is 100 s away
    p = make_problem([job("A", 1, windows=[(1000, 2000)], service_s=60)], [van()])

    # when
    solution = solved(p)

    # then: leave at 900, serve at 1000, back at 1160
    start, visit, end = solution.routes[0].visits
    assert (start.kind, visit.kind, end.kind) == (VisitKind.START, VisitKind.JOB, VisitKind.END)
    assert start.departure_s == pytest.approx(900)
    assert visit.arrival_s == visit.start_s == pytest.approx(1000)
    assert end.arrival_s == pytest.approx(1160)
    assert solution.routes[0].duration_s == pytest.approx(260)


def test_an_unreachable_window_drops_the_job_not_the_plan():
    # given: C closes 10 s after opening time, but the drive takes 150 s
    p = make_problem(
        [job("A", 1), job("B", 2), job("C", 3, windows=[(0, 10)])],
        [van()],
    )

    # when
    solution = solved(p)

    # then
    assert solution.routes[0].job_ids.count("C") == 0
    assert sorted(solution.routes[0].job_ids) == ["A", "B"]
    (dropped,) = solution.unassigned
    assert dropped.job_id == "C"
    assert dropped.reason == UnassignedReason.WINDOW


def test_an_overfull_day_drops_the_normal_job_and_keeps_the_urgent_one():
    # given: room for one parcel, two jobs, the farther one urgent
    p = make_problem(
        [job("normal", 1), job("urgent", 5, priority=3)],
        [van(parcels=1)],
    )

    # when
    solution = solved(p)

    # then
    assert solution.routes[0].job_ids == ["urgent"]
    assert [u.job_id for u in solution.unassigned] == ["normal"]
    assert solution.unassigned[0].reason == UnassignedReason.DROPPED_FOR_COST


def test_a_multi_trip_bike_reloads_at_the_hub():
    # given: a bike carrying 2 parcels, 4 parcels to deliver, two trips allowed
    bike = van("bike", parcels=2, profile="bike", max_trips=2, reload_s=300)
    p = make_problem([job(f"j{i}", i) for i in (1, 2, 3, 4)], [bike])

    # when
    solution = solved(p)

    # then: one route, two trips, a 300 s reload at the hub between them
    (route,) = solution.routes
    assert [len(t) for t in route.trips] == [2, 2]
    (reload,) = [v for v in route.visits if v.kind == VisitKind.RELOAD]
    assert reload.location == 0
    assert reload.departure_s - reload.start_s == pytest.approx(300)
    assert not solution.unassigned


def test_a_range_limit_splits_the_work_between_two_vehicles():
    # given: each stop is a 6 km round trip on its own, the battery lasts 8 km
    battery = EnergyModel(usable_wh=800, wh_per_km=100)
    p = make_problem(
        [job("east", 5), job("west", 6)],
        [van("e1", energy=battery), van("e2", energy=battery)],
        points=[(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (3000, 0), (-3000, 0)],
    )

    # when
    solution = solved(p)

    # then
    assert solution.vehicles_used == 2
    for route in solution.routes:
        assert route.energy_wh == pytest.approx(600)


def test_an_open_route_ends_at_its_last_stop():
    # given
    p = make_problem([job("A", 1), job("B", 2)], [van(end=None)])

    # when
    solution = solved(p)

    # then: out to B without coming back
    (route,) = solution.routes
    assert route.job_ids == ["A", "B"]
    assert route.visits[-1].kind == VisitKind.END
    assert route.visits[-1].location == 2
    assert route.distance_m == pytest.approx(2000)


def test_a_job_with_two_windows_is_served_once_in_the_one_it_can_reach():
    # given: the morning window is unreachable, the afternoon one is not
    p = make_problem([job("A", 3, windows=[(0, 50), (5000, 6000)])], [van()])

    # when
    solution = solved(p)

    # then
    (route,) = solution.routes
    assert route.job_ids == ["A"]
    assert route.visits[1].start_s == pytest.approx(5000)


def test_a_shipment_is_picked_up_before_it_is_delivered():
    # given: collect at 2, drop at 1, both on the way back
    parcel = Load(parcels=1)
    shipment = Shipment(
        "s1",
        Job("s1-pickup", 2, JobKind.PICKUP, parcel),
        Job("s1-delivery", 1, JobKind.DELIVERY, parcel),
    )
    p = make_problem([], [van()], shipments=[shipment])

    # when
    solution = solved(p)

    # then
    assert solution.routes[0].job_ids == ["s1-pickup", "s1-delivery"]


def test_the_cost_objective_prefers_the_cheap_vehicle():
    # given: the same van twice, one with a high fixed cost
    p = make_problem(
        [job("A", 1), job("B", 2)],
        [
            van("dear", costs=Costs(fixed=5000, per_km=10)),
            van("cheap", costs=Costs(fixed=1000, per_km=10, per_hour=600)),
        ],
    )

    # when
    solution = solved(p, params(objective=Objective.AUTO))

    # then: fixed 1000 + 4 km × 10 + 400 s of 600 per hour
    (route,) = solution.routes
    assert route.vehicle_id == "cheap"
    assert route.cost == pytest.approx(1000 + 40 + 600 * 400 / 3600)
    assert solution.objective == pytest.approx(route.cost)


def test_an_overfull_day_with_costs_drops_jobs_instead_of_failing():
    # given: paid vans with room for 2 parcels each, 5 parcels to deliver
    costs = Costs(fixed=700, per_km=35, per_hour=1500)
    p = make_problem(
        [job(f"j{i}", i) for i in (1, 2, 3, 4, 5)],
        [van("v1", parcels=2, costs=costs), van("v2", parcels=2, costs=costs)],
    )

    # when
    solution = solved(p, params(distance_scale=10, time_scale=10))

    # then: both vans full, one job explained
    assert sorted(len(r.job_ids) for r in solution.routes) == [2, 2]
    assert len(solution.unassigned) == 1


def test_progress_is_reported_until_done():
    # given
    seen: list[Progress] = []
    p = make_problem([job("A", 1), job("B", 2)], [van()])

    # when
    solution = solved(p, params(progress=seen.append))

    # then
    assert seen[0].fraction == 0.0
    assert seen[-1].fraction == 1.0
    assert seen[-1].best_cost == pytest.approx(solution.objective)


COLD = frozenset({"cold"})


def test_a_skill_only_one_vehicle_has_keeps_its_job_on_that_vehicle():
    # given: two orders at the same address, one chilled; the chilled van costs more to run
    p = make_problem(
        [job("chilled", 1, skills=COLD), job("plain", 1)],
        [van("cheap", costs=Costs(per_km=10)), van("fridge", skills=COLD, costs=Costs(per_km=50))],
    )
    # when
    solution = solved(p, params(0.5, objective=Objective.COST))
    # then: the chilled order rides the fridge van, the plain one is free to go either way
    assert "chilled" in solution.route_of("fridge").job_ids
    assert not solution.unassigned


def test_skills_crowd_out_only_the_jobs_that_need_them():
    # given: three chilled orders, one small fridge van, a big plain van
    p = make_problem(
        [job(f"c{i}", i, skills=COLD, parcels=4) for i in (1, 2, 3)] + [job("p", 4)],
        [van("fridge", skills=COLD, parcels=8), van("plain", parcels=100)],
    )
    # when
    solution = solved(p)
    # then: one chilled order cannot fit, and the plain van never takes one
    assert len(solution.unassigned) == 1
    plain = solution.route_of("plain")
    assert plain is None or all(not j.startswith("c") for j in plain.job_ids)


@pytest.mark.parametrize(
    ("jobs", "vehicles", "needle"),
    [
        ([job("A", 1)], [van(fixed_sequence=("A",))], "fixed sequence"),
        ([job("A", 1, vehicle_id="v1")], [van("v1"), van("v2")], "pinned"),
    ],
    ids=["fixed sequence", "pinned job"],
)
def test_what_pyvrp_cannot_model_is_named(jobs, vehicles, needle):
    # given
    p = make_problem(jobs, vehicles)

    # when
    reason = unsupported_reason(p, params())

    # then
    assert reason is not None
    assert needle in reason


def test_shipments_on_a_multi_trip_vehicle_are_not_for_pyvrp():
    # given: PyVRP would keep the shipment within one trip; our model does not ask that
    parcel = Load(parcels=1)
    shipment = Shipment(
        "s1",
        Job("s1-pickup", 2, JobKind.PICKUP, parcel),
        Job("s1-delivery", 1, JobKind.DELIVERY, parcel),
    )
    p = make_problem([], [van(max_trips=2)], shipments=[shipment])

    # then
    assert "multi-trip" in unsupported_reason(p, params())


def test_what_pyvrp_can_model_is_accepted():
    # given: skills every vehicle has, two windows, a range, an open multi-trip bike
    battery = EnergyModel(usable_wh=500, wh_per_km=20)
    p = make_problem(
        [job("A", 1, skills=frozenset({"cold"}), windows=[(0, 100), (200, 300)])],
        [
            van("a", skills=frozenset({"cold"}), energy=battery),
            van("b", skills=frozenset({"cold", "lift"}), end=None, max_trips=3),
        ],
    )

    # then
    assert unsupported_reason(p, params()) is None


def test_a_duration_limit_is_met_by_leaving_later_than_the_first_wait():
    # given: A opens at 200 s, B (100 s beyond A) only at 5000 s; the driver may work 1000 s
    p = make_problem(
        [job("A", 1, windows=[(200, 4950)]), job("B", 2, windows=[(5000, 6000)])],
        [van(max_duration_s=1000)],
    )

    # when: (the checker times a route leaving at its first wait only, so it is not used here)
    solution = solve_pyvrp(p, params())

    # then: leave at 4800, serve A on arrival at 4900 and B at 5000, back at 5200
    (route,) = solution.routes
    assert route.job_ids == ["A", "B"]
    assert [v.start_s for v in route.visits] == pytest.approx([4800, 4900, 5000, 5200])
    assert route.duration_s == pytest.approx(400)
