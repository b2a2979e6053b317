"""Check a stored plan independently of the solver: rebuild the problem from the database and
run ``routing.checker.check`` on a solution made only from the stored stop sequences."""

from lastmile.dispatch.models import Plan, StopKind
from lastmile.dispatch.services import planning_input_build
from lastmile.dispatch.services.building import HUB_LOCATION, job_id_for
from lastmile.routing.checker import CheckReport, check
from lastmile.routing.problem import Problem
from lastmile.routing.solution import (
    Route,
    Solution,
    Unassigned,
    UnassignedReason,
    Visit,
    VisitKind,
)


def _visit(kind: VisitKind, location: int, job_id: str | None = None) -> Visit:
    # The checker recomputes every time from the problem; only kinds and order matter here.
    return Visit(kind=kind, location=location, arrival_s=0, start_s=0, departure_s=0, job_id=job_id)


def stored_solution(plan: Plan) -> tuple[Problem, Solution]:
    data = planning_input_build(hub=plan.hub, service_date=plan.service_date)
    locations = {job.id: job.location for job in data.problem.jobs}
    routes = []
    for route in plan.routes.select_related("vehicle").prefetch_related("stops"):
        visits = [_visit(VisitKind.START, HUB_LOCATION)]
        for stop in route.stops.all():  # ordered by sequence
            if stop.kind == StopKind.DELIVERY:
                job_id = job_id_for(stop.order_id)
                visits.append(_visit(VisitKind.JOB, locations[job_id], job_id))
            elif stop.kind == StopKind.RELOAD:
                visits.append(_visit(VisitKind.RELOAD, HUB_LOCATION))
            elif stop.kind == StopKind.BREAK:
                visits.append(_visit(VisitKind.BREAK, HUB_LOCATION))
        visits.append(_visit(VisitKind.END, HUB_LOCATION))
        routes.append(
            Route(
                vehicle_id=route.vehicle.code,
                visits=tuple(visits),
                distance_m=0,
                duration_s=0,
                energy_wh=0,
                cost=0,
            )
        )
    unassigned = tuple(
        Unassigned(
            job_id=job_id_for(u.order_id), reason=UnassignedReason(u.reason), detail=u.detail
        )
        for u in plan.unassigned.all()
    )
    return data.problem, Solution(
        routes=tuple(routes), unassigned=unassigned, objective=0, backend="stored", solve_s=0
    )


def check_stored(plan: Plan) -> CheckReport:
    """Capacity, windows, shift, range and skills of the stored routes; every order accounted."""
    problem, solution = stored_solution(plan)
    return check(problem, solution)
