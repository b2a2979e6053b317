"""ETAs: the window a customer is told, and the refresh of a route's ETAs from where and when
the courier is. The refresh runs after the courier's update commits
(``dispatch.refresh_route_etas``): the routing server is never asked while a row is locked,
and its failure falls back to the great-circle estimate instead of losing the update."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fleet.selectors import vehicle_routing_spec
from lastmile.dispatch.models import (
    EtaSource,
    ReplanTrigger,
    Route,
    RouteStatus,
    Stop,
    StopStatus,
)
from lastmile.dispatch.services.reading import (
    matrix_provider,
)
from lastmile.dispatch.services.requests import replan_ask
from lastmile.routing.matrix import HaversineProvider, MatrixError
from lastmile.routing.problem import Location

logger = logging.getLogger(__name__)


def service_time(stop: Stop) -> dt.timedelta:
    # The planner's service time at the stop (its departure minus the start of service).
    return stop.planned_departure - stop.planned_start


# The provider failed: its server is down, timed out or answered nonsense (``MatrixError``
# wraps all of those for OSRM), a socket error escaped a custom provider, or it has no such
# profile. The courier's update has committed already; the ETAs fall back to the estimate.
_PROVIDER_FAILURES = (MatrixError, OSError, ValueError)


def etas_refresh_after_commit(
    route: Route, *, after_sequence: int, origin: Location, depart_at: dt.datetime
) -> None:
    """Ask for new ETAs once the courier's update commits (the caller holds ``route``'s lock).

    The route's ``etas_version`` moves on, so a refresh computed for an earlier update is
    dropped; the task gets ids and primitives and runs on the default queue. A broker that
    cannot take the message loses only the refresh, never the update (``robust``).
    """
    from lastmile.dispatch.tasks import refresh_route_etas_task

    route.etas_version += 1
    route.save(update_fields=["etas_version"])
    args = (
        route.pk,
        route.etas_version,
        after_sequence,
        origin.lat,
        origin.lng,
        depart_at.isoformat(),
    )
    transaction.on_commit(lambda: refresh_route_etas_task.delay(*args), robust=True)


def _pending_after(route_id: int, after_sequence: int) -> list[Stop]:
    return list(
        Stop.objects.filter(
            route_id=route_id, sequence__gt=after_sequence, status=StopStatus.PENDING
        ).order_by("sequence")
    )


def _points(stops: list[Stop]) -> list[tuple[int, Location]]:
    return [(s.pk, Location(float(s.latitude), float(s.longitude))) for s in stops]


def _travel_times(
    route: Route, locations: list[Location]
) -> tuple[tuple[tuple[float, ...], ...], str]:
    """Durations from the provider planning uses, or the great-circle estimate when it fails."""
    profile = vehicle_routing_spec(vehicle=route.vehicle).profile
    try:
        return matrix_provider().matrix(locations, profile=profile).durations_s, EtaSource.ROUTING
    except _PROVIDER_FAILURES as exc:
        logger.warning(
            "eta provider failed; straight-line estimate used",
            extra={"route": route.pk, "error": f"{exc.__class__.__name__}: {exc}"},
        )
    fallback = HaversineProvider().matrix(locations, profile=profile)
    return fallback.durations_s, EtaSource.FALLBACK


def route_etas_refresh(
    *,
    route_id: int,
    version: int,
    after_sequence: int,
    origin: Location,
    depart_at: dt.datetime,
) -> Route | None:
    """Re-estimate the arrival of every pending stop after ``after_sequence``, after commit.

    The courier leaves ``origin`` at ``depart_at``; each leg takes the travel time of the
    vehicle's profile, a stop early for its window waits for it, and each stop keeps its
    planned service time. The travel times are fetched with no transaction open and no row
    locked; when the provider fails (raises, times out) the great-circle estimate is used and
    the route's ``eta_source`` says ``fallback``. The ETAs are written under the route's lock
    only if no later courier update (``etas_version``) and no re-plan (the stops ahead)
    changed the route meanwhile; otherwise nothing is written and ``None`` returned. Running
    it twice writes the same ETAs. A stop newly running late asks for a re-plan.
    """
    route = Route.objects.select_related("vehicle__vehicle_type").filter(pk=route_id).first()
    if route is None or route.etas_version != version:
        return None  # gone, or a later update's refresh is on its way
    ahead = _pending_after(route_id, after_sequence)
    if not ahead:
        return route
    points = _points(ahead)
    durations, source = _travel_times(route, [origin, *(location for _, location in points)])
    # Durable: the travel times above must never have been asked inside someone's transaction.
    with transaction.atomic(durable=True):
        # Only the route row: its plan and hub are shared by every courier of the day.
        locked = (
            Route.objects.select_for_update(of=("self",))
            .select_related("plan__hub")
            .get(pk=route_id)
        )
        ahead = _pending_after(route_id, after_sequence)
        if locked.etas_version != version or _points(ahead) != points:
            logger.info("eta refresh dropped: the route changed", extra={"route": route_id})
            return None
        became_late = _estimate(ahead, durations, depart_at)
        Stop.objects.bulk_update(ahead, ["eta"])
        locked.eta_source = source
        locked.etas_refreshed_at = timezone.now()
        locked.save(update_fields=["eta_source", "etas_refreshed_at", "updated_at"])
        if became_late and locked.status == RouteStatus.IN_PROGRESS:
            # Only when a stop newly runs late: a re-plan that cannot help is not asked again.
            replan_ask(
                plan=locked.plan,
                trigger=ReplanTrigger.LATE,
                detail={"route": locked.pk, "stops": became_late[:20]},
            )
    return locked


def _estimate(
    ahead: list[Stop], durations: tuple[tuple[float, ...], ...], depart_at: dt.datetime
) -> list[int]:
    """Set each stop's ``eta`` along ``ahead``; returns the stops that newly run late."""
    clock = depart_at
    late = dt.timedelta(seconds=settings.DISPATCH_LATE_REPLAN_S)
    became_late = []
    for index, stop in enumerate(ahead):
        # Whole seconds: an ETA finer than that is noise, and it keeps retries stable.
        clock += dt.timedelta(seconds=round(durations[index][index + 1]))
        was_late = stop.eta is not None and _late(stop.eta, stop, late)
        stop.eta = clock
        if _late(clock, stop, late) and not was_late:
            became_late.append(stop.pk)
        if stop.window_start is not None and clock < stop.window_start:
            clock = stop.window_start
        clock += service_time(stop)
    return became_late


def _late(eta: dt.datetime, stop: Stop, allowance: dt.timedelta) -> bool:
    return stop.window_end is not None and eta > stop.window_end + allowance


@dataclass(frozen=True)
class EtaWindow:
    start: dt.datetime
    end: dt.datetime


def eta_window(stop: Stop) -> EtaWindow:
    """The window promised to the customer: ``DISPATCH_ETA_WINDOW_S`` around the planned
    arrival, shifted (not shrunk) to stay inside the booked window where it can."""
    width = dt.timedelta(seconds=settings.DISPATCH_ETA_WINDOW_S)
    start = stop.planned_start - width / 2
    if stop.window_start is not None and start < stop.window_start:
        start = stop.window_start
    if stop.window_end is not None and start + width > stop.window_end:
        start = max(stop.window_end - width, stop.window_start or stop.window_end - width)
    return EtaWindow(start, start + width)
