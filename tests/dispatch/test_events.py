"""The plan's event constructors write the rows dispatch's services write today, field for
field, so switching a service to its constructor changes no timeline, board or KPI."""

import datetime as dt

import pytest
from django.utils import timezone

from lastmile.dispatch import events
from lastmile.dispatch.models import PlanEvent, PlanStatus, Replan, RouteOffer, RouteStatus
from tests.dispatch.factories import stored_plan
from tests.factories import UserFactory
from tests.workforce.factories import CourierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan():
    return stored_plan(
        day=timezone.localdate() + dt.timedelta(days=1), routes=2, stops=4, unassigned=0
    )


def _row(event: PlanEvent) -> dict:
    event.refresh_from_db()
    return {
        "plan": event.plan_id,
        "kind": event.kind,
        "from": event.from_status,
        "to": event.to_status,
        "actor": event.actor_id,
        "payload": event.payload,
    }


def test_plan_events_carry_the_plan_status_and_actor(plan):
    # given
    actor = UserFactory()
    at = timezone.now()

    # when
    requested = events.plan_requested(plan=plan, actor=actor)
    joined = events.plan_joined(plan=plan, actor=actor)
    moved = events.plan_status_changed(
        plan=plan,
        from_status=PlanStatus.READY,
        to_status=PlanStatus.CANCELLED,
        actor=actor,
        payload={"superseded_by": 7},
        occurred_at=at,
    )
    restarted = events.plan_restarted(plan=plan, lost_owner="worker-1", occurred_at=at)
    newer = stored_plan(day=plan.service_date, routes=1, stops=1, unassigned=0)
    superseded = events.plan_superseded(
        plan=plan, by=newer, removed={"routes": 2, "stops": 4, "unassigned": 0}
    )

    # then
    assert _row(requested) == {
        "plan": plan.pk,
        "kind": "requested",
        "from": "",
        "to": "queued",
        "actor": actor.pk,
        "payload": {},
    }
    assert requested.occurred_at == plan.created_at
    assert _row(joined)["kind"] == "joined"
    assert _row(moved) == {
        "plan": plan.pk,
        "kind": "status_changed",
        "from": "ready",
        "to": "cancelled",
        "actor": actor.pk,
        "payload": {"superseded_by": 7},
    }
    assert moved.occurred_at == at
    assert _row(restarted)["payload"] == {"attempt": plan.attempts, "lost_lease": "worker-1"}
    assert _row(superseded)["payload"] == {
        "superseded_by": newer.pk,
        "removed": {"routes": 2, "stops": 4, "unassigned": 0},
    }


def test_route_and_stop_events_name_the_entity_in_the_payload(plan):
    # given
    route = plan.routes.order_by("pk").first()
    stop = route.stops.order_by("sequence").first()
    courier = CourierFactory()
    at = timezone.now()

    # when
    dispatched = events.route_dispatched(route=route, courier_id=courier.pk, occurred_at=at)
    handed_back = events.route_status_changed(
        route=route,
        from_status=RouteStatus.DISPATCHED,
        to_status=RouteStatus.PLANNED,
        actor_id=None,
        occurred_at=at,
        detail={"courier": courier.pk, "reason": "suspended"},
    )
    arrived = events.stop_status_changed(
        route=route,
        stop=stop,
        from_status="pending",
        to_status="arrived",
        actor_id=courier.user_id,
        occurred_at=at,
    )

    # then
    assert _row(dispatched) == {
        "plan": plan.pk,
        "kind": "route_dispatched",
        "from": "planned",
        "to": "dispatched",
        "actor": None,
        "payload": {"route": route.pk, "vehicle": route.vehicle_id, "courier": courier.pk},
    }
    assert _row(handed_back) == {
        "plan": plan.pk,
        "kind": "status_changed",
        "from": "",
        "to": "",
        "actor": None,
        "payload": {
            "courier": courier.pk,
            "reason": "suspended",
            "route": route.pk,
            "from": "dispatched",
            "to": "planned",
        },
    }
    assert _row(arrived)["payload"] == {
        "stop": stop.pk,
        "route": route.pk,
        "from": "pending",
        "to": "arrived",
    }
    assert arrived.actor_id == courier.user_id


def test_stop_moved_keeps_both_routes_totals(plan):
    # given
    source, target = plan.routes.select_related("vehicle").order_by("pk")
    stop = source.stops.select_related("order").first()
    totals = {"distance_m": 1, "duration_s": 2}

    # when
    moved = events.stop_moved(
        plan=plan,
        order_id=stop.order.pk,
        order_ref=stop.order.external_reference,
        from_route=source,
        to_route=target,
        before={"from": totals, "to": totals},
        after={"from": totals, "to": totals},
    )

    # then
    assert _row(moved)["payload"] == {
        "order": stop.order.pk,
        "order_ref": stop.order.external_reference,
        "from_route": source.pk,
        "to_route": target.pk,
        "from_vehicle": source.vehicle.code,
        "to_vehicle": target.vehicle.code,
        "before": {"from": totals, "to": totals},
        "after": {"from": totals, "to": totals},
    }


def test_offer_events_name_the_route_and_courier(plan):
    # given
    route = plan.routes.order_by("pk").first()
    courier = CourierFactory()
    offer = RouteOffer.objects.create(
        route=route, courier=courier, expires_at=timezone.now() + dt.timedelta(minutes=5)
    )

    # when
    sent = events.offer_sent(route=route, courier_id=courier.pk)
    answered = events.offer_answered(offer=offer, answer="declined")
    withdrawn = events.offer_withdrawn(offer=offer)
    nobody = events.no_courier(route=route)
    barred = events.courier_barred(route=route, courier=courier, occurred_at=timezone.now())

    # then
    assert _row(sent)["payload"] == {"route": route.pk, "courier": courier.pk}
    assert _row(answered)["payload"] == {
        "route": route.pk,
        "courier": courier.pk,
        "answer": "declined",
    }
    assert _row(withdrawn)["payload"] == {
        "route": route.pk,
        "courier": courier.pk,
        "courier_status": courier.status,
    }
    assert _row(nobody) == {
        "plan": plan.pk,
        "kind": "no_courier",
        "from": "",
        "to": "",
        "actor": None,
        "payload": {"route": route.pk},
    }
    assert _row(barred)["payload"] == events.courier_barred_payload(route=route, courier=courier)
    assert set(barred.payload) == {"route", "courier", "courier_status", "since"}


def test_replan_events_carry_the_replan_and_its_triggers(plan):
    # given
    trigger = {"kind": "manual", "at": timezone.now().isoformat()}
    replan = Replan.objects.create(plan=plan, run_after=timezone.now(), triggers=[trigger])

    # when
    requested = events.replan_requested(plan=plan, replan=replan, trigger=trigger)
    applied = events.replanned(plan=plan, replan=replan, summary={"added": 1, "moved": 0})

    # then
    assert _row(requested)["payload"] == {"replan": replan.pk, "trigger": trigger}
    assert _row(applied)["payload"] == {
        "replan": replan.pk,
        "triggers": ["manual"],
        "added": 1,
        "moved": 0,
    }
