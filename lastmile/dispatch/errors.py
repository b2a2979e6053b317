"""Domain errors of dispatch that couriers and their apps branch on, each with a stable code.

The API renders them as problem+json (``core.api.exception_handler``); the courier portal
shows the same message with the same HTTP status.
"""

from __future__ import annotations

import datetime as dt

from lastmile.core.errors import Conflict, PermissionDenied


class CourierNotActive(PermissionDenied):
    """Only an active, approved courier takes offers, sees routes and sends stop updates."""

    code = "courier_not_active"
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

    code = "offer_closed"
    title = "Offer no longer open"

    def __init__(self, *, status: str) -> None:
        super().__init__(
            f"This offer is no longer open (it is {status}).", extra={"offer_status": status}
        )


class RouteTaken(Conflict):
    """Another courier holds the route already."""

    code = "route_taken"
    title = "Route already taken"

    def __init__(self) -> None:
        super().__init__("Another courier has taken this route.")


class CourierBusy(Conflict):
    """The courier already holds an active route that day (one route per courier and day)."""

    code = "courier_busy"
    title = "Courier already has a route that day"

    def __init__(self, *, day: dt.date) -> None:
        super().__init__(
            f"You already have a route on {day:%Y-%m-%d}: one route per day.",
            extra={"service_date": day.isoformat()},
        )


class CourierUnfit(Conflict):
    """The route needs skills or a licence the courier does not have."""

    code = "courier_unfit"
    title = "Courier does not fit the route"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
