"""Courier updates on a dispatched route: start it, arrive at a stop, deliver or fail there.

Each update moves the stop (and route) state machines through one transition function, moves
the order through the orders services (which record the attempt and its proof) and completes
the route once every stop is settled. The ETAs of the stops still ahead are recomputed from
where and when the courier is only after the update commits (``dispatch.refresh_route_etas``):
the routing server is never asked while a row is locked, and its failure falls back to the
great-circle estimate instead of losing the courier's update. Every service is scoped to the
courier driving the route (another courier's route or stop is "not found") and is idempotent:
a retried request that asks for the state the stop is already in changes nothing and returns
the current row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from lastmile.core.errors import Conflict, NotFound
from lastmile.core.state import check_transition, transition
from lastmile.dispatch import events
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.dispatch.models import (
    ORDER_STOP_KINDS,
    STOP_TRANSITIONS,
    ReplanTrigger,
    Route,
    RouteStatus,
    Stop,
    StopKind,
    StopStatus,
)
from lastmile.dispatch.services.etas import etas_refresh_after_commit, service_time
from lastmile.dispatch.services.reading import (
    local_midnight,
    moment_at,
    vehicle_shift,
)
from lastmile.dispatch.services.requests import replan_ask
from lastmile.dispatch.services.routes import (
    route_complete_if_settled,
    route_transition,
)
from lastmile.orders.models import DeliveryAttempt, FailureReason, Order, OrderStatus
from lastmile.orders.services.attempts import order_deliver, order_fail
from lastmile.orders.services.transitions import order_reschedule, order_start_delivery
from lastmile.routing.problem import Location
from workforce.models import Courier

logger = logging.getLogger(__name__)

SOURCE = "courier"
# The timestamp a stop's state sets when it is entered.
_STOP_TIMESTAMPS = {
    StopStatus.ARRIVED: "actual_arrival",
    StopStatus.COMPLETED: "actual_departure",
    StopStatus.FAILED: "actual_departure",
}


# --- Scoped reads (the courier's own routes and stops only) --------------------------------


# --- Transitions ---------------------------------------------------------------------------


def _lock_route(route_id: int, courier: Courier) -> Route:
    try:
        return (
            # Only the route row: its plan and hub are shared by every courier of the day.
            Route.objects.select_for_update(of=("self",))
            .select_related("plan__hub", "vehicle__vehicle_type")
            .get(pk=route_id, courier=courier)
        )
    except Route.DoesNotExist:
        raise NotFound(f"No route {route_id}.") from None


def _lock_stop(stop_id: int, courier: Courier) -> tuple[Route, Stop]:
    """Lock the stop's route, then the stop (always in that order), scoped to the courier."""
    try:
        route_id = Stop.objects.values_list("route_id", flat=True).get(
            pk=stop_id, route__courier=courier
        )
    except Stop.DoesNotExist:
        raise NotFound(f"No stop {stop_id}.") from None
    route = _lock_route(route_id, courier)
    stop = Stop.objects.select_for_update(of=("self",)).select_related("order").get(pk=stop_id)
    return route, stop


def _stop_transition(
    route: Route, stop: Stop, *, target: str, courier: Courier, at: dt.datetime
) -> bool:
    """Move the locked ``stop`` to ``target``; ``False`` when it is already there."""

    def record(row: Stop, previous: str, now: dt.datetime) -> None:
        events.stop_status_changed(
            route=route,
            stop=row,
            from_status=previous,
            to_status=target,
            actor_id=courier.user_id,
            occurred_at=now,
        )

    return transition(
        stop,
        table=STOP_TRANSITIONS,
        entity="Stop",
        target=target,
        record=record,
        stamps=_STOP_TIMESTAMPS,
        now=at,
        lock=False,
    ).changed


def _require_started(route: Route) -> None:
    if route.status != RouteStatus.IN_PROGRESS:
        raise Conflict(
            "Start the route before updating its stops."
            if route.status == RouteStatus.DISPATCHED
            else f"The route is {route.get_status_display().lower()}; its stops cannot change.",
            code=DispatchErrorCode.ROUTE_NOT_IN_PROGRESS,
            extra={"route": route.pk, "status": route.status},
        )


# --- ETAs ----------------------------------------------------------------------------------


def _here(
    route: Route, stop: Stop | None, lat: Decimal | float | None, lng: Decimal | float | None
) -> Location:
    if lat is not None and lng is not None:
        return Location(float(lat), float(lng))
    if stop is not None:
        return Location(float(stop.latitude), float(stop.longitude))
    hub = route.plan.hub
    return Location(float(hub.latitude), float(hub.longitude))


# --- Services ------------------------------------------------------------------------------


