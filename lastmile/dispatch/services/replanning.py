"""Re-planning a published day while it is being driven.

A new order for today, a cancellation, a failed delivery to retry today or a vehicle running
late asks for a re-plan (:func:`replan_request`); triggers that arrive while one waits out
``DISPATCH_REPLAN_DEBOUNCE_S`` join it, so a burst of changes costs one solve. The run
(:func:`replan_run`, on the planning queue) reads the live day, builds a routing problem of
what is left, solves it, checks it independently and applies it:

- settled stops (completed, failed, skipped) and a stop the courier is at stay as they are;
- each vehicle on the road starts where it is (the stop it is at or left last, or a fresh
  telematics fix) at the current time, with the battery it has left; a vehicle still at the
  hub starts there when its shift or now allows;
- parcels already on a vehicle stay on it (pinned; delivered late, in overtime if need be,
  rather than not at all), and so do the rest of a started route's parcels, which wait for
  it at the hub;
- everything else (new orders, retries, orders of routes not started) is collected at the
  hub: a started vehicle returns there to load it (a reload stop), one at the hub loads
  before it leaves, and a vehicle with no route that day may go out with a new one;
- an order changes route only when that saves more than ``DISPATCH_REPLAN_MOVE_COST``.

The result is written as a diff against the routes: stops kept (same rows, new sequence and
ETA), added, moved (skipped on one route, added to another), dropped (skipped) and orders
left unassigned with the engine's reason; the ``Replan`` row and a ``replanned`` plan event
carry it for the dispatcher. The solve runs outside any transaction; the write locks the
plan, its routes, pending stops and orders. Stops a courier settled meanwhile stay settled;
if a route started or finished or another order changed meanwhile, it gives up and asks
again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from fleet.models import Vehicle as FleetVehicle
from fleet.selectors import vehicle_routing_spec, vehicle_state_or_none
from lastmile.accounts.models import User
from lastmile.core.errors import ApplicationError, Conflict, ValidationFailed
from lastmile.core.leases import (
    LEASE_FIELDS,
    SweepResult,
    lease_attempts_left,
    lease_expired,
    lease_held,
    lease_lost_reason,
    lease_released,
    lease_renew,
    lease_take,
    leases_sweep,
)
from lastmile.core.state import check_transition
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.dispatch.models import (
    ORDER_STOP_KINDS,
    REPLAN_TRANSITIONS,
    SETTLED_STOP_STATUSES,
    Plan,
    PlanEvent,
    PlanStatus,
    Replan,
    ReplanStatus,
    ReplanTrigger,
    Route,
    RouteStatus,
    Stop,
    StopKind,
    StopStatus,
    UnassignedOrder,
)
from lastmile.dispatch.services.building import (
    ELIGIBLE_OPTIONS,
    HUB_LOCATION,
    PlanningError,
    active_vehicles,
    job_id_for,
    local_midnight,
    matrix_provider,
    moment_at,
    order_demands,
    order_job,
    seconds_since,
    vehicle_shift,
)
from lastmile.dispatch.services.publishing import eta_window, stop_route_ref
from lastmile.dispatch.services.routes import route_complete_if_settled
from lastmile.dispatch.services.staffing import routes_staff
from lastmile.orders.models import PLANNABLE_STATUSES, Order, OrderStatus
from lastmile.orders.services import (
    order_eta_changed,
    order_plan,
    order_start_delivery,
    order_unplan,
)
from lastmile.routing.checker import CheckReport, check
from lastmile.routing.matrix import build_matrices
from lastmile.routing.params import SolverParams, throttled
from lastmile.routing.problem import (
    Job,
    JobKind,
    Load,
    Location,
    Problem,
    Shipment,
    TimeWindow,
    TravelMatrix,
    Vehicle,
)
from lastmile.routing.solution import Solution, VisitKind
from lastmile.routing.solver import solve

logger = logging.getLogger(__name__)

LIVE_ROUTE_STATUSES = (RouteStatus.PLANNED, RouteStatus.DISPATCHED, RouteStatus.IN_PROGRESS)
# Statuses an order on a pending stop may be in and still be served today.
ON_ROUTE_STATUSES = (OrderStatus.PLANNED, OrderStatus.OUT_FOR_DELIVERY)
# Pending stops are renumbered in two steps (unique route + sequence): first out of the way.
SEQUENCE_PARK = 1_000_000
# Location 1 of a re-plan problem: the hub's loading dock (location 0 is the hub itself).
DOCK = 1
SOURCE = "system"


class ReplanFailed(ApplicationError):
    code = DispatchErrorCode.REPLAN_FAILED
    status = 409
    title = "The day could not be re-planned"


# --- Requesting ----------------------------------------------------------------------------


def _trigger(kind: str, at: dt.datetime, detail: dict | None) -> dict:
    return {"kind": kind, "at": at.isoformat(), **(detail or {})}


def _enqueue(replan: Replan, countdown: float) -> None:
    from lastmile.dispatch.tasks import replan_hub_day_task

    replan_hub_day_task.apply_async(
        args=(replan.pk,), task_id=replan.celery_task_id, countdown=max(0.0, countdown)
    )


def replan_request(
    *,
    plan: Plan,
    trigger: str,
    detail: dict | None = None,
    actor: User | None = None,
    now: dt.datetime | None = None,
    debounce: bool = True,
    enqueue: bool = True,
) -> Replan:
    """Ask for a re-plan of a published day; the run goes to the planning queue.

    While a re-plan is queued, further triggers join it (``joined`` set on the returned row)
    and no second run is sent. ``debounce=False`` (a dispatcher's button) runs it at once;
    ``enqueue=False`` leaves running it to the caller.
    Refused for a plan that is not published or a day that has passed.
    """
    now = now or timezone.now()
    plan = Plan.objects.select_related("hub").get(pk=plan.pk)  # its status as of now
    if trigger not in ReplanTrigger.values:
        raise ValidationFailed(
            f"Unknown re-plan trigger {trigger!r}.", errors={"trigger": ["Unknown."]}
        )
    if plan.status != PlanStatus.PUBLISHED:
        raise Conflict(
            "Only a published plan is re-planned; plan the day again instead.",
            code=DispatchErrorCode.PLAN_NOT_PUBLISHED,
        )
    if plan.service_date < timezone.localdate(timezone=plan.hub.zone):
        raise ValidationFailed(
            f"{plan.service_date:%Y-%m-%d} has passed; its routes cannot change.",
            errors={"plan": ["This day has passed."]},
        )
    entry = _trigger(trigger, now, detail)
    with transaction.atomic():
        queued = (
            Replan.objects.select_for_update().filter(plan=plan, status=ReplanStatus.QUEUED).first()
        )
        if queued is None:
            delay = settings.DISPATCH_REPLAN_DEBOUNCE_S if debounce else 0
            try:
                with transaction.atomic():
                    queued = Replan.objects.create(
                        plan=plan,
                        triggers=[entry],
                        requested_by=actor,
                        run_after=now + dt.timedelta(seconds=delay),
                        celery_task_id=str(uuid.uuid4()),
                        sent_at=timezone.now(),
                    )
            except IntegrityError:
                # Another trigger created it a moment ago: join that one.
                queued = Replan.objects.select_for_update().get(
                    plan=plan, status=ReplanStatus.QUEUED
                )
            else:
                PlanEvent.objects.create(
                    plan=plan,
                    kind=PlanEvent.Kind.REPLAN_REQUESTED,
                    actor=actor,
                    payload={"replan": queued.pk, "trigger": entry},
                    occurred_at=now,
                )
                replan = queued
                if enqueue:
                    transaction.on_commit(lambda: _enqueue(replan, delay))
                logger.info(
                    "replan requested",
                    extra={"plan": plan.pk, "replan": replan.pk, "trigger": trigger},
                )
                return replan
        queued.triggers = [*queued.triggers, entry]
        update = ["triggers", "updated_at"]
        if not debounce:
            # Sent again even when one is on its way: a lost message must not leave the
            # dispatcher's button dead, and a second delivery finds nothing queued.
            if queued.run_after > now:
                queued.run_after = now
                update.append("run_after")
            if enqueue:
                transaction.on_commit(lambda: _enqueue(queued, 0))
        queued.save(update_fields=update)
        queued.joined = True
        return queued


def replan_ask(
    *, plan: Plan, trigger: str, detail: dict | None = None, now: dt.datetime | None = None
) -> Replan | None:
    """``replan_request`` for triggers raised inside another change (a courier's update):
    a day that can no longer be re-planned (passed, not published) is logged and skipped,
    never an error for the courier."""
    try:
        return replan_request(plan=plan, trigger=trigger, detail=detail, now=now)
    except ApplicationError as exc:
        logger.info(
            "replan not requested", extra={"plan": plan.pk, "trigger": trigger, "why": exc.code}
        )
        return None


# --- Reading the live day ------------------------------------------------------------------


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
    )


def _live_route(
    route: Route, stops: list[Stop], *, now: dt.datetime, hub_at: Location
) -> LiveRoute:
    vehicle = route.vehicle
    pending = [s for s in stops if s.status == StopStatus.PENDING and s.kind in ORDER_STOP_KINDS]
    if route.status != RouteStatus.IN_PROGRESS:
        return _at_hub(vehicle, route, pending, now=now, hub_at=hub_at)
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


# --- The routing problem of the rest of the day --------------------------------------------


@dataclass(frozen=True)
class ReplanInput:
    problem: Problem
    day: LiveDay
    by_vehicle: dict[str, LiveRoute]
    stats: dict[str, object]
    initial_routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reload_s: int = 0  # what reaching the dock from the road costs, inside the arrival times

    def at(self, seconds: float) -> dt.datetime:
        return moment_at(seconds, midnight=self.day.midnight)


def _pickup_id(order_id: int) -> str:
    return f"p{order_id}"


def replan_input_build(day: LiveDay) -> ReplanInput:
    """The routing problem of what is left: see the module docstring for the rules."""
    reload_s = int(settings.DISPATCH_RELOAD_S)
    hub = Location(float(day.plan.hub.latitude), float(day.plan.hub.longitude))
    # The hub twice: where vehicles start and end, and the dock where parcels are loaded.
    # Reaching the dock from the road costs the reload time; from the hub it costs nothing
    # (loading before leaving is not counted, as in the day's plan).
    locations = [hub, hub]
    no_reload = {HUB_LOCATION, DOCK}
    vehicles, by_vehicle = [], {}
    now_s = seconds_since(day.now, midnight=day.midnight)
    # A vehicle on the road brings its parcels home even past the shift's end (overtime, not
    # abandoned parcels): its day ends at midnight. New work still has to fit the windows.
    end_s = seconds_since(
        local_midnight(hub=day.plan.hub, day=day.plan.service_date + dt.timedelta(days=1)),
        midnight=day.midnight,
    )
    for entry in day.routes:
        spec = vehicle_routing_spec(vehicle=entry.vehicle)
        start = HUB_LOCATION
        if entry.start_source != "hub":
            start = len(locations)
            locations.append(entry.start)
            if entry.loading:
                no_reload.add(start)  # at a reload already: its time is in start_at
        begin = max(now_s, seconds_since(entry.start_at, midnight=day.midnight))
        if not entry.started:
            begin = max(begin, day.shift.start_s)
        energy = spec.energy
        if energy is not None and entry.energy_wh is not None:
            energy = dataclasses.replace(energy, usable_wh=max(1, entry.energy_wh))
        code = entry.vehicle.code
        vehicles.append(
            Vehicle(
                id=code,
                start=start,
                end=HUB_LOCATION,
                shift=TimeWindow(begin, max(begin, end_s if entry.started else day.shift.end_s)),
                capacity=spec.capacity,
                profile=spec.profile,
                skills=spec.skills,
                energy=energy,
                # A vehicle out (or booked) today costs its fixed cost whatever happens; an idle
                # one only if it goes out.
                costs=dataclasses.replace(spec.costs, fixed=0) if entry.route else spec.costs,
            )
        )
        by_vehicle[code] = entry
    code_of = {e.route.pk: e.vehicle.code for e in day.routes if e.route}
    started = {e.route.pk for e in day.routes if e.started}
    loaded = {order_id: e.route.pk for e in day.routes for order_id in e.loaded}
    demands = order_demands(list(day.orders.values()))
    jobs, shipments = [], []
    for order in day.orders.values():
        location = len(locations)
        locations.append(Location(float(order.latitude), float(order.longitude)))
        job = order_job(order, demand=demands[order.pk], location=location, midnight=day.midnight)
        route_id = day.current_route.get(order.pk, day.retries.get(order.pk))
        on_started = route_id in started
        if order.pk in loaded:
            # On board: it stays on this vehicle, late if it must.
            jobs.append(
                dataclasses.replace(job, vehicle_id=code_of[loaded[order.pk]], soft_end=True)
            )
            continue
        pin = code_of[route_id] if on_started else None
        prefer = code_of[route_id] if route_id is not None and not on_started else None
        delivery = dataclasses.replace(
            job, vehicle_id=pin, preferred_vehicle_id=prefer, soft_end=on_started
        )
        pickup = Job(
            id=_pickup_id(order.pk),
            location=DOCK,
            kind=JobKind.PICKUP,
            demand=delivery.demand,
            skills=delivery.skills,
            priority=delivery.priority,
            vehicle_id=pin,
            preferred_vehicle_id=prefer,
        )
        shipments.append(Shipment(id=f"s{order.pk}", pickup=pickup, delivery=delivery))
    profiles = sorted({v.profile for v in vehicles}) or ["van"]
    problem = Problem(
        locations=tuple(locations),
        jobs=tuple(jobs),
        vehicles=tuple(vehicles),
        matrices={
            profile: _with_reload(matrix, reload_s, no_reload)
            for profile, matrix in build_matrices(locations, matrix_provider(), profiles).items()
        },
        shipments=tuple(shipments),
    )
    stats = {
        "vehicles": len(vehicles),
        "orders": len(day.orders),
        "on_board": len(jobs),
        "at_hub": len(shipments),
        "starts": {
            e.vehicle.code: {
                "route": e.route.pk if e.route else None,
                "latitude": round(e.start.lat, 6),
                "longitude": round(e.start.lng, 6),
                "at": max(e.start_at, day.now).isoformat(),
                "source": e.start_source,
                "trip": e.trip,
                "energy_wh": e.energy_wh,
            }
            for e in day.routes
        },
    }
    return ReplanInput(
        problem=problem,
        day=day,
        by_vehicle=by_vehicle,
        stats=stats,
        initial_routes=_current_routes(day, loaded),
        reload_s=reload_s,
    )


def _with_reload(matrix: TravelMatrix, reload_s: int, no_reload: set[int]) -> TravelMatrix:
    """``matrix`` with the reload time added to every trip into the dock from the road."""
    if not reload_s:
        return matrix
    durations = tuple(
        row if origin in no_reload else (*row[:DOCK], row[DOCK] + reload_s, *row[DOCK + 1 :])
        for origin, row in enumerate(matrix.durations_s)
    )
    return TravelMatrix(matrix.distances_m, durations)


def _current_routes(day: LiveDay, loaded: dict[int, int]) -> dict[str, tuple[str, ...]]:
    """Each vehicle's jobs in the order it drives them now: the search starts from there.

    Trip by trip: what waits at the hub is loaded (its pickups) before that trip's
    deliveries. A retry on board goes at the end of the trip being driven, before the
    vehicle loads the next one: it was part of that trip's load, so that is where the
    vehicle has room for it (carried into a trip planned full it would overload it, and
    one overloaded route rejects the whole start).
    """
    routes = {}
    for entry in day.routes:
        trips: dict[int, list[int]] = {}
        for stop in entry.pending:
            trips.setdefault(stop.trip, []).append(stop.order_id)
        retried = [
            o
            for o, route_id in day.retries.items()
            if entry.route and route_id == entry.route.pk and loaded.get(o) == route_id
        ]
        trips.setdefault(entry.trip, []).extend(retried)
        jobs: list[str] = []
        for trip in sorted(trips):
            at_hub = [o for o in trips[trip] if o not in loaded]
            jobs += [_pickup_id(o) for o in at_hub]
            jobs += [job_id_for(o) for o in trips[trip]]
        routes[entry.vehicle.code] = tuple(jobs)
    return routes


# --- Running -------------------------------------------------------------------------------


def _transition(replan: Replan, target: str, **fields: object) -> Replan:
    check_transition(REPLAN_TRANSITIONS, entity="Replan", current=replan.status, target=target)
    replan.status = target
    for name, value in fields.items():
        setattr(replan, name, value)
    replan.save(update_fields=["status", "updated_at", *fields])
    return replan


@transaction.atomic
def _start(replan_id: int, now: dt.datetime) -> tuple[Replan, str] | bool | None:
    """Take the re-plan's lease: queued → running, or take over a running one whose lease
    expired (failed with the reason after ``TASK_MAX_ATTEMPTS`` starts). ``None`` if there is
    nothing to run (finished, or running under a live lease), ``False`` if another re-plan
    of the same plan is running (the caller tries again later)."""
    replan = (
        Replan.objects.select_for_update().select_related("plan__hub").filter(pk=replan_id).first()
    )
    if replan is None:
        return None
    # Leases run on the clock, whatever ``now`` the re-plan is computed for.
    if replan.status == ReplanStatus.RUNNING and lease_expired(replan, now=timezone.now()):
        if not lease_attempts_left(replan):
            _give_up(replan, lease_lost_reason(replan, what="re-plan"))
            return None
        owner = lease_take(replan)
        replan.save(update_fields=[*LEASE_FIELDS, "updated_at"])
        logger.warning(
            "replan taken over from a lost worker",
            extra={"replan": replan.pk, "attempt": replan.attempts},
        )
        return replan, owner
    if replan.status != ReplanStatus.QUEUED:
        return None
    if Replan.objects.filter(plan_id=replan.plan_id, status=ReplanStatus.RUNNING).exists():
        return False
    owner = lease_take(replan)
    fields = {name: getattr(replan, name) for name in LEASE_FIELDS}
    return _transition(replan, ReplanStatus.RUNNING, started_at=now, **fields), owner


def _give_up(replan: Replan, reason: str) -> None:
    """running → failed for a re-plan whose worker was lost too often (row locked)."""
    _transition(
        replan, ReplanStatus.FAILED, error=reason, finished_at=timezone.now(), **lease_released()
    )
    logger.warning("replan given up", extra={"replan": replan.pk, "error": reason})


def _fail(replan_id: int, error: str, now: dt.datetime, owner: str) -> Replan:
    with transaction.atomic():
        replan = Replan.objects.select_for_update().get(pk=replan_id)
        if replan.status == ReplanStatus.RUNNING and not lease_held(replan, owner=owner):
            return replan  # another run took it over: its outcome stands
        if replan.status in (ReplanStatus.QUEUED, ReplanStatus.RUNNING):
            _transition(
                replan, ReplanStatus.FAILED, error=error, finished_at=now, **lease_released()
            )
    logger.warning("replan failed", extra={"replan": replan_id, "error": error})
    return replan


class _RoutesChanged(Exception):
    pass


def replan_run(*, replan_id: int, now: dt.datetime | None = None) -> Replan | None:
    """Run a queued re-plan: read the live day, solve, check and apply; see the module.

    Returns ``None`` when it is not queued any more (a retried task) or another worker holds
    its live lease; a running re-plan whose lease expired is taken over. When another re-plan
    of the plan is running, it is left queued and the row returned: the task tries again. A
    failure changes nothing on the routes and is recorded on the row.
    """
    now = now or timezone.now()
    started_run = _start(replan_id, now)
    if not started_run:
        return None if started_run is None else Replan.objects.get(pk=replan_id)
    replan, owner = started_run
    plan = replan.plan
    mine = Replan.objects.filter(pk=replan.pk, status=ReplanStatus.RUNNING)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        day = live_day_read(plan=plan, now=now)
        if not day.routes:
            raise ReplanFailed("No route of this day is running and no vehicle is free.")
        data = replan_input_build(day)
        timings["build_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        solution = solve(
            data.problem,
            SolverParams(
                time_limit_s=float(settings.DISPATCH_REPLAN_TIME_LIMIT_S),
                move_cost=float(settings.DISPATCH_REPLAN_MOVE_COST),
                initial_routes=data.initial_routes,
                # The lease's heartbeat; the search stops once another run took it over.
                should_stop=throttled(lambda: not lease_renew(mine, owner=owner), every_s=1.0),
            ),
        )
        timings["solve_s"] = round(time.perf_counter() - started, 3)
        report = check(data.problem, solution)
        if not report.feasible:
            raise ReplanFailed(
                f"The re-plan breaks {len(report.violations)} rule(s); routes left as they "
                f"were. First: {report.violations[0]}"
            )
        started = time.perf_counter()
        applied = _apply(replan.pk, owner, data, solution, report, timings, started)
        return applied
    except _RoutesChanged as exc:
        failed = _fail(replan.pk, str(exc), now, owner)
        replan_ask(plan=plan, trigger=ReplanTrigger.RETRY, detail={"after": replan.pk})
        return failed
    except (ApplicationError, PlanningError) as exc:
        return _fail(replan.pk, str(exc), now, owner)
    except Exception as exc:
        logger.exception("replan failed unexpectedly", extra={"replan": replan.pk})
        return _fail(replan.pk, f"Unexpected error ({exc.__class__.__name__}: {exc}).", now, owner)


# --- Applying ------------------------------------------------------------------------------


@dataclass
class _Visit:
    kind: str  # StopKind.DELIVERY or StopKind.RELOAD
    order_id: int | None
    arrival: dt.datetime
    start: dt.datetime
    departure: dt.datetime
    trip: int


def _visits(data: ReplanInput, vehicle_code: str, solution: Solution) -> list[_Visit]:
    """The solved route of a vehicle as stops: deliveries, and the hub visits that load
    parcels (consecutive pickups are one reload; a vehicle at the hub loads before it leaves)."""
    entry = data.by_vehicle[vehicle_code]
    solved = solution.route_of(vehicle_code)
    if solved is None:
        return []
    out: list[_Visit] = []
    trip = entry.trip
    # A vehicle at the hub (not left yet, started but still there, or at a reload) loads
    # before its next delivery.
    delivered_yet = entry.started and not entry.loading and entry.start_source != "hub"
    for visit in solved.visits:
        if visit.kind != VisitKind.JOB:
            continue
        arrival, start, leave = (
            data.at(visit.arrival_s),
            data.at(visit.start_s),
            data.at(visit.departure_s),
        )
        if visit.job_id.startswith("p"):
            if not delivered_yet:
                continue  # loading at the hub before the first delivery
            if out and out[-1].kind == StopKind.RELOAD:
                out[-1].departure = leave
                continue
            # A reload ends the trip it closes; the next delivery is on the next trip. The
            # matrix put the reload time into the trip to the dock: the van arrived before.
            arrival = start = data.at(visit.arrival_s - data.reload_s)
            out.append(_Visit(StopKind.RELOAD, None, arrival, start, leave, trip))
            trip += 1
            continue
        delivered_yet = True
        out.append(_Visit(StopKind.DELIVERY, int(visit.job_id[1:]), arrival, start, leave, trip))
    return out


def _ref(order: Order) -> str:
    return order.external_reference


@transaction.atomic(durable=True)
def _apply(
    replan_id: int,
    owner: str,
    data: ReplanInput,
    solution: Solution,
    report: CheckReport,
    timings: dict[str, float],
    started: float,
) -> Replan:
    day = data.day
    now = day.now
    replan = Replan.objects.select_for_update().get(pk=replan_id)
    if replan.status != ReplanStatus.RUNNING or not lease_held(replan, owner=owner):
        # Given up or taken over by another run while this one solved: its outcome stands.
        logger.info("replan not applied: lease lost", extra={"replan": replan.pk})
        return replan
    plan = Plan.objects.select_for_update().select_related("hub").get(pk=day.plan.pk)
    if plan.status != PlanStatus.PUBLISHED:
        raise ReplanFailed("The plan is no longer published.")
    live = [e for e in day.routes if e.route is not None]
    locked = {
        r.pk: r
        for r in Route.objects.select_for_update()
        .filter(pk__in=[e.route.pk for e in live])
        .order_by("pk")
    }
    for entry in live:
        if locked[entry.route.pk].status != entry.route.status:
            raise _RoutesChanged(
                f"Route {entry.vehicle.code} went {locked[entry.route.pk].status} while "
                "re-planning; re-planning again."
            )
    taken = set(Route.objects.filter(plan=plan).values_list("vehicle_id", flat=True))
    if any(e.route is None and e.vehicle.pk in taken for e in day.routes):
        raise _RoutesChanged("A free vehicle got a route while re-planning; re-planning again.")
    new_routes: list[Route] = []
    # Stops settled while the engine worked stay settled; the rest follows the re-plan.
    pending_now = {
        s.pk: s
        for s in Stop.objects.select_for_update(of=("self",))
        .filter(route_id__in=list(locked), status=StopStatus.PENDING)
        .select_related("order")
    }
    still_pending = {s.order_id for s in pending_now.values() if s.order_id is not None}
    # Orders the courier settled while the engine worked are done: out of the new routes and
    # out of the diff. Any other order that changed meanwhile (a new one cancelled, a retry
    # decided otherwise) makes the result stale: nothing is applied and it runs again.
    settled_meanwhile = set(day.current_route) - still_pending
    fresh = dict(
        Order.objects.select_for_update()
        .filter(pk__in=[pk for pk in day.orders if pk not in settled_meanwhile])
        .order_by("pk")
        .values_list("pk", "status")
    )
    changed = [pk for pk, status in fresh.items() if status != day.orders[pk].status]
    if changed:
        raise _RoutesChanged(
            f"{len(changed)} order(s) changed while re-planning; re-planning again."
        )
    unassigned = {u.job_id: u for u in solution.unassigned}
    on_board = {o for e in day.routes for o in e.loaded}
    stranded = [
        pk for pk in on_board if pk not in settled_meanwhile and job_id_for(pk) in unassigned
    ]
    if stranded:
        # A parcel on a vehicle is delivered by that vehicle or the dispatcher decides: a
        # re-plan that would leave it without a stop changes nothing.
        first = unassigned[job_id_for(stranded[0])]
        raise ReplanFailed(
            f"{len(stranded)} parcel(s) on board would be left without a stop "
            f"(first: order {day.orders[stranded[0]].external_reference}: {first.detail}); "
            "routes left as they were."
        )
    figures = {f.vehicle_id: f for f in report.routes}
    diff: dict[str, list] = {"added": [], "moved": [], "dropped": [], "unassigned": []}
    resequenced: list[int] = []
    placed: dict[int, tuple[Route, Stop]] = {}
    old_windows: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    skipped_total = 0

    totals: list[tuple[Route, LiveRoute, object, list[Stop]]] = []
    for entry in day.routes:
        code = entry.vehicle.code
        if entry.route is None:
            if not _visits(data, code, solution):
                continue
            route = _route_create(plan, entry, data, solution)
            new_routes.append(route)
            locked[route.pk] = route
        else:
            route = locked[entry.route.pk]
        visits = [
            v
            for v in _visits(data, code, solution)
            if v.order_id is None
            or v.order_id not in day.current_route
            or v.order_id in still_pending
        ]
        mine = [s for s in pending_now.values() if s.route_id == route.pk]
        by_order = {s.order_id: s for s in mine if s.order_id is not None}
        reloads = sorted((s for s in mine if s.kind == StopKind.RELOAD), key=lambda s: s.sequence)
        before = [s.order_id for s in sorted(mine, key=lambda s: s.sequence) if s.order_id]
        # Park every pending stop's sequence out of the way of the new numbering.
        Stop.objects.filter(pk__in=[s.pk for s in mine]).update(
            sequence=F("sequence") + SEQUENCE_PARK
        )
        base = (
            Stop.objects.filter(route=route)
            .exclude(status=StopStatus.PENDING)
            .aggregate(top=Max("sequence"))["top"]
            or 0
        )
        used: set[int] = set()
        new_rows: list[Stop] = []
        ordered: list[Stop] = []
        for visit in visits:
            if visit.order_id is not None and visit.order_id in by_order:
                stop = by_order[visit.order_id]
                old_windows[visit.order_id] = (eta_window(stop).start, eta_window(stop).end)
            elif visit.kind == StopKind.RELOAD and reloads:
                stop = reloads.pop(0)
            else:
                order = day.orders[visit.order_id] if visit.order_id else None
                hub = plan.hub
                stop = Stop(
                    route=route,
                    kind=visit.kind,
                    order=order,
                    latitude=order.latitude if order else hub.latitude,
                    longitude=order.longitude if order else hub.longitude,
                    window_start=order.window_start if order else None,
                    window_end=order.window_end if order else None,
                )
                new_rows.append(stop)
            stop.trip = visit.trip
            stop.planned_arrival, stop.planned_start = visit.arrival, visit.start
            stop.planned_departure, stop.eta = visit.departure, visit.arrival
            if stop.order is not None:
                # The order's window may have moved (a retry later today).
                stop.window_start, stop.window_end = stop.order.window_start, stop.order.window_end
            used.add(id(stop))
            ordered.append(stop)
            if visit.order_id is not None:
                placed[visit.order_id] = (route, stop)
        leftovers = [s for s in mine if id(s) not in used]
        for stop in sorted(leftovers, key=lambda s: s.sequence):
            base += 1
            stop.sequence, stop.status = base, StopStatus.SKIPPED
        skipped_total += len(leftovers)
        for stop in ordered:
            base += 1
            stop.sequence = base
        fields = [
            "sequence", "trip", "planned_arrival", "planned_start", "planned_departure",
            "eta", "window_start", "window_end", "status",
        ]  # fmt: skip
        Stop.objects.bulk_update([s for s in [*leftovers, *ordered] if s.pk], fields)
        # Pending stops the re-plan does not use (moved away, dropped, cancelled, a reload no
        # longer needed) were skipped above; they stay on the route as history.
        Stop.objects.bulk_create(new_rows)
        after = [s.order_id for s in ordered if s.order_id]
        if after != before:
            resequenced.append(route.pk)
        totals.append((route, entry, figures.get(code), ordered))

    loads = _route_loads([route.pk for route, *_ in totals])
    for route, entry, route_figures, ordered in totals:
        _route_totals(route, entry, route_figures, ordered, loads[route.pk], data)

    # Orders: plan what is new, tell customers of moved windows, unplan what was dropped.
    for order_id, (route, stop) in sorted(placed.items()):
        order = day.orders[order_id]
        window = eta_window(stop)
        ref = stop_route_ref(stop, plan_id=plan.pk)
        previous = day.current_route.get(order_id)
        if previous is None:
            why = "retry" if order_id in day.retries else "new"
            if order.status in PLANNABLE_STATUSES:
                order = order_plan(
                    order=order, source=SOURCE, route_ref=ref,
                    eta_start=window.start, eta_end=window.end,
                )  # fmt: skip
            if order_id in data.by_vehicle[route.vehicle.code].loaded and (
                order.status == OrderStatus.PLANNED
            ):
                order_start_delivery(order=order, source=SOURCE)
            diff["added"].append(
                {"order": order_id, "ref": _ref(order), "route": route.pk,
                 "vehicle": route.vehicle.code, "why": why}
            )  # fmt: skip
            continue
        if order.status in PLANNABLE_STATUSES:
            order = order_plan(
                order=order, source=SOURCE, route_ref=ref,
                eta_start=window.start, eta_end=window.end,
            )  # fmt: skip
        elif previous != route.pk or _shifted(old_windows.get(order_id), window):
            order_eta_changed(
                order=order, eta_start=window.start, eta_end=window.end, route_ref=ref
            )
        if previous != route.pk:
            source = locked[previous]
            diff["moved"].append(
                {"order": order_id, "ref": _ref(order), "from_route": previous,
                 "to_route": route.pk, "from_vehicle": source.vehicle.code,
                 "to_vehicle": route.vehicle.code}
            )  # fmt: skip

    for stop, reason in day.gone:
        if stop.pk in pending_now:  # skipped with the route's other unused stops
            diff["dropped"].append(
                {"order": stop.order_id, "ref": _ref(stop.order), "route": stop.route_id,
                 "reason": reason, "detail": f"order {reason}"}
            )  # fmt: skip
    # The plan's unassigned list follows: placed orders leave it, unplaced ones are (re)written
    # with today's reason, in two statements whatever the count.
    UnassignedOrder.objects.filter(plan=plan, order_id__in=list(placed)).delete()
    left_out: list[UnassignedOrder] = []
    for order_id, order in day.orders.items():
        if order_id in placed or order_id in settled_meanwhile:
            continue
        left = unassigned.get(job_id_for(order_id))
        reason = left.reason.value if left else "dropped_for_cost"
        detail = left.detail if left else "not placed"
        left_out.append(
            UnassignedOrder(
                plan=plan, order=order, reason=reason, detail=detail,
                fix=(left.fix or "") if left else "",
            )
        )  # fmt: skip
        row = {"order": order_id, "ref": _ref(order), "reason": reason, "detail": detail}
        previous = day.current_route.get(order_id)
        if previous is None:
            diff["unassigned"].append(row)
            continue
        diff["dropped"].append({**row, "route": previous})
        if order.status == OrderStatus.PLANNED:
            order_unplan(order=order, reason=f"re-plan: {detail}", source=SOURCE)
    UnassignedOrder.objects.bulk_create(
        left_out,
        update_conflicts=True,
        unique_fields=["plan", "order"],
        update_fields=["reason", "detail", "fix"],
        batch_size=1000,
    )

    diff["new_routes"] = _routes_staff(plan, new_routes)
    diff["resequenced"] = resequenced
    diff["settled_meanwhile"] = sorted(settled_meanwhile)
    for route in locked.values():
        # Every stop left on it is settled (the rest moved away): the route is done.
        route_complete_if_settled(route, actor_id=None, at=now)
    diff["kept_settled"] = day.settled
    _plan_totals(plan)
    timings["apply_s"] = round(time.perf_counter() - started, 3)
    replan.plan = plan
    _transition(
        replan,
        ReplanStatus.APPLIED,
        finished_at=timezone.now(),
        **lease_released(),
        backend=solution.backend,
        solve_time_s=round(solution.solve_s, 3),
        objective=solution.objective,
        diff=diff,
        stats={
            **data.stats,
            **timings,
            "skipped_stops": skipped_total,
            "late_jobs": report.late_jobs,
        },
    )
    summary = {k: len(v) for k, v in diff.items() if isinstance(v, list)}
    PlanEvent.objects.create(
        plan=plan,
        kind=PlanEvent.Kind.REPLANNED,
        payload={"replan": replan.pk, "triggers": [t["kind"] for t in replan.triggers], **summary},
        occurred_at=timezone.now(),
    )
    logger.info(
        "replan applied", extra={"plan": plan.pk, "replan": replan.pk, **summary, **timings}
    )
    return replan


def _route_create(plan: Plan, entry: LiveRoute, data: ReplanInput, solution: Solution) -> Route:
    """A route for a vehicle that was free today, sent out by the re-plan."""
    solved = solution.route_of(entry.vehicle.code)
    colour = Route.objects.filter(plan=plan).aggregate(top=Max("colour_index"))["top"]
    route = Route.objects.create(
        plan=plan,
        vehicle=entry.vehicle,
        colour_index=0 if colour is None else colour + 1,
        planned_start=data.at(solved.visits[0].departure_s),
        planned_end=data.at(solved.visits[-1].arrival_s),
    )
    route.plan = plan
    return route


def _routes_staff(plan: Plan, routes: list[Route]) -> list[dict]:
    """Drivers for the routes a re-plan added, as when publishing (``staffing.routes_staff``:
    an employee free that day at any hub takes one directly, otherwise crowd couriers are
    offered it one at a time)."""
    if not routes:
        return []
    drivers = routes_staff(plan=plan, routes=routes, actor=None)
    return [
        {"route": route.pk, "vehicle": route.vehicle.code, "driver": route.pk in drivers}
        for route in routes
    ]


def _shifted(old: tuple[dt.datetime, dt.datetime] | None, new) -> bool:
    if old is None:
        return True
    return abs((new.start - old[0]).total_seconds()) >= settings.DISPATCH_ETA_CHANGE_MIN_S


def _route_loads(route_ids: list[int]) -> dict[int, Load]:
    """What each route delivers over the day (its order stops not skipped), in two queries."""
    # Distinct pairs: a retried order has two stops on its route but one set of parcels.
    rows = set(
        Stop.objects.filter(route_id__in=route_ids, order__isnull=False)
        .exclude(status=StopStatus.SKIPPED)
        .values_list("route_id", "order_id")
    )
    demands = order_demands(order_id for _, order_id in rows)
    loads = dict.fromkeys(route_ids, Load())
    for route_id, order_id in rows:
        loads[route_id] = loads[route_id] + demands[order_id]
    return loads


def _route_totals(
    route: Route, entry: LiveRoute, figures, ordered: list[Stop], load: Load, data: ReplanInput
) -> None:
    """The route's day totals: what it drove so far plus what the re-plan gives it."""
    ahead_m = round(figures.distance_m) if figures else 0
    route.distance_m = entry.driven_m + ahead_m
    if figures is not None and route.vehicle.vehicle_type.is_electric:
        spec = vehicle_routing_spec(vehicle=route.vehicle)
        route.energy_wh = round(spec.energy.energy_wh(route.distance_m)) if spec.energy else 0
    route.load_weight_g, route.load_volume_cm3, route.load_parcels = load.as_tuple()
    if figures is not None:
        route.planned_end = data.at(figures.end_s)
    elif ordered:
        route.planned_end = ordered[-1].planned_departure
    begin = route.started_at or route.planned_start
    route.planned_end = max(route.planned_end, begin)
    route.duration_s = round((route.planned_end - begin).total_seconds())
    route.trips = max([route.trips, *(s.trip for s in ordered)])
    route.save(
        update_fields=[
            "distance_m", "energy_wh", "load_weight_g", "load_volume_cm3", "load_parcels",
            "planned_end", "duration_s", "trips", "updated_at",
        ]
    )  # fmt: skip


def _plan_totals(plan: Plan) -> None:
    from django.db.models import Count, Sum

    totals = Route.objects.filter(plan=plan).aggregate(
        distance=Sum("distance_m"), duration=Sum("duration_s"), energy=Sum("energy_wh")
    )
    routed = (
        Stop.objects.filter(route__plan=plan, order__isnull=False)
        .exclude(status=StopStatus.SKIPPED)
        .aggregate(n=Count("order", distinct=True))["n"]
    )
    plan.distance_m = totals["distance"] or 0
    plan.duration_s = totals["duration"] or 0
    plan.energy_wh = totals["energy"] or 0
    plan.routed_count = routed
    plan.unassigned_count = UnassignedOrder.objects.filter(plan=plan).count()
    plan.save(
        update_fields=[
            "distance_m", "duration_s", "energy_wh", "routed_count", "unassigned_count",
            "updated_at",
        ]
    )  # fmt: skip


# --- Watching the day ----------------------------------------------------------------------


def replans_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Each minute: queued re-plans past their debounce whose task never came (a broker
    restart) are sent again, and running ones whose lease expired (a killed worker) are sent
    again for a worker to take over, or failed with the reason after ``TASK_MAX_ATTEMPTS``
    starts (``core.leases``), so one lost message cannot stop a day re-planning."""
    now = now or timezone.now()
    return leases_sweep(
        # Past its debounce by the resend delay: its (countdown) task should have come.
        waiting=Replan.objects.filter(
            status=ReplanStatus.QUEUED,
            run_after__lte=now - dt.timedelta(seconds=float(settings.TASK_RESEND_AFTER_S)),
        ),
        running=Replan.objects.filter(status=ReplanStatus.RUNNING),
        send=lambda replan: _enqueue(replan, 0),
        give_up=_give_up,
        what="re-plan",
        now=now,
    )


def live_days_watch(*, now: dt.datetime | None = None) -> list[Replan]:
    """Ask for a re-plan of every published day of today that has new or cancelled orders.

    Runs each minute (beat). New: door orders of the day waiting to be planned that arrived
    or changed since the day's last re-plan (or its publishing) and are on no pending stop.
    Cancelled: pending stops whose order was cancelled. Two queries a published day.
    """
    now = now or timezone.now()
    requested = []
    plans = Plan.objects.filter(status=PlanStatus.PUBLISHED).select_related("hub")
    for plan in plans.filter(service_date__gte=now.date() - dt.timedelta(days=1)):
        if plan.service_date != timezone.localtime(now, plan.hub.zone).date():
            continue
        last = plan.replans.order_by("-created_at").values_list("created_at", flat=True).first()
        since = max(filter(None, [last, plan.published_at]), default=plan.updated_at)
        new = list(
            Order.objects.filter(
                hub=plan.hub,
                service_date=plan.service_date,
                status__in=PLANNABLE_STATUSES,
                delivery_option__in=ELIGIBLE_OPTIONS,
                updated_at__gt=since,
            )
            .exclude(
                pk__in=Stop.objects.filter(
                    route__plan=plan, status=StopStatus.PENDING, order__isnull=False
                ).values("order_id")
            )
            .values_list("pk", flat=True)[:50]
        )
        cancelled = list(
            Stop.objects.filter(
                route__plan=plan, status=StopStatus.PENDING, order__status=OrderStatus.CANCELLED
            ).values_list("order_id", flat=True)[:50]
        )
        if new:
            requested.append(
                replan_request(
                    plan=plan, trigger=ReplanTrigger.NEW_ORDER, detail={"orders": new}, now=now
                )
            )
        if cancelled:
            requested.append(
                replan_request(
                    plan=plan,
                    trigger=ReplanTrigger.CANCELLED,
                    detail={"orders": cancelled},
                    now=now,
                )
            )
    return requested
