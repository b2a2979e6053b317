"""Dispatch under concurrency, on PostgreSQL with real threads: one run, one completion."""

import pytest
from django.test import Client

from lastmile.accounts.roles import Role
from lastmile.dispatch import tasks
from lastmile.dispatch.models import Plan, PlanEvent, PlanStatus, StopStatus
from lastmile.dispatch.services import route_start
from lastmile.orders.models import DeliveryAttempt, OrderEvent, OrderStatus
from tests.dispatch import test_stop_updates
from tests.dispatch.test_stop_updates import _stops, url
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory
from tests.races import race
from tests.workforce.factories import PayRuleFactory
from workforce.models import EarningEntry
from workforce.services import earnings_accrue_stops

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# A started-able route of three stops due north of the hub (see ``test_stop_updates``).
route_day = test_stop_updates.route_day


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_two_plan_requests_for_one_hub_and_day_start_one_run(tomorrow, monkeypatch):
    # given: two dispatchers on the board of one hub, and the planning queue recorded
    hub = HubFactory()
    boards = [_signed_in(StaffFactory(role=Role.DISPATCHER)) for _ in range(2)]
    sent = []
    monkeypatch.setattr(
        tasks.plan_hub_day_task, "apply_async", lambda *a, **kw: sent.append((a, kw))
    )
    # when: both press "Plan" for tomorrow at the same moment
    answers = race(
        *(
            lambda board=board: board.post(
                "/dispatch/board/plan/", {"hub": hub.code, "date": tomorrow.isoformat()}
            )
            for board in boards
        )
    )
    # then: one plan queued, one task sent, and the other request joined that plan
    assert [getattr(a, "status_code", a) for a in answers] == [202, 202], answers
    plan = Plan.objects.get(hub=hub, service_date=tomorrow)
    assert plan.status == PlanStatus.QUEUED
    assert {a.json()["plan"]["id"] for a in answers} == {plan.pk}
    assert sorted(a.json()["joined"] for a in answers) == [False, True]
    assert [kw.get("args") for _, kw in sent] == [(plan.pk,)]
    assert PlanEvent.objects.filter(plan=plan, kind=PlanEvent.Kind.JOINED).count() == 1


def test_a_retried_delivery_racing_the_original_completes_the_stop_once(route_day, eager_tasks):
    # given: a route on the road, a pay rule, and the driver app about to send "delivered"
    # twice (the first answer was lost on a flaky connection)
    route, courier, _ = route_day
    route_start(route=route, courier=courier, at=route.planned_start)
    PayRuleFactory(hub=route.plan.hub, courier_kind=courier.kind, per_stop_minor=250)
    stop = _stops(route)[0]
    apps = [_signed_in(courier.user) for _ in range(2)]
    # when
    answers = race(
        *(
            lambda app=app: app.post(url("stop-deliver", stop.pk), {"recipient_name": "Anna"})
            for app in apps
        )
    )
    earnings_accrue_stops()
    # then: both answered the completed stop; one attempt, one event of each kind, one earning
    assert [getattr(a, "status_code", a) for a in answers] == [200, 200], answers
    assert {a.json()["stop"]["status"] for a in answers} == {StopStatus.COMPLETED}
    assert DeliveryAttempt.objects.filter(order_id=stop.order_id).count() == 1
    assert (
        OrderEvent.objects.filter(order_id=stop.order_id, to_status=OrderStatus.DELIVERED).count()
        == 1
    )
    moves = PlanEvent.objects.filter(plan=route.plan, payload__stop=stop.pk)
    assert sorted((e.payload["from"], e.payload["to"]) for e in moves) == [
        ("arrived", "completed"),
        ("pending", "arrived"),
    ]
    assert EarningEntry.objects.filter(courier=courier).count() == 1
