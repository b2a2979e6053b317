"""The plan's timeline rows (``PlanEvent``): one constructor per kind, the only writers.

A plan's timeline also carries what happens to its routes, stops and offers (the row's
own ``from_status``/``to_status`` stay the plan's; the entity moved is in the payload).
Services call these inside the transaction of the change they record; the board, KPIs and
webhooks read the rows, so each payload's shape is defined once, here.
"""

import datetime as dt
from typing import Any

from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.dispatch.models import (
    Plan,
    PlanEvent,
    PlanStatus,
    Replan,
    Route,
    RouteOffer,
    RouteStatus,
    Stop,
)
from workforce.models import Courier


def _record(
    *,
    plan_id: int,
    kind: str,
    actor: User | None = None,
    actor_id: int | None = None,
    from_status: str = "",
    to_status: str = "",
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> PlanEvent:
    return PlanEvent.objects.create(
        plan_id=plan_id,
        kind=kind,
        actor_id=actor.pk if actor is not None else actor_id,
        from_status=from_status,
        to_status=to_status,
        payload=payload or {},
        occurred_at=occurred_at or timezone.now(),
    )


# --- The plan itself ------------------------------------------------------------------------


def plan_requested(*, plan: Plan, actor: User | None = None) -> PlanEvent:
    """A planning run was asked for (the plan is queued), at the moment the plan was made."""
    return _record(
        plan_id=plan.pk,
        kind=PlanEvent.Kind.REQUESTED,
        to_status=PlanStatus.QUEUED,
        actor=actor,
        occurred_at=plan.created_at,
    )


def plan_joined(*, plan: Plan, actor: User | None = None) -> PlanEvent:
    """A second request for the hub and day joined the run already queued or running."""
    return _record(plan_id=plan.pk, kind=PlanEvent.Kind.JOINED, actor=actor)


def plan_status_changed(
    *,
    plan: Plan,
    from_status: str,
    to_status: str,
    actor: User | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> PlanEvent:
    """The plan moved between statuses (``payload``: why, e.g. the plan that superseded it)."""
    return _record(
        plan_id=plan.pk,
        kind=PlanEvent.Kind.STATUS_CHANGED,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        payload=payload,
        occurred_at=occurred_at,
    )


def plan_superseded(*, plan: Plan, by: Plan, removed: dict[str, int]) -> PlanEvent:
    """A newer run for the same day replaced the plan; ``removed`` counts the rows it lost
    (routes, stops, unassigned orders)."""
    return _record(
        plan_id=plan.pk,
        kind=PlanEvent.Kind.SUPERSEDED,
        payload={"superseded_by": by.pk, "removed": removed},
    )


def plan_restarted(*, plan: Plan, lost_owner: str, occurred_at: dt.datetime) -> PlanEvent:
    """A worker took over a run whose lease expired (``plan.attempts`` counts this start)."""
    return _record(
        plan_id=plan.pk,
        kind=PlanEvent.Kind.RESTARTED,
        payload={"attempt": plan.attempts, "lost_lease": lost_owner},
        occurred_at=occurred_at,
    )


# --- Routes and stops -----------------------------------------------------------------------


def route_dispatched(
    *, route: Route, courier_id: int, actor: User | None = None, occurred_at: dt.datetime
) -> PlanEvent:
    """A route was handed to a courier (planned → dispatched)."""
    return _record(
        plan_id=route.plan_id,
        kind=PlanEvent.Kind.ROUTE_DISPATCHED,
        from_status=RouteStatus.PLANNED,
        to_status=RouteStatus.DISPATCHED,
        actor=actor,
        payload={"route": route.pk, "vehicle": route.vehicle_id, "courier": courier_id},
        occurred_at=occurred_at,
    )


def route_status_changed(
    *,
    route: Route,
    from_status: str,
    to_status: str,
    actor_id: int | None,
    occurred_at: dt.datetime,
    detail: dict[str, Any] | None = None,
) -> PlanEvent:
    """A route moved (started, completed, handed back); ``detail`` says more (the courier)."""
    return _record(
        plan_id=route.plan_id,
        kind=PlanEvent.Kind.STATUS_CHANGED,
        actor_id=actor_id,
        payload={**(detail or {}), "route": route.pk, "from": from_status, "to": to_status},
        occurred_at=occurred_at,
    )


def stop_status_changed(
    *,
    route: Route,
    stop: Stop,
    from_status: str,
    to_status: str,
    actor_id: int | None,
    occurred_at: dt.datetime,
) -> PlanEvent:
    """A stop of ``route`` moved (arrived, completed, failed, skipped)."""
    return _record(
        plan_id=route.plan_id,
        kind=PlanEvent.Kind.STATUS_CHANGED,
        actor_id=actor_id,
        payload={"stop": stop.pk, "route": route.pk, "from": from_status, "to": to_status},
        occurred_at=occurred_at,
    )


def stops_skipped(
    *,
    route: Route,
    stops: list[Stop],
    from_statuses: list[str],
    reason: str,
    occurred_at: dt.datetime,
) -> PlanEvent:
    """Pending stops taken off ``route`` at once (a re-plan moved or dropped their orders)."""
    return _record(
        plan_id=route.plan_id,
        kind=PlanEvent.Kind.STATUS_CHANGED,
        payload={
            "stops": sorted(stop.pk for stop in stops),
            "route": route.pk,
            "from": ",".join(from_statuses),
            "to": "skipped",
            "reason": reason,
        },
        occurred_at=occurred_at,
    )


def stop_moved(
    *,
    plan: Plan,
    order_id: int,
    order_ref: str,
    from_route: Route,
    to_route: Route,
    before: dict[str, dict[str, int]],
    after: dict[str, dict[str, int]],
    actor: User | None = None,
) -> PlanEvent:
    """A dispatcher moved an order's stop to another route on the board; ``before`` and
    ``after`` hold both routes' totals (``{"from": {...}, "to": {...}}``)."""
    return _record(
        plan_id=plan.pk,
        kind=PlanEvent.Kind.STOP_MOVED,
        actor=actor,
        payload={
            "order": order_id,
            "order_ref": order_ref,
            "from_route": from_route.pk,
            "to_route": to_route.pk,
            "from_vehicle": from_route.vehicle.code,
            "to_vehicle": to_route.vehicle.code,
            "before": before,
            "after": after,
        },
    )


# --- Offers to crowd couriers ---------------------------------------------------------------


def offer_sent(*, route: Route, courier_id: int, actor: User | None = None) -> PlanEvent:
    """The route was offered to a crowd courier."""
    return _record(
        plan_id=route.plan_id,
        kind=PlanEvent.Kind.OFFER_SENT,
        actor=actor,
        payload={"route": route.pk, "courier": courier_id},
    )


def offer_answered(*, offer: RouteOffer, answer: str, actor: User | None = None) -> PlanEvent:
    """The courier accepted or declined the offer, or it expired (``answer``: the status)."""
    return _record(
        plan_id=offer.route.plan_id,
        kind=PlanEvent.Kind.OFFER_ANSWERED,
        actor=actor,
        payload={"route": offer.route_id, "courier": offer.courier_id, "answer": answer},
    )


def offer_withdrawn(*, offer: RouteOffer, actor: User | None = None) -> PlanEvent:
    """The offer was withdrawn: its courier may no longer drive (their status says why)."""
    return _record(
        plan_id=offer.route.plan_id,
        kind=PlanEvent.Kind.OFFER_WITHDRAWN,
        actor=actor,
        payload={
            "route": offer.route_id,
            "courier": offer.courier_id,
            "courier_status": offer.courier.status,
        },
    )


def no_courier(*, route: Route, actor: User | None = None) -> PlanEvent:
    """Nobody was left to offer the route to: it waits for the dispatcher."""
    return _record(
        plan_id=route.plan_id,
        kind=PlanEvent.Kind.NO_COURIER,
        actor=actor,
        payload={"route": route.pk},
    )


def courier_barred_payload(*, route: Route, courier: Courier) -> dict[str, Any]:
    """What a ``courier_barred`` row says, also how an earlier one is recognised: once per
    suspension or offboarding (``since``: when the courier's status last changed)."""
    return {
        "route": route.pk,
        "courier": courier.pk,
        "courier_status": courier.status,
        "since": courier.status_changed_at.isoformat() if courier.status_changed_at else None,
    }


def courier_barred(*, route: Route, courier: Courier, occurred_at: dt.datetime) -> PlanEvent:
    """The courier driving a route in progress may no longer drive: the dispatcher decides."""
    return _record(
        plan_id=route.plan_id,
        kind=PlanEvent.Kind.COURIER_BARRED,
        payload=courier_barred_payload(route=route, courier=courier),
        occurred_at=occurred_at,
    )


# --- Re-planning during the day -------------------------------------------------------------


def replan_requested(
    *,
    plan: Plan,
    replan: Replan,
    trigger: dict[str, Any],
    actor: User | None = None,
    occurred_at: dt.datetime | None = None,
) -> PlanEvent:
    """A re-plan of the published day was queued by ``trigger`` (later triggers join it)."""
    return _record(
        plan_id=plan.pk,
        kind=PlanEvent.Kind.REPLAN_REQUESTED,
        actor=actor,
        payload={"replan": replan.pk, "trigger": trigger},
        occurred_at=occurred_at,
    )


def replanned(*, plan: Plan, replan: Replan, summary: dict[str, int]) -> PlanEvent:
    """A re-plan was applied: its triggers' kinds and ``summary``, the diff's counts."""
    return _record(
        plan_id=plan.pk,
        kind=PlanEvent.Kind.REPLANNED,
        payload={
            "replan": replan.pk,
            "triggers": [trigger["kind"] for trigger in replan.triggers],
            **summary,
        },
    )
