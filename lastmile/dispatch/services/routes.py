"""Moves of the route state machine (planned → dispatched → in_progress → completed, and
dispatched → planned when the courier is barred before leaving the hub), and the dispatcher's
and re-plan's side of the stop machine (taking pending stops off a route)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction

from lastmile.accounts.models import User
from lastmile.core.state import check_transition, transition
from lastmile.dispatch import events
from lastmile.dispatch.errors import CourierBusy
from lastmile.dispatch.models import (
    ACTIVE_ROUTE_STATUSES,
    ROUTE_TRANSITIONS,
    SETTLED_STOP_STATUSES,
    STOP_TRANSITIONS,
    Route,
    RouteStatus,
    Stop,
    StopStatus,
)

logger = logging.getLogger(__name__)

# The timestamp a route's state sets when it is entered.
_ROUTE_TIMESTAMPS = {RouteStatus.IN_PROGRESS: "started_at", RouteStatus.COMPLETED: "completed_at"}
# What a route back in ``planned`` (not handed out) no longer carries.
_ROUTE_CLEARED = {RouteStatus.PLANNED: ("courier", "service_date", "dispatched_at")}


def stops_skip(route: Route, stops: list[Stop], *, at: dt.datetime, reason: str) -> None:
    """Take pending ``stops`` off ``route`` (pending → skipped, checked against the stop
    table) with one timeline event for the lot; the caller saves the rows (in bulk)."""
    if not stops:
        return
    for stop in stops:
        check_transition(
            STOP_TRANSITIONS, entity="Stop", current=stop.status, target=StopStatus.SKIPPED
        )
    previous = sorted({s.status for s in stops})
    for stop in stops:
        stop.status = StopStatus.SKIPPED
    events.stops_skipped(
        route=route, stops=stops, from_statuses=previous, reason=reason, occurred_at=at
    )


def route_transition(
    route: Route,
    *,
    target: str,
    actor_id: int | None,
    at: dt.datetime,
    detail: dict[str, object] | None = None,
) -> bool:
    """Move the locked ``route`` to ``target`` (the caller holds the transaction) with its
    timestamp and an event (``detail`` added to its payload); ``False`` when it is already
    there. Back in ``planned`` the route has no courier, day or dispatch time any more."""

    def record(row: Route, previous: str, now: dt.datetime) -> None:
        events.route_status_changed(
            route=row,
            from_status=previous,
            to_status=target,
            actor_id=actor_id,
            occurred_at=now,
            detail=detail,
        )

    moved = transition(
        route,
        table=ROUTE_TRANSITIONS,
        entity="Route",
        target=target,
        record=record,
        stamps=_ROUTE_TIMESTAMPS,
        fields=dict.fromkeys(_ROUTE_CLEARED.get(target, ())),
        now=at,
        lock=False,
    )
    if moved.changed:
        logger.info("route moved", extra={"route": route.pk, "from": moved.previous, "to": target})
    return moved.changed


def route_complete_if_settled(route: Route, *, actor_id: int | None, at: dt.datetime) -> bool:
    """An in-progress route whose every stop is settled is completed; returns whether it was."""
    if route.status != RouteStatus.IN_PROGRESS:
        return False
    if Stop.objects.filter(route=route).exclude(status__in=SETTLED_STOP_STATUSES).exists():
        return False
    return route_transition(route, target=RouteStatus.COMPLETED, actor_id=actor_id, at=at)


def route_dispatch(*, route: Route, courier_id: int, actor: User | None) -> Route:
    """Hand ``route`` to a courier (planned → dispatched); the caller holds the transaction.

    The route takes its plan's day, so the database holds one active route per courier and
    day: a courier who got another route that day meanwhile (another hub's plan published
    at the same moment) is a 409 ``courier_busy``, and nothing of this call is stored.
    """
    locked = Route.objects.select_for_update(of=("self",)).select_related("plan").get(pk=route.pk)
    if not check_transition(
        ROUTE_TRANSITIONS, entity="Route", current=locked.status, target=RouteStatus.DISPATCHED
    ):
        return locked

    def record(row: Route, previous: str, now: dt.datetime) -> None:
        events.route_dispatched(route=row, courier_id=courier_id, actor=actor, occurred_at=now)

    try:
        # A savepoint: the one-active-route-per-courier index may refuse the save.
        with transaction.atomic():
            transition(
                locked,
                table=ROUTE_TRANSITIONS,
                entity="Route",
                target=RouteStatus.DISPATCHED,
                record=record,
                stamps={RouteStatus.DISPATCHED: "dispatched_at"},
                fields={"courier_id": courier_id, "service_date": locked.plan.service_date},
                lock=False,
            )
    except IntegrityError:
        if Route.objects.filter(
            courier_id=courier_id,
            service_date=locked.service_date,
            status__in=ACTIVE_ROUTE_STATUSES,
        ).exists():
            raise CourierBusy(day=locked.service_date) from None
        raise
    return locked
