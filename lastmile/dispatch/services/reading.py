"""Reading: what planning needs from the database, read once and without locks.

The engine counts whole seconds on one clock; dispatch uses seconds elapsed since local
midnight of the service date in the HUB's zone. Elapsed, not wall-clock: on a DST day the
hours between midnight and 10:00 are 9 or 11, and travel times add up in real seconds, so
every conversion goes through UTC instants (subtracting two aware datetimes that share a
``ZoneInfo`` would compare wall clocks and be an hour off).

A day's eligible orders, the hub's active vehicles and their shift (and the clock that turns
the engine's seconds back into datetimes), and for a re-plan the live day as driven: where each
vehicle is, what it carries and which stops are settled.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from fleet.models import Vehicle as FleetVehicle
from fleet.models import VehicleStatus
from fleet.selectors import vehicle_routing_spec, vehicle_state_or_none
from lastmile.dispatch.models import (
    ORDER_STOP_KINDS,
    SETTLED_STOP_STATUSES,
    Plan,
    Route,
    RouteStatus,
    Stop,
    StopKind,
    StopStatus,
)
from lastmile.hubs.models import Hub
from lastmile.hubs.selectors import hub_service_windows
from lastmile.orders.models import PLANNABLE_STATUSES, DeliveryOption, Order, OrderStatus, Parcel
from lastmile.routing.matrix import CachedProvider, HaversineProvider, MatrixProvider, OsrmProvider
from lastmile.routing.problem import (
    Load,
    Location,
    TimeWindow,
)

logger = logging.getLogger(__name__)

UTC = dt.UTC


# Orders a plan for the day takes: waiting to be planned (created, rescheduled) and those on
# an earlier plan of the same day (planned), which a new plan replaces. Door deliveries only:
# locker and pickup-point orders join routes as locker drops once lockers exist.
ELIGIBLE_STATUSES = frozenset(PLANNABLE_STATUSES | {OrderStatus.PLANNED})


ELIGIBLE_OPTIONS = frozenset({DeliveryOption.DOOR})


def local_midnight(*, hub: Hub, day: dt.date) -> dt.datetime:
    """The instant (UTC) the service day starts in the hub's zone: the engine's second 0."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=hub.zone).astimezone(UTC)


def seconds_since(moment: dt.datetime, *, midnight: dt.datetime) -> int:
    """Whole seconds elapsed from ``midnight`` to ``moment`` (both aware), rounded down."""
    if moment.tzinfo is None:
        raise ValueError("planning needs aware datetimes")
    return math.floor((moment.astimezone(UTC) - midnight).total_seconds())


def moment_at(seconds: float, *, midnight: dt.datetime) -> dt.datetime:
    """The aware instant ``seconds`` after ``midnight``, to the whole second."""
    return midnight + dt.timedelta(seconds=round(seconds))


def parse_shift(value: str) -> tuple[dt.time, dt.time]:
    """``"08:00-18:00"`` → two times; a bad setting is a configuration error, loudly."""
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ImproperlyConfigured(
            f"DISPATCH_DEFAULT_SHIFT must look like 08:00-18:00, got {value!r}"
        ) from None
    if end <= start:
        raise ImproperlyConfigured(f"DISPATCH_DEFAULT_SHIFT ends before it starts: {value!r}")
    return start, end


@cache
def _provider(osrm_url: str, timeout_s: float) -> MatrixProvider:
    # One cache per process and configuration: re-plans of the same hub reuse matrices.
    if osrm_url:
        return CachedProvider(OsrmProvider(osrm_url, timeout_s=timeout_s), maxsize=32)
    return CachedProvider(HaversineProvider(), maxsize=32)


def matrix_provider() -> MatrixProvider:
    """Haversine by default, OSRM when ``DISPATCH_OSRM_URL`` is set; cached either way."""
    return _provider(settings.DISPATCH_OSRM_URL, float(settings.DISPATCH_OSRM_TIMEOUT_S))


def eligible_orders(*, hub: Hub, service_date: dt.date) -> list[Order]:
    """The hub's door-delivery orders for the day in a status a plan takes, by pk."""
    return list(
        Order.objects.filter(
            hub=hub,
            service_date=service_date,
            status__in=ELIGIBLE_STATUSES,
            delivery_option__in=ELIGIBLE_OPTIONS,
        ).order_by("pk")
    )


