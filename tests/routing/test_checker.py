"""The checker catches every broken rule in hand-written solutions, and passes a good one."""

import pytest

from lastmile.routing.checker import check
from lastmile.routing.problem import EnergyModel, Job, JobKind, Load, Shipment
from lastmile.routing.solution import (
    Route,
    Solution,
    Unassigned,
    UnassignedReason,
    Visit,
    VisitKind,
)
from tests.routing.builders import job, problem, van


def route(vehicle_id, *job_ids, reload_after=()):
    visits = [Visit(VisitKind.START, 0, 0, 0, 0)]
    for job_id in job_ids:
        visits.append(Visit(VisitKind.JOB, 0, 0, 0, 0, job_id))
        if job_id in reload_after:
            visits.append(Visit(VisitKind.RELOAD, 0, 0, 0, 0))
    visits.append(Visit(VisitKind.END, 0, 0, 0, 0))
    # The solver's own figures are deliberately wrong: the checker must not read them.
    return Route(vehicle_id, tuple(visits), distance_m=1.0, duration_s=1.0, energy_wh=0.0, cost=0.0)


def solution(*routes, unassigned=()):
    return Solution(tuple(routes), tuple(unassigned), objective=0.0, backend="hand", solve_s=0.0)


def test_a_good_solution_passes_with_recomputed_distance():
    # given
    p = problem([0, 1000, 2000], [job("A", 1), job("B", 2)], [van()])
    # when
    report = check(p, solution(route("v1", "A", "B")))
    # then
    assert report.feasible, report.violations
    assert report.distance_m == pytest.approx(4000)


def test_a_late_arrival_is_reported():
    p = problem([0, 1000, 2000], [job("A", 1), job("B", 2, window=(0, 150))], [van()])
    report = check(p, solution(route("v1", "A", "B")))
    assert any("B reached at 200.00, after its window" in v for v in report.violations)


def test_an_overloaded_trip_is_reported_but_a_reload_clears_it():
    p = problem(
        [0, 1000, 2000],
        [job("A", 1, parcels=6), job("B", 2, parcels=6)],
        [van(parcels=10, max_trips=2)],
    )
    assert any(
        "carries 12 parcels" in v for v in check(p, solution(route("v1", "A", "B"))).violations
    )
    assert check(p, solution(route("v1", "A", "B", reload_after=("A",)))).feasible


def test_a_pickup_before_the_deliveries_overloads_the_van():
    p = problem(
        [0, 1000, 2000],
        [job("deliver", 2, parcels=10), Job("collect", 1, JobKind.PICKUP, Load(parcels=10))],
        [van(parcels=10)],
    )
    assert not check(p, solution(route("v1", "collect", "deliver"))).feasible
    assert check(p, solution(route("v1", "deliver", "collect"))).feasible


def test_missing_double_and_misreported_jobs_are_reported():
    p = problem([0, 1000, 2000], [job("A", 1), job("B", 2), job("C", 2)], [van("v1"), van("v2")])
    dropped = Unassigned("A", UnassignedReason.DROPPED_FOR_COST, "")
    report = check(p, solution(route("v1", "A"), route("v2", "A"), unassigned=[dropped]))
    assert "job A is served twice" in report.violations
    assert "job A is served and also reported unassigned" in report.violations
    assert "job B is neither served nor reported unassigned" in report.violations


def test_range_skills_pairs_pins_and_fixed_sequences_are_enforced():
    pair = Shipment(
        "S",
        Job("S-p", 1, JobKind.PICKUP, Load(parcels=1)),
        Job("S-d", 2, JobKind.DELIVERY, Load(parcels=1)),
    )
    p = problem(
        [0, 4000, 8000],
        [job("cold", 1, skills=frozenset({"cold_chain"})), job("pinned", 2, vehicle_id="v2")],
        [
            van("v1", energy=EnergyModel(usable_wh=1000, wh_per_km=100), fixed_sequence=("cold",)),
            van("v2"),
        ],
        shipments=[pair],
    )
    report = check(p, solution(route("v1", "pinned", "cold", "S-d", "S-p")))
    violations = "\n".join(report.violations)
    assert "needs 2400 Wh, more than 1000 usable" in violations
    assert "lacks skills ['cold_chain'] for cold" in violations
    assert "shipment S: delivered before picked up" in violations
    assert "job pinned pinned to v2, served elsewhere" in violations
    assert "v1: fixed sequence not kept at the head" in violations


def test_the_working_day_starts_when_leaving_later_saves_waiting():
    # given: A opens at 1000 s, 100 s from the hub; B opens at 1500 s, 100 s further
    jobs = [job("A", 1, window=(1000, 1100)), job("B", 2, window=(1500, 1600))]
    # when: it leaves at 1000, the latest A allows, serves A at 1100, waits 300 s at B,
    # and is back at 1700
    tight = problem([0, 1000, 2000], jobs, [van(max_duration_s=699)])
    enough = problem([0, 1000, 2000], jobs, [van(max_duration_s=700)])
    # then: its day is 700 s, not the 1,700 s since the shift opened
    assert check(enough, solution(route("v1", "A", "B"))).feasible
    assert any("works 700 s" in v for v in check(tight, solution(route("v1", "A", "B"))).violations)


def test_a_route_without_waiting_works_exactly_its_driving_time():
    p = problem(
        [0, 1000, 2000], [job("A", 1, window=(0, 5000)), job("B", 2)], [van(max_duration_s=399)]
    )
    report = check(p, solution(route("v1", "A", "B")))
    assert report.routes[0].duration_s == 400
    assert any("works 400 s" in v for v in report.violations)