@transaction.atomic
def route_start(*, route: Route, courier: Courier, at: dt.datetime | None = None) -> Route:
    """The courier leaves the hub: dispatched → in_progress.

    Every order on the route's delivery stops goes out for delivery (the van is loaded for the
    whole route); after commit every stop's ETA is estimated from the hub at ``at``. Only the
    route's own courier may start it; starting a route already in progress returns it unchanged.
    """
    at = at or timezone.now()
    locked = _lock_route(route.pk, courier)
    if not route_transition(
        locked, target=RouteStatus.IN_PROGRESS, actor_id=courier.user_id, at=at
    ):
        return locked
    stops = (
        Stop.objects.filter(
            route=locked, kind__in=ORDER_STOP_KINDS, order__status=OrderStatus.PLANNED
        )
        .select_related("order")
        .order_by("order_id")  # orders locked in pk order
    )
    for stop in stops:
        order_start_delivery(order=stop.order, source=SOURCE, actor=courier.user)
    etas_refresh_after_commit(
        locked, after_sequence=0, origin=_here(locked, None, None, None), depart_at=at
    )
    return locked


@transaction.atomic
def stop_arrive(
    *,
    stop: Stop,
    courier: Courier,
    at: dt.datetime | None = None,
    lat: Decimal | None = None,
    lng: Decimal | None = None,
) -> Stop:
    """The courier is at the stop: pending → arrived, with ``actual_arrival``.

    After commit, the stops ahead are re-estimated as if the courier leaves once the window
    opens and the planned service time has passed. A retry (already arrived) changes nothing.
    """
    at = at or timezone.now()
    route, locked = _lock_stop(stop.pk, courier)
    if locked.status == StopStatus.ARRIVED:
        return locked
    _require_started(route)
    _stop_transition(route, locked, target=StopStatus.ARRIVED, courier=courier, at=at)
    leave = max(at, locked.window_start) if locked.window_start else at
    etas_refresh_after_commit(
        route,
        after_sequence=locked.sequence,
        origin=_here(route, locked, lat, lng),
        depart_at=leave + service_time(locked),
    )
    return locked


def _settle_stop(
    stop: Stop,
    courier: Courier,
    target: str,
    record: Callable[[Order, dt.datetime], None],
    *,
    at: dt.datetime | None,
    lat: Decimal | None,
    lng: Decimal | None,
) -> Stop:
    """Close a stop as ``target`` (completed or failed); the caller holds the transaction.

    A stop already there is returned untouched (a retried request). A pending stop passes
    through arrived at the same moment. ``record`` writes the order's attempt; then the stop
    moves, the route completes with its last open stop, and the stops ahead get new ETAs
    after commit.
    """
    at = at or timezone.now()
    route, locked = _lock_stop(stop.pk, courier)
    if locked.status == target:
        return locked
    _require_started(route)
    if locked.status == StopStatus.PENDING:
        # Settled without tapping "arrived" first: the arrival is this moment.
        _stop_transition(route, locked, target=StopStatus.ARRIVED, courier=courier, at=at)
    else:
        check_transition(STOP_TRANSITIONS, entity="Stop", current=locked.status, target=target)
    if locked.order_id is not None:
        if locked.order.status == OrderStatus.PLANNED:
            # Added by a re-plan and loaded at the hub without a reload stop being tapped.
            order_start_delivery(order=locked.order, source=SOURCE, actor=courier.user)
        record(locked.order, at)
    _stop_transition(route, locked, target=target, courier=courier, at=at)
    if locked.kind == StopKind.RELOAD and target == StopStatus.COMPLETED:
        _load_next_trip(route, locked, courier)
    etas_refresh_after_commit(
        route,
        after_sequence=locked.sequence,
        origin=_here(route, locked, lat, lng),
        depart_at=at,
    )
    route_complete_if_settled(route, actor_id=courier.user_id, at=at)
    return locked


def _load_next_trip(route: Route, reload: Stop, courier: Courier) -> None:
    """Back at the hub: the parcels of the next trip (a re-plan may have added some) go out."""
    stops = (
        Stop.objects.filter(
            route=route,
            trip=reload.trip + 1,
            status=StopStatus.PENDING,
            kind__in=ORDER_STOP_KINDS,
            order__status=OrderStatus.PLANNED,
        )
        .select_related("order")
        .order_by("order_id")
    )
    for stop in stops:
        order_start_delivery(order=stop.order, source=SOURCE, actor=courier.user)


