"""Dispatch's error codes, and the domain errors couriers and their apps branch on.

The API renders them as problem+json (``core.api.exception_handler``); the courier portal
shows the same message with the same HTTP status.
"""

from __future__ import annotations

import datetime as dt

from lastmile.core.errors import BaseErrorCode, Conflict, PermissionDenied


class DispatchErrorCode(BaseErrorCode):
    """Codes the dispatch services give (``no_vehicles`` is ``FleetErrorCode``'s)."""

    # Couriers, offers and the driver API
    # Workforce's twin, spelled differently, is ``courier_inactive``: both values are kept.
    COURIER_NOT_ACTIVE = "courier_not_active", "The courier is not active and approved"
    OFFER_CLOSED = "offer_closed", "The offer was answered, expired or withdrawn already"
    OFFER_EXPIRED = "offer_expired", "The offer expired before this answer arrived"
    ROUTE_TAKEN = "route_taken", "Another courier holds the route"
    COURIER_BUSY = "courier_busy", "The courier has an active route that day already"
    COURIER_UNFIT = "courier_unfit", "The route needs skills or a licence the courier lacks"
    ROUTE_NOT_IN_PROGRESS = "route_not_in_progress", "Stops change only on a started route"
    ORDER_STOP = "order_stop", "An order's stop is delivered or failed, not completed"

    # Planning and re-planning
    PLANNING_FAILED = "planning_failed", "The hub's data cannot be planned"
    INFEASIBLE_PLAN = "infeasible_plan", "The solver's plan breaks a rule; it was not stored"
    PLAN_PUBLISHED = "plan_published", "The day's plan is published: re-plan it instead"
    PLAN_NOT_PUBLISHED = "plan_not_published", "Only a published plan is re-planned"
    REPLAN_FAILED = "replan_failed", "The day could not be re-planned; routes left as they were"

    # Moving a stop on the dispatch board
    STOP_MOVE_REFUSED = "stop_move_refused", "The target route cannot take the stop"
    LAST_STOP = "last_stop", "A route's last stop cannot move: it would leave the route empty"
    PLAN_NOT_READY = "plan_not_ready", "Stops move only while the plan is ready"
    STOP_NOT_PENDING = "stop_not_pending", "Only a pending stop can move"
    ROUTE_CHANGED = "route_changed", "A route changed while the move was computed; reload"


class CourierNotActive(PermissionDenied):
    """Only an active, approved courier takes offers, sees routes and sends stop updates."""

    code = DispatchErrorCode.COURIER_NOT_ACTIVE
    title = "Courier account not active"

    def __init__(self, *, status: str) -> None:
        if status == "suspended":
            message = (
                "Your courier account is suspended: you cannot take or drive routes for now. "
                "Your hub will contact you; earnings already made are still paid out."
            )
        else:
            message = "Only active, approved couriers can take or drive routes."
        super().__init__(message, extra={"courier_status": status})


class OfferClosed(Conflict):
    """The offer was answered, expired or withdrawn before this answer arrived."""

    code = DispatchErrorCode.OFFER_CLOSED
    title = "Offer no longer open"

    def __init__(self, *, status: str) -> None:
        super().__init__(
            f"This offer is no longer open (it is {status}).", extra={"offer_status": status}
        )


class RouteTaken(Conflict):
    """Another courier holds the route already."""

    code = DispatchErrorCode.ROUTE_TAKEN
    title = "Route already taken"

    def __init__(self) -> None:
        super().__init__("Another courier has taken this route.")


class CourierBusy(Conflict):
    """The courier already holds an active route that day (one route per courier and day)."""

    code = DispatchErrorCode.COURIER_BUSY
    title = "Courier already has a route that day"

    def __init__(self, *, day: dt.date) -> None:
        super().__init__(
            f"You already have a route on {day:%Y-%m-%d}: one route per day.",
            extra={"service_date": day.isoformat()},
        )


class CourierUnfit(Conflict):
    """The route needs skills or a licence the courier does not have."""

    code = DispatchErrorCode.COURIER_UNFIT
    title = "Courier does not fit the route"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
