"""What dispatch needs to re-plan a live day: minimal changes, late parcels, true loads.

Every solution is also checked by the independent checker, so a test passes only when the
plan is right and really feasible.
"""

import pytest

from lastmile.routing.checker import check
from lastmile.routing.params import Objective, SolverParams
from lastmile.routing.problem import (
    Costs,
    Job,
    JobKind,
    Load,
    ProblemError,
    Shipment,
    TimeWindow,
    Vehicle,
)
from lastmile.routing.pyvrp_backend import unsupported_reason
from lastmile.routing.solution import UnassignedReason
from lastmile.routing.solver import choose_backend, solve
from tests.routing.builders import DAY, job, ortools, problem, van


def solved(p, params):
    solution = solve(p, params)
    report = check(p, solution)
    assert report.feasible, report.violations
    return solution, report


def van_at(vid: str, location: int, **kwargs) -> Vehicle:
    """A van that starts and ends its day at ``location`` (``van`` always starts at 0)."""
    return Vehicle(
        id=vid, start=location, end=location, shift=DAY, capacity=Load(parcels=100), **kwargs
    )


# --- Soft vehicle preference ("minimal changes") ------------------------------------------


def two_vans_one_stop(**van_kwargs):
    # A lives at 0, B at 100 m; the stop at 1 km is 200 m cheaper from B, but sits on A today.
    return problem(
        [0, 100, 1000],
        [job("J", 2, preferred_vehicle_id="A")],
        [van_at("A", 0, **van_kwargs), van_at("B", 1, **van_kwargs)],
    )


def test_a_high_move_cost_keeps_a_job_on_its_preferred_vehicle():
    # given
    p = two_vans_one_stop()
    # when: moving saves 200 m but costs 1 km
    solution, _ = solved(p, ortools(1.0, move_cost=1000))
    # then
    assert solution.route_of("A").job_ids == ["J"]
    assert solution.stats["moved_from_preferred"] == 0


def test_without_a_move_cost_the_job_goes_to_the_cheaper_vehicle():
    # given
    p = two_vans_one_stop()
    # when
    solution, report = solved(p, ortools(1.0, move_cost=0))
    # then
    assert solution.route_of("B").job_ids == ["J"]
    assert report.distance_m == pytest.approx(1800)
    assert solution.stats["moved_from_preferred"] == 1


@pytest.mark.parametrize(("move_cost", "holder"), [(50, "A"), (10, "B")])
def test_under_the_cost_objective_the_move_cost_is_in_minor_units(move_cost, holder):
    # given: 100 minor units per km; A's round trip costs 200, B's 180
    p = two_vans_one_stop(costs=Costs(per_km=100))
    # when
    solution, _ = solved(p, ortools(1.0, move_cost=move_cost, objective=Objective.COST))
    # then: a move is worth it only when it costs less than the 20 it saves
    assert solution.route_of(holder).job_ids == ["J"]


def test_a_job_is_moved_rather_than_dropped_when_its_vehicle_cannot_take_it():
    # given: J prefers A, but only B has the cold box it needs; moving costs far more than
    # any route
    p = problem(
        [0, 100, 1000],
        [job("J", 2, preferred_vehicle_id="A", skills=frozenset({"cold_chain"}))],
        [van_at("A", 0), van_at("B", 1, skills=frozenset({"cold_chain"}))],
    )
    # when
    solution, _ = solved(p, ortools(1.0, move_cost=1_000_000))
    # then
    assert solution.route_of("B").job_ids == ["J"]
    assert not solution.unassigned
    assert solution.stats["moved_from_preferred"] == 1


def test_a_preference_for_an_unknown_vehicle_is_rejected():
    with pytest.raises(ProblemError, match="prefers unknown vehicle ghost"):
        problem([0, 1000], [job("J", 1, preferred_vehicle_id="ghost")], [van("v1")])


# --- Soft window end for parcels already on board -----------------------------------------


def out_of_reach(**kwargs):
    # 3 km away (300 s), the window closes at 100 s: no van can make it from the hub
    return problem([0, 3000], [job("late", 1, window=(0, 100), **kwargs)], [van()])


def test_a_soft_end_job_out_of_reach_is_served_late_not_dropped():
    # given
    p = out_of_reach(soft_end=True)
    # when
    solution, report = solved(p, ortools(1.0))
    # then
    assert solution.routes[0].job_ids == ["late"]
    assert not solution.unassigned
    assert report.late_jobs == ["late"]
    assert report.routes[0].late_s == pytest.approx(200)


def test_the_same_job_with_a_hard_end_is_left_out_for_its_window():
    # given
    p = out_of_reach()
    # when
    solution, report = solved(p, ortools(1.0))
    # then
    assert [(u.job_id, u.reason) for u in solution.unassigned] == [
        ("late", UnassignedReason.WINDOW)
    ]
    assert report.late_jobs == []


