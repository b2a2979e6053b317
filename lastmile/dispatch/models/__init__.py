"""Plans, routes, stops and what a planning run left out, with each one's state machine.

A ``Plan`` is one planning run for a hub and service date; once ready it owns the routes the
engine found (``Route`` → ``Stop``) and the orders it could not place (``UnassignedOrder``).
Every status change of a plan is a ``PlanEvent`` row. Publishing, courier updates and
re-planning move the route and stop machines defined here; each re-plan of a published day
is a ``Replan`` row holding what triggered it and the diff it applied. Split by concern;
import from here.
"""

from lastmile.dispatch.models.events import PlanEvent
from lastmile.dispatch.models.plans import (
    ACTIVE_PLAN_STATUSES,
    PLAN_TRANSITIONS,
    Plan,
    PlanPhase,
    PlanStatus,
    UnassignedOrder,
)
from lastmile.dispatch.models.replans import (
    REPLAN_TRANSITIONS,
    Replan,
    ReplanStatus,
    ReplanTrigger,
)
from lastmile.dispatch.models.routes import (
    ACTIVE_ROUTE_STATUSES,
    OFFER_TRANSITIONS,
    ROUTE_TRANSITIONS,
    EtaSource,
    OfferStatus,
    Route,
    RouteOffer,
    RouteStatus,
)
from lastmile.dispatch.models.stops import (
    ORDER_STOP_KINDS,
    SETTLED_STOP_STATUSES,
    STOP_TRANSITIONS,
    Stop,
    StopKind,
    StopStatus,
)

__all__ = [
    "ACTIVE_PLAN_STATUSES",
    "ACTIVE_ROUTE_STATUSES",
    "OFFER_TRANSITIONS",
    "ORDER_STOP_KINDS",
    "PLAN_TRANSITIONS",
    "REPLAN_TRANSITIONS",
    "ROUTE_TRANSITIONS",
    "SETTLED_STOP_STATUSES",
    "STOP_TRANSITIONS",
    "EtaSource",
    "OfferStatus",
    "Plan",
    "PlanEvent",
    "PlanPhase",
    "PlanStatus",
    "Replan",
    "ReplanStatus",
    "ReplanTrigger",
    "Route",
    "RouteOffer",
    "RouteStatus",
    "Stop",
    "StopKind",
    "StopStatus",
    "UnassignedOrder",
]
