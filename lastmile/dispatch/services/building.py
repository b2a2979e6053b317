"""Database rows → the routing engine's ``Problem``, and the engine's clock back to datetimes.

The engine counts whole seconds on one clock; dispatch uses seconds elapsed since local
midnight of the service date in the HUB's zone. Elapsed, not wall-clock: on a DST day the
hours between midnight and 10:00 are 9 or 11, and travel times add up in real seconds, so
every conversion goes through UTC instants (subtracting two aware datetimes that share a
``ZoneInfo`` would compare wall clocks and be an hour off).
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

from fleet.errors import FleetErrorCode
from fleet.models import Vehicle as FleetVehicle
from fleet.models import VehicleStatus
from fleet.selectors import vehicle_routing_spec
from lastmile.core.errors import ApplicationError
from lastmile.dispatch.errors import DispatchErrorCode
from lastmile.dispatch.services.breaks import shift_breaks
from lastmile.hubs.models import Hub
from lastmile.hubs.selectors import hub_service_windows
from lastmile.orders.models import (
    PLANNABLE_STATUSES,
    DeliveryOption,
    Order,
    OrderStatus,
    Parcel,
    Priority,
)
from lastmile.routing.matrix import (
    CachedProvider,
    HaversineProvider,
    MatrixProvider,
    OsrmProvider,
    build_matrices,
)
from lastmile.routing.problem import (
    PRIORITY_HIGH,
    PRIORITY_NORMAL,
    PRIORITY_URGENT,
    Job,
    Load,
    Location,
    Problem,
    TimeWindow,
    Vehicle,
)

logger = logging.getLogger(__name__)

UTC = dt.UTC

# Orders a plan for the day takes: waiting to be planned (created, rescheduled) and those on
# an earlier plan of the same day (planned), which a new plan replaces. Door deliveries only:
# locker and pickup-point orders join routes as locker drops once lockers exist.
ELIGIBLE_STATUSES = frozenset(PLANNABLE_STATUSES | {OrderStatus.PLANNED})
ELIGIBLE_OPTIONS = frozenset({DeliveryOption.DOOR})

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