def order_demands(orders: Iterable[Order | int]) -> dict[int, Load]:
    """Each order's demand from its parcels (orders or their ids), in one query.

    Volume is rounded up to whole cm³ per parcel, so a full vehicle in the model is never
    over-full in the van.
    """
    totals: dict[int, list[int]] = {
        order if isinstance(order, int) else order.pk: [0, 0, 0] for order in orders
    }
    parcels = Parcel.objects.filter(order__in=list(totals)).values_list(
        "order_id", "weight_g", "volume_mm3"
    )
    for order_id, weight_g, volume_mm3 in parcels.iterator(chunk_size=2000):
        row = totals[order_id]
        row[0] += weight_g
        row[1] += -(-volume_mm3 // 1000)
        row[2] += 1
    return {pk: Load(*row) for pk, row in totals.items()}


def active_vehicles(*, hub: Hub) -> list[FleetVehicle]:
    return list(
        FleetVehicle.objects.filter(home_hub=hub, status=VehicleStatus.ACTIVE)
        .select_related("vehicle_type")
        .order_by("code")
    )


def vehicle_shift(*, hub: Hub, day: dt.date, midnight: dt.datetime) -> tuple[TimeWindow, str]:
    """From the hub's first opening to its last closing that day, else the default shift."""
    windows = hub_service_windows(hub=hub, day=day)
    if windows:
        opens = min(w[0] for w in windows)
        closes = max(w[1] for w in windows)
        source = "opening_hours"
    else:
        start, end = parse_shift(settings.DISPATCH_DEFAULT_SHIFT)
        opens = dt.datetime.combine(day, start, tzinfo=hub.zone)
        closes = dt.datetime.combine(day, end, tzinfo=hub.zone)
        source = "default"
    return (
        TimeWindow(
            seconds_since(opens, midnight=midnight), seconds_since(closes, midnight=midnight)
        ),
        source,
    )


# --- A live day, as driven ----------------------------------------------------------------

LIVE_ROUTE_STATUSES = (RouteStatus.PLANNED, RouteStatus.DISPATCHED, RouteStatus.IN_PROGRESS)


# Statuses an order on a pending stop may be in and still be served today.
ON_ROUTE_STATUSES = (OrderStatus.PLANNED, OrderStatus.OUT_FOR_DELIVERY)


@dataclass
class LiveRoute:
    """A route still being driven (or about to be), as the re-plan sees it; or, with no
    route, a vehicle of the hub idle that day, which the re-plan may send out."""

    route: Route | None
    vehicle: FleetVehicle
    started: bool
    start: Location
    start_at: dt.datetime
    start_source: str  # "hub", "stop" (left it last), "at_stop" (serving it), "telematics"
    trip: int  # the trip the vehicle is on (a reload starts the next)
    energy_wh: int | None  # battery left for the rest of the day
    driven_m: int  # estimated distance already driven today
    pending: list[Stop] = field(default_factory=list)  # pending order stops, in sequence
    loaded: set[int] = field(default_factory=set)  # orders on board
    loading: bool = False  # at a reload stop at the hub right now
    # The driver's pending breaks, each by the order stop it follows (None: before any), in
    # seconds: the re-plan keeps them where they are in the route (see ``building``).
    breaks_after: dict[int | None, int] = field(default_factory=dict)


@dataclass
class LiveDay:
    plan: Plan
    now: dt.datetime
    midnight: dt.datetime
    shift: TimeWindow
    routes: list[LiveRoute]
    orders: dict[int, Order]  # every order the problem serves
    current_route: dict[int, int]  # order → route id it is on now (pending stops)
    retries: dict[int, int]  # order → route id whose vehicle carries it after a failure
    gone: list[tuple[Stop, str]]  # pending stops whose order no longer needs them, and why
    settled: int  # stops already settled (they stay as they are)


def _fresh(moment: dt.datetime | None, now: dt.datetime) -> bool:
    age = dt.timedelta(seconds=settings.DISPATCH_POSITION_MAX_AGE_S)
    return moment is not None and now - age <= moment <= now + dt.timedelta(minutes=5)


def _service(stop: Stop) -> dt.timedelta:
    return stop.planned_departure - stop.planned_start


def _driven_m(path: list[Location], profile: str) -> int:
    if len(path) < 2:
        return 0
    distances = matrix_provider().matrix(path, profile=profile).distances_m
    return round(sum(distances[i][i + 1] for i in range(len(path) - 1)))


def _at_hub(
    vehicle: FleetVehicle,
    route: Route | None,
    pending: list[Stop],
    *,
    now: dt.datetime,
    hub_at: Location,
    breaks_after: dict[int | None, int] | None = None,
) -> LiveRoute:
    """A vehicle that has not left the hub yet (its route not started, or no route at all),
    with a full battery."""
    spec = vehicle_routing_spec(vehicle=vehicle)
    return LiveRoute(
        route=route,
        vehicle=vehicle,
        started=False,
        start=hub_at,
        start_at=now,
        start_source="hub",
        trip=1,
        energy_wh=spec.energy.usable_wh if spec.energy else None,
        driven_m=0,
        pending=pending,
        breaks_after=breaks_after or {},
    )


def _breaks_after(stops: list[Stop], *, started: bool) -> dict[int | None, int]:
    """The route's pending breaks by the pending order stop each follows, in seconds. A break
    before any of them: before the first (a route not started yet) or at once (one driving)."""
    out: dict[int | None, int] = {}
    last: int | None = None
    orphan = 0
    for stop in sorted(stops, key=lambda s: s.sequence):
        if stop.status != StopStatus.PENDING:
            continue
        if stop.kind == StopKind.BREAK:
            pause = round((stop.planned_departure - stop.planned_start).total_seconds())
            if last is None:
                orphan += pause
            else:
                out[last] = out.get(last, 0) + pause
        elif stop.order_id is not None:
            if last is None and orphan and not started:
                out[stop.order_id], orphan = orphan, 0
            last = stop.order_id
    if orphan:
        out[None] = orphan
    return out


def _live_route(
    route: Route, stops: list[Stop], *, now: dt.datetime, hub_at: Location
) -> LiveRoute:
    vehicle = route.vehicle
    pending = [s for s in stops if s.status == StopStatus.PENDING and s.kind in ORDER_STOP_KINDS]
    if route.status != RouteStatus.IN_PROGRESS:
        breaks = _breaks_after(stops, started=False)
        return _at_hub(vehicle, route, pending, now=now, hub_at=hub_at, breaks_after=breaks)
    spec = vehicle_routing_spec(vehicle=vehicle)
    state = vehicle_state_or_none(vehicle)  # joined: no query
    # Where the vehicle is: the stop it is serving, else the last one it left (or a newer
    # telematics fix), else the hub it left.
    trip = 1
    visited: list[Stop] = []
    for stop in stops:
        if stop.status == StopStatus.PENDING or stop.status == StopStatus.SKIPPED:
            continue
        visited.append(stop)
        trip = max(trip, stop.trip)
        if stop.kind == StopKind.RELOAD and stop.status == StopStatus.COMPLETED:
            trip = stop.trip + 1
    visited.sort(key=lambda s: (s.actual_arrival or s.planned_arrival, s.sequence))
    arrived = next((s for s in stops if s.status == StopStatus.ARRIVED), None)
    start, start_at, source = hub_at, route.started_at or now, "hub"
    loading = arrived is not None and arrived.kind == StopKind.RELOAD
    if loading:
        # At the hub loading the next trip: its parcels count as on board, and whatever
        # else the re-plan hands this vehicle is loaded now, in the same reload.
        trip = arrived.trip + 1
    if arrived is not None:
        start = Location(float(arrived.latitude), float(arrived.longitude))
        begin = arrived.actual_arrival or now
        if arrived.window_start is not None:
            begin = max(begin, arrived.window_start)
        start_at, source = begin + _service(arrived), "at_stop"
    else:
        left = [s for s in visited if s.actual_departure is not None]
        if left:
            last = max(left, key=lambda s: s.actual_departure)
            start = Location(float(last.latitude), float(last.longitude))
            start_at, source = last.actual_departure, "stop"
        if (
            state is not None
            and state.latitude is not None
            and _fresh(state.recorded_at, now)
            and state.recorded_at >= start_at
        ):
            start = Location(float(state.latitude), float(state.longitude))
            start_at, source = state.recorded_at, "telematics"
    path = [hub_at, *(Location(float(s.latitude), float(s.longitude)) for s in visited)]
    if source == "telematics":
        path.append(start)
    driven = _driven_m(path, spec.profile)
    if spec.energy is not None:
        if state is not None and state.soc_pct is not None and _fresh(state.soc_recorded_at, now):
            live = vehicle_routing_spec(vehicle=vehicle, soc_pct=float(state.soc_pct)).energy
            energy_wh = live.usable_wh if live else None
        else:
            energy_wh = max(1, round(spec.energy.usable_wh - spec.energy.energy_wh(driven)))
    else:
        energy_wh = None
    loaded = {
        s.order_id for s in pending if s.trip == trip and s.order_id is not None
    }  # this trip's parcels are on board; later trips' wait at the hub
    return LiveRoute(
        route=route,
        vehicle=vehicle,
        started=True,
        start=start,
        start_at=max(now, start_at),
        start_source=source,
        trip=trip,
        energy_wh=energy_wh,
        driven_m=driven,
        pending=pending,
        loaded=loaded,
        loading=loading,
        breaks_after=_breaks_after(stops, started=True),
    )


def live_day_read(*, plan: Plan, now: dt.datetime) -> LiveDay:
    """Everything the re-plan needs from the database, read once (no locks)."""
    hub = plan.hub
    midnight = local_midnight(hub=hub, day=plan.service_date)
    shift, _ = vehicle_shift(hub=hub, day=plan.service_date, midnight=midnight)
    hub_at = Location(float(hub.latitude), float(hub.longitude))
    routes = list(
        Route.objects.filter(plan=plan, status__in=LIVE_ROUTE_STATUSES)
        .select_related("vehicle__vehicle_type", "vehicle__state")
        .order_by("pk")
    )
    stops_of: dict[int, list[Stop]] = {r.pk: [] for r in routes}
    for stop in (
        Stop.objects.filter(route__in=routes).select_related("order").order_by("route", "sequence")
    ):
        stops_of[stop.route_id].append(stop)
    live, orders, current, retries, gone = [], {}, {}, {}, []
    settled = 0
    for route in routes:
        entry = _live_route(route, stops_of[route.pk], now=now, hub_at=hub_at)
        kept = []
        for stop in entry.pending:
            order = stop.order
            if order.status in ON_ROUTE_STATUSES or (
                order.status in PLANNABLE_STATUSES and order.service_date == plan.service_date
            ):
                kept.append(stop)
                orders[order.pk] = order
                current[order.pk] = route.pk
            else:
                reason = "cancelled" if order.status == OrderStatus.CANCELLED else order.status
                gone.append((stop, reason))
        entry.pending = kept
        entry.loaded &= set(current)
        for stop in stops_of[route.pk]:
            settled += stop.status in SETTLED_STOP_STATUSES
            order = stop.order
            if (
                stop.status == StopStatus.FAILED
                and order is not None
                and order.status in PLANNABLE_STATUSES
                and order.service_date == plan.service_date
                and order.pk not in current
            ):
                # A failed delivery to try again today: the parcel is on the vehicle if the
                # failure was on the trip it is still driving.
                orders[order.pk] = order
                retries[order.pk] = route.pk
                if entry.started and stop.trip == entry.trip:
                    entry.loaded.add(order.pk)
        live.append(entry)
    # Vehicles of the hub with no route that day can go out for what the others cannot take.
    taken = set(Route.objects.filter(plan=plan).values_list("vehicle_id", flat=True))
    for vehicle in active_vehicles(hub=hub):
        if vehicle.pk in taken:
            continue
        live.append(_at_hub(vehicle, None, [], now=now, hub_at=hub_at))
    new = Order.objects.filter(
        hub=hub,
        service_date=plan.service_date,
        status__in=PLANNABLE_STATUSES,
        delivery_option__in=ELIGIBLE_OPTIONS,
    ).exclude(pk__in=list(orders))
    for order in new.order_by("pk"):
        orders[order.pk] = order
    return LiveDay(
        plan=plan,
        now=now,
        midnight=midnight,
        shift=shift,
        routes=live,
        orders=orders,
        current_route=current,
        retries=retries,
        gone=gone,
        settled=settled,
    )
