"""Building: rows read from the database → the routing engine's ``Problem``, for a whole day
(:func:`planning_input_build`), one route's orders (:func:`planning_input_for`, a
dispatcher's move) or the rest of a live day (:func:`replan_input_build`). Each input keeps
the way back from the engine's ids and seconds to rows and datetimes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings

from fleet.errors import FleetErrorCode
from fleet.models import Vehicle as FleetVehicle
from fleet.selectors import vehicle_routing_spec
from lastmile.core.errors import ApplicationError
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.dispatch.services.breaks import shift_breaks
from lastmile.dispatch.services.reading import (
    LiveDay,
    LiveRoute,
    active_vehicles,
    eligible_orders,
    local_midnight,
    matrix_provider,
    moment_at,
    order_demands,
    seconds_since,
    vehicle_shift,
)
from lastmile.hubs.models import Hub
from lastmile.orders.models import (
    Order,
    Priority,
)
from lastmile.routing.matrix import (
    MatrixProvider,
    build_matrices,
)
from lastmile.routing.problem import (
    PRIORITY_HIGH,
    PRIORITY_NORMAL,
    PRIORITY_URGENT,
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

logger = logging.getLogger(__name__)


PRIORITIES = {
    Priority.NORMAL: PRIORITY_NORMAL,
    Priority.HIGH: PRIORITY_HIGH,
    Priority.URGENT: PRIORITY_URGENT,
}
HUB_LOCATION = 0


class PlanningError(ApplicationError):
    """The hub's data cannot be planned (no vehicles, a bad setting); the plan fails with it."""

    code = DispatchErrorCode.PLANNING_FAILED
    status = 409
    title = "Planning is not possible"


@dataclass(frozen=True)
class PlanningInput:
    """The problem, and the way back from its ids and seconds to rows and datetimes."""

    problem: Problem
    hub: Hub
    service_date: dt.date
    midnight: dt.datetime
    orders: dict[str, Order]  # job id → order
    vehicles: dict[str, FleetVehicle]  # routing vehicle id → fleet vehicle
    shift: TimeWindow
    shift_source: str  # "opening_hours" or "default"
    stats: dict[str, object] = field(default_factory=dict)

    def at(self, seconds: float) -> dt.datetime:
        return moment_at(seconds, midnight=self.midnight)


def job_id_for(order: Order | int) -> str:
    return f"o{order if isinstance(order, int) else order.pk}"


def routing_vehicles(
    vehicles: list[FleetVehicle], *, shift: TimeWindow
) -> tuple[list[Vehicle], dict[str, FleetVehicle]]:
    """Each active vehicle in the engine's terms, starting and ending at the hub."""
    multi_trip = set(settings.DISPATCH_MULTI_TRIP_PROFILES)
    breaks = shift_breaks(shift=shift)  # by the working-time rule; owed by long routes only
    built, by_id = [], {}
    for vehicle in vehicles:
        spec = vehicle_routing_spec(vehicle=vehicle)
        trips = settings.DISPATCH_MAX_TRIPS if spec.profile in multi_trip else 1
        built.append(
            Vehicle(
                id=vehicle.code,
                start=HUB_LOCATION,
                end=HUB_LOCATION,
                shift=shift,
                capacity=spec.capacity,
                profile=spec.profile,
                skills=spec.skills,
                energy=spec.energy,
                costs=spec.costs,
                max_trips=trips,
                reload_s=settings.DISPATCH_RELOAD_S if trips > 1 else 0,
                breaks=breaks,
            )
        )
        by_id[vehicle.code] = vehicle
    return built, by_id


def order_job(order: Order, *, demand: Load, location: int, midnight: dt.datetime) -> Job:
    return Job(
        id=job_id_for(order),
        location=location,
        demand=demand,
        time_windows=(
            TimeWindow(
                seconds_since(order.window_start, midnight=midnight),
                seconds_since(order.window_end, midnight=midnight),
            ),
        ),
        service_s=order.service_s,
        skills=frozenset(order.required_skills),
        priority=PRIORITIES.get(order.priority, PRIORITY_NORMAL),
    )


def planning_input_build(
    *, hub: Hub, service_date: dt.date, provider: MatrixProvider | None = None
) -> PlanningInput:
    """Read the hub's orders and vehicles for the day and build the routing problem.

    Raises ``PlanningError`` when there are orders but no active vehicle to carry them.
    """
    orders = eligible_orders(hub=hub, service_date=service_date)
    fleet = active_vehicles(hub=hub)
    if orders and not fleet:
        raise PlanningError(
            f"Hub {hub.code} has no active vehicle to plan {len(orders)} orders with.",
            code=FleetErrorCode.NO_VEHICLES,
        )
    data = planning_input_for(
        hub=hub, service_date=service_date, orders=orders, fleet=fleet, provider=provider
    )
    logger.info(
        "dispatch problem built",
        extra={
            "hub": hub.code,
            "service_date": service_date.isoformat(),
            "orders": len(orders),
            "vehicles": len(fleet),
            "shift_source": data.shift_source,
        },
    )
    return data


