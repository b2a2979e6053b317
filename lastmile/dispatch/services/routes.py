"""Moves of the route state machine (planned → dispatched → in_progress → completed, and
dispatched → planned when the courier is barred before leaving the hub), and the dispatcher's
and re-plan's side of the stop machine (taking pending stops off a route)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.state import check_transition
from lastmile.dispatch.errors import CourierBusy
from lastmile.dispatch.models import (
    ACTIVE_ROUTE_STATUSES,
    ROUTE_TRANSITIONS,
    SETTLED_STOP_STATUSES,
    STOP_TRANSITIONS,
    PlanEvent,
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


def route_event(
    route: Route, *, actor_id: int | None, at: dt.datetime, payload: dict[str, object]
) -> PlanEvent:
    """A route or stop change in the plan's timeline (a status change with the entity in the
    payload, so the plan's own from/to columns stay the plan's)."""
    return PlanEvent.objects.create(
        plan_id=route.plan_id,
        kind=PlanEvent.Kind.STATUS_CHANGED,
        actor_id=actor_id,
        payload=payload,
        occurred_at=at,
    )


def stops_skip(route: Route, stops: list[Stop], *, at: dt.datetime, reason: str) -> None:
    """Take pending ``stops`` off ``route`` (pending → skipped, checked against the stop
    table) with one timeline event for the lot; the caller saves the rows (in bulk)."""
    if not stops:
        return
    for stop in stops:
        check_transition(
            STOP_TRANSITIONS, entity="Stop", current=stop.status, target=StopStatus.SKIPPED
        )
    previous = {s.pk: s.status for s in stops}
    for stop in stops:
        stop.status = StopStatus.SKIPPED
    route_event(
        route,
        actor_id=None,
        at=at,
        payload={
            "stops": sorted(previous),
            "route": route.pk,
            "from": ",".join(sorted(set(previous.values()))),
            "to": StopStatus.SKIPPED,
            "reason": reason,
        },
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
    if not check_transition(ROUTE_TRANSITIONS, entity="Route", current=route.status, target=target):
        return False
    previous = route.status
    route.status = target
    changed = ["status", "updated_at"]
    if target in _ROUTE_TIMESTAMPS:
        setattr(route, _ROUTE_TIMESTAMPS[target], at)
        changed.append(_ROUTE_TIMESTAMPS[target])
    for field in _ROUTE_CLEARED.get(target, ()):
        setattr(route, field, None)
        changed.append(field)
    route.save(update_fields=changed)
    route_event(
        route,
        actor_id=actor_id,
        at=at,
        payload={**(detail or {}), "route": route.pk, "from": previous, "to": target},
    )
    logger.info("route moved", extra={"route": route.pk, "from": previous, "to": target})
    return True


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
    now = timezone.now()
    locked.status, locked.courier_id, locked.dispatched_at = (
        RouteStatus.DISPATCHED,
        courier_id,
        now,
    )
    locked.service_date = locked.plan.service_date
    try:
        with transaction.atomic():
            locked.save(
                update_fields=["status", "courier", "service_date", "dispatched_at", "updated_at"]
            )
    except IntegrityError:
        if Route.objects.filter(
            courier_id=courier_id,
            service_date=locked.service_date,
            status__in=ACTIVE_ROUTE_STATUSES,
        ).exists():
            raise CourierBusy(day=locked.service_date) from None
        raise
    PlanEvent.objects.create(
        plan_id=locked.plan_id,
        kind=PlanEvent.Kind.ROUTE_DISPATCHED,
        from_status=RouteStatus.PLANNED,
        to_status=RouteStatus.DISPATCHED,
        actor=actor,
        payload={"route": locked.pk, "vehicle": locked.vehicle_id, "courier": courier_id},
        occurred_at=now,
    )
    return locked
