"""The dispatcher's plan screens: a fixed-cost list, a read-only plan page, per-row actions."""

import datetime as dt

import pytest
from django.utils import timezone

from lastmile.accounts.roles import Role
from lastmile.dispatch.models import Plan, PlanStatus, Route, UnassignedOrder
from lastmile.dispatch.services import plan_request, plan_run
from tests.factories import StaffFactory
from tests.fleet.factories import VehicleFactory
from tests.hubs.factories import HubFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/dispatch/plan/"


@pytest.fixture
def dispatcher(client):
    user = StaffFactory(role=Role.DISPATCHER)
    client.force_login(user)
    return user


def _plans(count: int) -> list[Plan]:
    hubs = [HubFactory() for _ in range(5)]
    start = timezone.localdate()
    return [
        Plan.objects.create(
            hub=hubs[n % 5],
            service_date=start + dt.timedelta(days=n // 5),
            status=PlanStatus.READY if n % 2 else PlanStatus.FAILED,
            vehicles_used=n % 7,
            unassigned_count=n % 3,
            distance_m=1000 * n,
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [3, 30])
def test_plan_list_costs_a_fixed_number_of_queries(
    client, dispatcher, django_assert_num_queries, count
):
    # given
    _plans(count)

    # when / then: the same count for 3 plans and for 30
    with django_assert_num_queries(10):
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == count


def test_a_ready_plan_shows_its_routes_and_unassigned_orders_read_only(
    client, dispatcher, small_day, tomorrow
):
    # given
    hub, _, _ = small_day
    plan = plan_run(plan_id=plan_request(hub=hub, service_date=tomorrow, actor=None).pk)
    route = Route.objects.filter(plan=plan).select_related("vehicle").first()
    UnassignedOrder.objects.filter(plan=plan).delete()

    # when
    response = client.get(f"{CHANGELIST}{plan.pk}/change/")

    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert route.vehicle.code in body
    assert 'name="_save"' not in body
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.get(f"/admin/dispatch/route/{route.pk}/change/").status_code == 200


def test_plan_again_requests_a_run_per_row_and_reports_each(
    client, dispatcher, django_capture_on_commit_callbacks, monkeypatch
):
    # given: a failed plan for tomorrow and one for a day that has passed
    monkeypatch.setattr(
        "lastmile.dispatch.tasks.plan_hub_day_task.apply_async", lambda **kwargs: None
    )
    hub = HubFactory(code="AGAIN-1")
    VehicleFactory(home_hub=hub)
    tomorrow = timezone.localdate(timezone=hub.zone) + dt.timedelta(days=1)
    failed = Plan.objects.create(hub=hub, service_date=tomorrow, status=PlanStatus.FAILED)
    old = Plan.objects.create(
        hub=hub, service_date=tomorrow - dt.timedelta(days=5), status=PlanStatus.FAILED
    )

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            CHANGELIST,
            {"action": "plan_again", "_selected_action": [failed.pk, old.pk]},
            follow=True,
        )

    # then
    texts = [str(m) for m in response.context["messages"]]
    new = Plan.objects.get(hub=hub, status=PlanStatus.QUEUED)
    assert new.requested_by == dispatcher
    assert any(f"planning requested (plan {new.pk})" in t for t in texts)
    assert any("has passed" in t for t in texts)


def test_cancel_cancels_what_it_can_and_says_why_not_for_the_rest(client, dispatcher):
    hub = HubFactory()
    day = timezone.localdate() + dt.timedelta(days=1)
    queued = Plan.objects.create(hub=hub, service_date=day, status=PlanStatus.QUEUED)
    failed = Plan.objects.create(hub=hub, service_date=day, status=PlanStatus.FAILED)

    response = client.post(
        CHANGELIST, {"action": "cancel", "_selected_action": [queued.pk, failed.pk]}, follow=True
    )

    texts = [str(m) for m in response.context["messages"]]
    queued.refresh_from_db()
    assert queued.status == PlanStatus.CANCELLED
    assert any("cancelled." in t for t in texts)
    assert any("cannot move from 'failed' to 'cancelled'" in t for t in texts)


def test_staff_without_the_dispatcher_role_cannot_request_plans(client):
    client.force_login(StaffFactory(role=Role.HUB_MANAGER))
    assert client.get(CHANGELIST).status_code == 403