def planning_input_for(
    *,
    hub: Hub,
    service_date: dt.date,
    orders: list[Order],
    fleet: list[FleetVehicle],
    provider: MatrixProvider | None = None,
) -> PlanningInput:
    """The routing problem of these orders on these vehicles (a whole day, or one route).

    Location 0 is the hub (every route starts and ends there), then one location per order.
    """
    midnight = local_midnight(hub=hub, day=service_date)
    demands = order_demands(orders)
    shift, shift_source = vehicle_shift(hub=hub, day=service_date, midnight=midnight)
    vehicles, vehicles_by_id = routing_vehicles(fleet, shift=shift)
    locations = [Location(float(hub.latitude), float(hub.longitude))]
    jobs = []
    for index, order in enumerate(orders, start=1):
        locations.append(Location(float(order.latitude), float(order.longitude)))
        jobs.append(order_job(order, demand=demands[order.pk], location=index, midnight=midnight))
    problem = Problem(
        locations=tuple(locations),
        jobs=tuple(jobs),
        vehicles=tuple(vehicles),
        matrices=build_matrices(
            locations, provider or matrix_provider(), [v.profile for v in vehicles]
        ),
    )
    return PlanningInput(
        problem=problem,
        hub=hub,
        service_date=service_date,
        midnight=midnight,
        orders={job_id_for(order): order for order in orders},
        vehicles=vehicles_by_id,
        shift=shift,
        shift_source=shift_source,
    )


# Location 1 of a re-plan problem: the hub's loading dock (location 0 is the hub itself).
DOCK = 1


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
    """The routing problem of what is left of a live day.

    - settled stops (completed, failed, skipped) and a stop the courier is at stay as they are;
    - each vehicle on the road starts where it is (the stop it is at or left last, or a fresh
      telematics fix) at the current time, with the battery it has left; a vehicle still at
      the hub starts there when its shift or now allows;
    - parcels already on a vehicle stay on it (pinned; delivered late, in overtime if need be,
      rather than not at all), and so do the rest of a started route's parcels, which wait
      for it at the hub;
    - everything else (new orders, retries, orders of routes not started) is collected at the
      hub: a started vehicle returns there to load it (a reload stop), one at the hub loads
      before it leaves, and a vehicle with no route that day may go out with a new one;
    - an order changes route only when that saves more than ``DISPATCH_REPLAN_MOVE_COST``
      (a preferred vehicle with a move cost in the solver's parameters);
    - the driver's breaks the plan gave a route stay in it: each pending break lengthens the
      stop it follows (one due first delays the vehicle's start), so the re-plan keeps the
      pause where it was in the sequence without modelling breaks, and the diff writes it
      back as the same break stop.
    """
    reload_s = int(settings.DISPATCH_RELOAD_S)
    hub = Location(float(day.plan.hub.latitude), float(day.plan.hub.longitude))
    # The hub twice: where vehicles start and end, and the dock where parcels are loaded.
    # Reaching the dock from the road costs the reload time; from the hub it costs nothing
    # (loading before leaving is not counted, as in the day's plan).
    locations = [hub, hub]
    no_reload = {HUB_LOCATION, DOCK}
    vehicles = _live_vehicles(day, locations, no_reload)
    loaded = {order_id: e.route.pk for e in day.routes for order_id in e.loaded}
    jobs, shipments = _live_jobs(day, locations, loaded)
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
    return ReplanInput(
        problem=problem,
        day=day,
        by_vehicle={e.vehicle.code: e for e in day.routes},
        stats=_live_stats(day, jobs, shipments),
        initial_routes=_current_routes(day, loaded),
        reload_s=reload_s,
    )


def _live_vehicles(day: LiveDay, locations: list[Location], no_reload: set[int]) -> list[Vehicle]:
    """Each vehicle of the live day where and when it is now (its location appended)."""
    vehicles = []
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
        # A break due before the next stop is taken first, where the vehicle is.
        begin += entry.breaks_after.get(None, 0)
        energy = spec.energy
        if energy is not None and entry.energy_wh is not None:
            energy = dataclasses.replace(energy, usable_wh=max(1, entry.energy_wh))
        shift = TimeWindow(begin, max(begin, end_s if entry.started else day.shift.end_s))
        vehicles.append(
            Vehicle(
                id=entry.vehicle.code,
                start=start,
                end=HUB_LOCATION,
                shift=shift,
                capacity=spec.capacity,
                profile=spec.profile,
                skills=spec.skills,
                energy=energy,
                # A vehicle out (or booked) today costs its fixed cost whatever happens; an idle
                # one only if it goes out.
                costs=dataclasses.replace(spec.costs, fixed=0) if entry.route else spec.costs,
            )
        )
    return vehicles


def _live_jobs(
    day: LiveDay, locations: list[Location], loaded: dict[int, int]
) -> tuple[list[Job], list[Shipment]]:
    """Parcels on board as jobs pinned to their vehicle (soft window end); everything at the
    hub as a shipment from the dock, pinned to a started route's vehicle or preferring the
    route it is on."""
    code_of = {e.route.pk: e.vehicle.code for e in day.routes if e.route}
    started = {e.route.pk for e in day.routes if e.started}
    # The driver's planned pause after an order's stop: served as part of that stop, so the
    # engine keeps the break in the route without modelling breaks (see ``solved_visits``).
    pauses = {o: s for e in day.routes for o, s in e.breaks_after.items() if o is not None}
    demands = order_demands(list(day.orders.values()))
    jobs, shipments = [], []
    for order in day.orders.values():
        location = len(locations)
        locations.append(Location(float(order.latitude), float(order.longitude)))
        job = order_job(order, demand=demands[order.pk], location=location, midnight=day.midnight)
        if order.pk in pauses:
            job = dataclasses.replace(job, service_s=job.service_s + pauses[order.pk])
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
    return jobs, shipments


def _live_stats(day: LiveDay, jobs: list[Job], shipments: list[Shipment]) -> dict[str, object]:
    return {
        "vehicles": len(day.routes),
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