def leaves_at_once(*jobs):
    # A hard stop 500 m out, due by 60 s, makes the van leave at 0 (else the finalizer would
    # let it leave late enough to land inside any window); the soft-end job sits at 3 km.
    return problem([0, 500, 3000], [job("first", 1, window=(0, 60)), *jobs], [van()])


def test_a_soft_end_job_still_waits_for_its_window_to_open():
    # given: reachable at 300 s, the window opens at 1000 s
    p = leaves_at_once(job("A", 2, window=(1000, 1100), soft_end=True))
    # when
    solution, report = solved(p, ortools(1.0))
    # then
    visit = next(v for v in solution.routes[0].visits if v.job_id == "A")
    assert 1000 <= visit.start_s <= 1100
    assert report.late_jobs == []


def test_a_soft_end_job_reached_between_its_windows_waits_for_the_next_one():
    # given: reachable at 300 s, windows 0-100 and 1000-1100; only the last end is soft
    p = leaves_at_once(job("A", 2, windows=((0, 100), (1000, 1100)), soft_end=True))
    # when
    solution, report = solved(p, ortools(1.0))
    # then
    visit = next(v for v in solution.routes[0].visits if v.job_id == "A")
    assert 1000 <= visit.start_s <= 1100
    assert report.late_jobs == []


def test_a_soft_end_job_is_still_kept_on_time_where_it_can_be():
    # given: an open route; the on-board parcel 2 km out must be there by 250 s, the other
    # stop on the way takes 5 minutes. Serving the other first is 1 km shorter but 250 s late.
    p = problem(
        [0, 1000, 2000],
        [job("other", 1, service_s=300), job("onboard", 2, window=(0, 250), soft_end=True)],
        [van(end=None)],
    )
    # when
    solution, report = solved(p, ortools(1.0))
    # then: soft does not mean careless, lateness costs far more than distance
    assert solution.routes[0].job_ids == ["onboard", "other"]
    assert report.late_jobs == []


def test_an_on_board_parcel_that_delays_the_others_is_served_not_dropped():
    # given: one van, everything on board (soft ends), home by 10,000 s. Five parcels 100 m
    # out are due by 10 s; another parcel 500 m the other way can only be reached in its
    # first window (by 55 s: its second one, 9,970-9,980 s, leaves no time to get home), so
    # it goes first and makes the five 100 s late each, far more than its own lateness.
    xs = [0, 100, -500]
    five = [job(f"L{n}", 1, window=(0, 10), soft_end=True, vehicle_id="v1") for n in range(5)]
    early = job("X", 2, windows=((0, 55), (9970, 9980)), soft_end=True, vehicle_id="v1")
    p = problem(xs, [*five, early], [van(shift=TimeWindow(0, 10_000))])
    # when
    solution, report = solved(p, ortools(1.0))
    # then: late beats never, for the lateness it causes too
    assert not solution.unassigned
    assert solution.routes[0].job_ids[0] == "X"
    assert sorted(report.late_jobs) == [f"L{n}" for n in range(5)]


def test_on_board_parcels_are_kept_on_time_when_the_search_builds_its_own_start():
    # given: 320 parcels on board (more nodes than the small-problem portfolio tries) on a
    # road, every 100 m; the even ones are due by 3,600 s, the odd ones open at 7,200 s.
    # Sweeping the road is shortest but leaves every even parcel after 7,200 s.
    jobs = [
        job(
            f"J{i}",
            i,
            window=(0, 3600) if i % 2 == 0 else (7200, 10_800),
            soft_end=True,
            vehicle_id="v1",
        )
        for i in range(1, 321)
    ]
    p = problem(
        [100 * i for i in range(321)], jobs, [van(shift=TimeWindow(0, 20_000), parcels=400)]
    )
    # when: no live routes to start from (time enough to build the first solution on a busy
    # 2-core machine; the check is on that solution's quality, not on the search after it)
    solution, report = solved(p, ortools(8.0))
    # then: the evens out, the odds on the way back, none late
    assert not solution.unassigned
    assert report.late_jobs == []


# --- All three together pick OR-Tools -----------------------------------------------------


def test_pins_soft_ends_and_preferences_together_solve_on_ortools():
    # given: "pinned" is loaded on v2; "late" (soft end, out of reach in time) and "kept" sit
    # on v1 today; moves are expensive
    p = problem(
        [0, 1000, 3000, 500],
        [
            job("pinned", 1, vehicle_id="v2"),
            job("late", 2, window=(0, 100), soft_end=True, preferred_vehicle_id="v1"),
            job("kept", 3, preferred_vehicle_id="v1"),
        ],
        [van("v1"), van("v2")],
    )
    params = SolverParams(time_limit_s=1.0, move_cost=5000)
    # when
    solution, report = solved(p, params)
    # then
    assert solution.backend == "ortools"
    assert solution.route_of("v2").job_ids == ["pinned"]
    assert sorted(solution.route_of("v1").job_ids) == ["kept", "late"]
    assert report.late_jobs == ["late"]
    assert solution.stats["moved_from_preferred"] == 0


