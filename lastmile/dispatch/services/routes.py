"""Moves of the route state machine (planned → dispatched → in_progress → completed)."""

from __future__ import annotations

from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.state import check_transition
from lastmile.dispatch.models import ROUTE_TRANSITIONS, PlanEvent, Route, RouteStatus


def route_dispatch(*, route: Route, courier_id: int, actor: User | None) -> Route:
    """Hand ``route`` to a courier (planned → dispatched); the caller holds the transaction."""
    locked = Route.objects.select_for_update().get(pk=route.pk)
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
    locked.save(update_fields=["status", "courier", "dispatched_at", "updated_at"])
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