@transaction.atomic
def stop_complete(
    *,
    stop: Stop,
    courier: Courier,
    at: dt.datetime | None = None,
    lat: Decimal | None = None,
    lng: Decimal | None = None,
) -> Stop:
    """A stop that serves no order is done: the reload at the hub (the next trip's parcels go
    out for delivery) or the break. An order stop is delivered or failed instead (409)."""
    kind = (
        Stop.objects.filter(pk=stop.pk, route__courier=courier)
        .values_list("kind", flat=True)
        .first()
    )
    if kind is None:
        raise NotFound(f"No stop {stop.pk}.")
    if kind in ORDER_STOP_KINDS:
        raise Conflict(
            "This stop serves an order: record a delivery or a failure.",
            code=DispatchErrorCode.ORDER_STOP,
        )
    # No order, so no attempt to record: the stop settles like any other.
    return _settle_stop(
        stop, courier, StopStatus.COMPLETED, lambda order, at: None, at=at, lat=lat, lng=lng
    )


def _retry_today(route: Route, stop: Stop, reason: str, at: dt.datetime) -> bool:
    """After a failed delivery: try again later today when the reason allows it, the order
    has attempts left today and the hub's day leaves time. The order gets a window from
    ``DISPATCH_RETRY_AFTER_S`` after the failure to the end of the shift, and a re-plan is
    asked for. Returns whether it will be retried."""
    order = stop.order
    if order is None or reason not in settings.DISPATCH_RETRY_SAME_DAY_REASONS:
        return False
    plan = route.plan
    midnight = local_midnight(hub=plan.hub, day=plan.service_date)
    tries = DeliveryAttempt.objects.filter(
        order=order, outcome=DeliveryAttempt.Outcome.FAILED, attempted_at__gte=midnight
    ).count()
    if tries >= settings.DISPATCH_MAX_ATTEMPTS_PER_DAY:
        return False
    shift, _ = vehicle_shift(hub=plan.hub, day=plan.service_date, midnight=midnight)
    start = max(
        at + dt.timedelta(seconds=settings.DISPATCH_RETRY_AFTER_S),
        moment_at(shift.start_s, midnight=midnight),
    )
    end = moment_at(shift.end_s, midnight=midnight)
    if end - start < dt.timedelta(minutes=30) or end <= timezone.now():
        return False
    order_reschedule(
        order=order,
        window_start=start,
        window_end=end,
        source=SOURCE,
        reason=f"same-day retry after {reason}",
    )
    replan_ask(
        plan=plan,
        trigger=ReplanTrigger.FAILED_DELIVERY,
        detail={"order": order.pk, "route": route.pk, "reason": reason},
        now=at,
    )
    return True


@transaction.atomic
def stop_deliver(
    *,
    stop: Stop,
    courier: Courier,
    recipient_name: str = "",
    photo: UploadedFile | None = None,
    signature: UploadedFile | None = None,
    at: dt.datetime | None = None,
    lat: Decimal | None = None,
    lng: Decimal | None = None,
) -> Stop:
    """The courier handed the parcels over: (pending →) arrived → completed.

    The order is delivered through ``order_deliver`` with the proof (recipient name, photo or
    signature) and an attempt naming the courier; the stop gets ``actual_departure``, the
    stops ahead new ETAs after commit, and the route completes if this was its last open stop. A retry of a
    completed stop writes nothing and returns it.
    """

    def record(order: Order, at: dt.datetime) -> None:
        order_deliver(
            order=order,
            recipient_name=recipient_name,
            photo=photo,
            signature=signature,
            attempted_at=at,
            latitude=lat,
            longitude=lng,
            source=SOURCE,
            actor=courier.user,
        )

    return _settle_stop(stop, courier, StopStatus.COMPLETED, record, at=at, lat=lat, lng=lng)


@transaction.atomic
def stop_fail(
    *,
    stop: Stop,
    courier: Courier,
    reason: str,
    note: str = "",
    at: dt.datetime | None = None,
    lat: Decimal | None = None,
    lng: Decimal | None = None,
) -> Stop:
    """The courier could not serve the stop: (pending →) arrived → failed.

    The order fails through ``order_fail`` with ``reason`` (a ``FailureReason``; ``other``
    needs a note) and an attempt naming the courier; the stops ahead get new ETAs after
    commit and the route completes if this was its last open stop. A retry of a failed stop returns it.
    """
    if reason not in FailureReason.values:
        # Checked before anything else so a bad request is a 400 even for a non-order stop.
        raise ValidationError({"reason": [f"Choose one of: {', '.join(FailureReason.values)}."]})

    def record(order: Order, at: dt.datetime) -> None:
        order_fail(
            order=order,
            reason=reason,
            note=note,
            attempted_at=at,
            latitude=lat,
            longitude=lng,
            source=SOURCE,
            actor=courier.user,
        )

    failed = _settle_stop(stop, courier, StopStatus.FAILED, record, at=at, lat=lat, lng=lng)
    # A retried request finds the order already rescheduled (or decided): nothing more to do.
    if Order.objects.filter(pk=failed.order_id, status=OrderStatus.FAILED).exists():
        route = Route.objects.select_related("plan__hub").get(pk=failed.route_id)
        _retry_today(route, failed, reason, failed.actual_departure)
    return failed
