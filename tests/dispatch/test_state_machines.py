"""Every (state, target) pair of the plan, route and stop machines: allowed, no-op or refused."""

import itertools

import pytest

from lastmile.core.errors import InvalidTransition
from lastmile.core.state import check_transition
from lastmile.dispatch.models import (
    OFFER_TRANSITIONS,
    PLAN_TRANSITIONS,
    ROUTE_TRANSITIONS,
    STOP_TRANSITIONS,
    OfferStatus,
    Plan,
    PlanEvent,
    PlanStatus,
    RouteStatus,
    StopStatus,
)
from lastmile.dispatch.services import plan_transition
from tests.hubs.factories import HubFactory

# The machines as the issue describes them, written out independently of the models.
EXPECTED = {
    "Plan": (
        PLAN_TRANSITIONS,
        PlanStatus.values,
        {
            ("queued", "running"),
            ("queued", "failed"),
            ("queued", "cancelled"),
            ("running", "ready"),
            ("running", "failed"),
            ("running", "cancelled"),
            ("ready", "published"),
            ("ready", "cancelled"),
        },
    ),
    "Route": (
        ROUTE_TRANSITIONS,
        RouteStatus.values,
        {
            ("planned", "dispatched"),
            ("dispatched", "in_progress"),
            # the courier was barred before leaving the hub: the route is handed out again
            ("dispatched", "planned"),
            ("in_progress", "completed"),
        },
    ),
    "Offer": (
        OFFER_TRANSITIONS,
        OfferStatus.values,
        {
            ("open", "accepted"),
            ("open", "declined"),
            ("open", "expired"),
            ("open", "withdrawn"),
            # the courier was barred after accepting, before starting the route
            ("accepted", "withdrawn"),
        },
    ),
    "Stop": (
        STOP_TRANSITIONS,
        StopStatus.values,
        {
            ("pending", "arrived"),
            ("pending", "skipped"),
            ("arrived", "completed"),
            ("arrived", "failed"),
            ("arrived", "skipped"),
        },
    ),
}

CASES = [
    pytest.param(entity, current, target, id=f"{entity}:{current}->{target}")
    for entity, (_, states, _) in EXPECTED.items()
    for current, target in itertools.product(states, repeat=2)
]


@pytest.mark.parametrize(("entity", "current", "target"), CASES)
def test_transition_table(entity, current, target):
    table, _, allowed = EXPECTED[entity]
    if current == target:
        assert check_transition(table, entity=entity, current=current, target=target) is False
    elif (current, target) in allowed:
        assert check_transition(table, entity=entity, current=current, target=target) is True
    else:
        with pytest.raises(InvalidTransition):
            check_transition(table, entity=entity, current=current, target=target)


PLAN_CASES = [
    pytest.param(current, target, id=f"{current}->{target}")
    for current, target in itertools.product(PlanStatus.values, repeat=2)
]


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), PLAN_CASES)
def test_plan_transition_service_follows_the_table(current, target):
    # given
    plan = Plan.objects.create(hub=HubFactory(), service_date="2026-06-10", status=current)
    allowed = (current, target) in EXPECTED["Plan"][2]

    # when / then
    if current != target and not allowed:
        with pytest.raises(InvalidTransition):
            plan_transition(plan, target=target)
        plan.refresh_from_db()
        assert plan.status == current
        assert not PlanEvent.objects.filter(plan=plan).exists()
        return
    moved = plan_transition(plan, target=target)
    assert moved.status == target
    events = PlanEvent.objects.filter(plan=plan)
    if current == target:
        assert not events.exists()
    else:
        event = events.get()
        assert (event.from_status, event.to_status) == (current, target)
        timestamp = {
            "running": "started_at",
            "ready": "ready_at",
            "published": "published_at",
            "failed": "failed_at",
            "cancelled": "cancelled_at",
        }[target]
        assert getattr(Plan.objects.get(pk=plan.pk), timestamp) is not None


@pytest.mark.django_db
def test_plan_events_are_append_only():
    from lastmile.core.models import AppendOnlyError

    plan = Plan.objects.create(hub=HubFactory(), service_date="2026-06-10")
    plan_transition(plan, target=PlanStatus.RUNNING)
    event = PlanEvent.objects.get(plan=plan)

    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