def test_pyvrp_declines_each_new_feature_with_its_reason():
    preferred = problem([0, 1000], [job("J", 1, preferred_vehicle_id="v1")], [van()])
    soft = problem([0, 1000], [job("J", 1, window=(0, 500), soft_end=True)], [van()])
    costly_moves = SolverParams(move_cost=100)
    assert unsupported_reason(preferred, costly_moves) == "jobs with a preferred vehicle"
    assert unsupported_reason(soft, SolverParams()) == "jobs with a soft window end"
    # Free moves change nothing PyVRP cannot model.
    assert unsupported_reason(preferred, SolverParams()) is None
    assert choose_backend(preferred, SolverParams()) == "pyvrp"


def test_pyvrp_also_reports_how_many_jobs_changed_vehicle():
    # given: moves are free, so PyVRP solves it and sends J to the cheaper B
    p = two_vans_one_stop()
    # when
    solution, _ = solved(p, SolverParams(time_limit_s=0.5))
    # then
    assert solution.backend == "pyvrp"
    assert solution.route_of("B").job_ids == ["J"]
    assert solution.stats["moved_from_preferred"] == 1


# --- Exact on-board load when shipments mix with single deliveries ------------------------


def test_a_shipment_boards_only_once_the_single_deliveries_made_room():
    # given: a 10-parcel van leaves with 8 parcels for A and B (1 km out); a 5-parcel shipment
    # is collected at the hub and goes to C, on the way. Collecting it first (2.2 km) would
    # carry 13; the only feasible order delivers A and B, comes back for it (3.2 km).
    shipment = Shipment(
        "S",
        pickup=Job("S-p", 0, JobKind.PICKUP, Load(parcels=5)),
        delivery=Job("S-d", 1, JobKind.DELIVERY, Load(parcels=5)),
    )
    p = problem(
        [0, 500, 1000, 1100],
        [job("A", 2, parcels=4), job("B", 3, parcels=4)],
        [van("v1", parcels=10)],
        shipments=[shipment],
    )
    # when
    solution, report = solved(p, ortools(1.0))
    # then
    assert not solution.unassigned
    assert solution.routes[0].job_ids[-2:] == ["S-p", "S-d"]
    assert report.routes[0].max_load.parcels == 8
    assert report.distance_m == pytest.approx(3200)


# --- Starting from the live routes ----------------------------------------------------------


def line_of_stops():
    # Six stops on a road east of the depot; one van, wide windows.
    return problem(
        [0, 100, 200, 300, 400, 500, 600], [job(f"J{i}", i) for i in range(1, 7)], [van()]
    )


def test_the_search_starts_from_the_given_routes_and_keeps_every_job():
    # given: the live order of the van's stops, deliberately zig-zagging
    p = line_of_stops()
    current = ("J1", "J3", "J2", "J4", "J6", "J5")
    # when
    solution, report = solved(p, ortools(0.5, initial_routes={"v1": current}))
    # then: nothing dropped, and the zig-zag straightened (out and back: 1,200 m, not 1,400)
    assert sorted(solution.route_of("v1").job_ids) == sorted(current)
    assert solution.stats["first_solution"] == "initial_routes"
    assert report.distance_m == pytest.approx(1200)


def test_routes_that_break_a_hard_rule_fall_back_to_a_first_solution():
    # given: a start that serves J1 after its window closed (hard window)
    p = problem([0, 100, 5000], [job("J1", 1, window=(0, 20)), job("J2", 2)], [van()])
    # when
    solution, _ = solved(p, ortools(0.5, initial_routes={"v1": ("J2", "J1")}))
    # then: OR-Tools refused the start, built its own, and served both
    assert solution.stats["first_solution"] != "initial_routes"
    assert solution.route_of("v1").job_ids == ["J1", "J2"]


def test_one_route_over_capacity_does_not_throw_away_the_others_as_a_start():
    # given: van A's live route carries three parcels on a van of two; van B's is fine
    p = problem(
        [0, 100, 200, 300, 400, 500],
        [job(f"J{i}", i) for i in range(1, 6)],
        [van("A", parcels=2), van("B")],
    )
    start = {"A": ("J1", "J2", "J3"), "B": ("J4", "J5")}
    # when
    solution, _ = solved(p, ortools(0.5, initial_routes=start))
    # then: the search still starts from the routes (A's afresh), and serves every job
    assert solution.stats["first_solution"] == "initial_routes"
    assert not solution.unassigned


def test_unknown_vehicles_and_jobs_in_the_given_routes_are_ignored():
    p = line_of_stops()
    solution, _ = solved(p, ortools(0.5, initial_routes={"gone": ("J1",), "v1": ("J1", "X9")}))
    assert len(solution.route_of("v1").job_ids) == 6
