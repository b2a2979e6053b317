"""Who may take a route: the one rule publishing, offering and accepting share.

A courier takes a route only while active with an approved application, with every skill
the route's orders need, with a driving licence on file when the route's vehicle is a
motor vehicle, and without another active route that day (one route per courier and day,
also a database constraint). Couriers are offered one route at a time (one open offer
each, also a constraint).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from fleet.models import VehicleKind
from lastmile.core.errors import ApplicationError
from lastmile.core.skills import Skill
from lastmile.dispatch.errors import CourierBusy, CourierNotActive, CourierUnfit
from lastmile.dispatch.models import ACTIVE_ROUTE_STATUSES, OfferStatus, Route, RouteOffer, Stop
from workforce.models import ApplicationStatus, Courier, CourierStatus
from workforce.models import Vehicle as CourierVehicle
from workforce.selectors import CourierAvailability

# Fleet vehicles anyone may ride; the others are motor vehicles that need a driving licence.
LICENCE_FREE_KINDS = frozenset({VehicleKind.E_CARGO_BIKE})
# Couriers who told us they drive (own car, or a fleet vehicle) uploaded a driving licence
# to be approved (``workforce.selectors.required_document_kinds``).
LICENSED_COURIER_VEHICLES = frozenset({CourierVehicle.CAR, CourierVehicle.NONE})


@dataclass(frozen=True)
class RouteNeeds:
    day: dt.date
    skills: frozenset[str]
    vehicle_kind: str


def route_needs(route: Route) -> RouteNeeds:
    """What a courier needs for ``route`` (one query for its orders' skills, one for its
    plan's day and vehicle kind when they are not loaded)."""
    skills: set[str] = set()
    for needed in Stop.objects.filter(route=route, order__isnull=False).values_list(
        "order__required_skills", flat=True
    ):
        skills.update(needed or [])
    day, kind = Route.objects.values_list("plan__service_date", "vehicle__vehicle_type__kind").get(
        pk=route.pk
    )
    return RouteNeeds(day=day, skills=frozenset(skills), vehicle_kind=kind)


def routes_needs(routes: list[Route], *, day: dt.date) -> dict[int, RouteNeeds]:
    """What a courier needs for each of ``routes`` (all of one plan, driven on ``day``), by
    route id: two queries whatever the number of routes."""
    skills: dict[int, set[str]] = {route.pk: set() for route in routes}
    for route_id, needed in Stop.objects.filter(route__in=routes, order__isnull=False).values_list(
        "route_id", "order__required_skills"
    ):
        skills[route_id].update(needed or [])
    kinds = dict(
        Route.objects.filter(pk__in=[route.pk for route in routes]).values_list(
            "pk", "vehicle__vehicle_type__kind"
        )
    )
    return {
        pk: RouteNeeds(day=day, skills=frozenset(needed), vehicle_kind=kinds[pk])
        for pk, needed in skills.items()
    }


def availability_covers(candidate: CourierAvailability, route: Route) -> bool:
    """Whether the courier's availability at the hub spans the route's whole day."""
    return candidate.starts_at <= route.planned_start and route.planned_end <= candidate.ends_at


def courier_claim(courier_id: int) -> Courier | None:
    """The courier's row, locked, read fresh with their application; ``None`` while another
    transaction holds it (a courier being handled elsewhere right now is passed over)."""
    return (
        Courier.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("application")
        .filter(pk=courier_id)
        .first()
    )


def courier_unfit_reason(*, skills: Iterable[str], vehicle: str, needs: RouteNeeds) -> str | None:
    """Why a courier with ``skills`` and ``vehicle`` cannot take the route, or ``None``."""
    missing = sorted(needs.skills - set(skills))
    if missing:
        labels = ", ".join(str(Skill(s).label).lower() if s in Skill.values else s for s in missing)
        return f"This route needs skills you do not have: {labels}."
    if needs.vehicle_kind not in LICENCE_FREE_KINDS and vehicle not in LICENSED_COURIER_VEHICLES:
        return "This route's vehicle needs a driving licence, which your profile does not show."
    return None


def courier_active_refusal(courier: Courier) -> CourierNotActive | None:
    """Why ``courier`` may not take offers, see routes or send stop updates at all (not
    active, or never approved), or ``None``. Reads ``courier.application``."""
    approved = courier.application.status == ApplicationStatus.APPROVED
    if courier.status != CourierStatus.ACTIVE or not approved:
        return CourierNotActive(status=courier.status)
    return None


def courier_route_refusal(*, courier: Courier, needs: RouteNeeds) -> ApplicationError | None:
    """The error that stops ``courier`` (read fresh, ideally locked) from taking a route with
    ``needs`` now, or ``None`` when they may take it."""
    refusal = courier_active_refusal(courier)
    if refusal is not None:
        return refusal
    reason = courier_unfit_reason(skills=courier.skills, vehicle=courier.vehicle, needs=needs)
    if reason is not None:
        return CourierUnfit(reason)
    if Route.objects.filter(
        courier=courier, service_date=needs.day, status__in=ACTIVE_ROUTE_STATUSES
    ).exists():
        return CourierBusy(day=needs.day)
    return None


def couriers_busy(*, day: dt.date) -> set[int]:
    """Couriers who cannot be asked about a route of ``day`` right now: they hold an active
    route that day, or are waiting on an open offer (of any day). Two queries."""
    holding = Route.objects.filter(service_date=day, status__in=ACTIVE_ROUTE_STATUSES)
    return set(holding.values_list("courier_id", flat=True)) | set(
        RouteOffer.objects.filter(status=OfferStatus.OPEN).values_list("courier_id", flat=True)
    )
