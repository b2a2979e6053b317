"""Dispatch writes: request, cancel and run plans (``plans.py``, ``running.py``); the problem
built from the database lives in ``building.py``; courier stop updates in ``stops.py``."""

from lastmile.dispatch.services.building import PlanningError, PlanningInput, planning_input_build
from lastmile.dispatch.services.etas import route_etas_refresh
from lastmile.dispatch.services.offers import (
    route_offer_accept,
    route_offer_decline,
    route_offer_next,
    route_offers_expire,
    route_offers_withdraw,
)
from lastmile.dispatch.services.plans import plan_cancel, plan_transition
from lastmile.dispatch.services.publishing import plan_publish
from lastmile.dispatch.services.requests import plan_request, plans_request_tomorrow
from lastmile.dispatch.services.routes import route_dispatch
from lastmile.dispatch.services.running import plan_run
from lastmile.dispatch.services.solving import InfeasiblePlan
from lastmile.dispatch.services.stops import (
    route_start,
    stop_arrive,
    stop_complete,
    stop_deliver,
    stop_fail,
)

__all__ = [
    "InfeasiblePlan",
    "PlanningError",
    "PlanningInput",
    "plan_cancel",
    "plan_publish",
    "plan_request",
    "plan_run",
    "plan_transition",
    "planning_input_build",
    "plans_request_tomorrow",
    "route_dispatch",
    "route_etas_refresh",
    "route_offer_accept",
    "route_offer_decline",
    "route_offer_next",
    "route_offers_expire",
    "route_offers_withdraw",
    "route_start",
    "stop_arrive",
    "stop_complete",
    "stop_deliver",
    "stop_fail",
]
