"""Dispatch writes, by stage: ``requests`` (plan and re-plan requests, joining, debounce,
sweeps), ``reading`` (a day's orders and vehicles; a live day as driven), ``building`` (rows →
``routing.Problem``), ``solving`` (engine + the independent checker as the gate), ``storing``
(stops, route and plan totals, replacing a plan or applying a re-plan's diff), ``staffing``
and ``offers`` (drivers and crowd offers), ``etas``. ``running.plan_run``,
``board.stop_move`` and ``replanning.replan_run`` are the three callers of that pipeline;
``stops`` and ``routes`` are the courier's and the route's state machines.

Interfaces (views, API, portal, admin, tasks) import from here.
"""

from lastmile.dispatch.services.board import StopMoveRefused, stop_move
from lastmile.dispatch.services.building import PlanningError, PlanningInput, planning_input_build
from lastmile.dispatch.services.eligibility import courier_active_refusal
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
from lastmile.dispatch.services.replanning import replan_run
from lastmile.dispatch.services.requests import (
    live_days_watch,
    plan_request,
    plans_request_tomorrow,
    plans_sweep,
    replan_ask,
    replan_request,
    replans_sweep,
)
from lastmile.dispatch.services.routes import route_dispatch
from lastmile.dispatch.services.running import plan_run
from lastmile.dispatch.services.solving import InfeasiblePlan
from lastmile.dispatch.services.staffing import courier_work_release, offers_sweep
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
    "StopMoveRefused",
    "courier_active_refusal",
    "courier_work_release",
    "live_days_watch",
    "offers_sweep",
    "plan_cancel",
    "plan_publish",
    "plan_request",
    "plan_run",
    "plan_transition",
    "planning_input_build",
    "plans_request_tomorrow",
    "plans_sweep",
    "replan_ask",
    "replan_request",
    "replan_run",
    "replans_sweep",
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
    "stop_move",
]
