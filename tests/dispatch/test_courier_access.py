"""A suspended courier loses the portal and the driver API, with a message that says why."""

import pytest
from django.urls import reverse

from lastmile.dispatch.models import Route
from lastmile.dispatch.services import plan_publish
from tests.dispatch.test_publishing import driver, ready_plan
from workforce.services import courier_suspend

pytestmark = pytest.mark.django_db


@pytest.fixture
def suspended_driver(small_day, tomorrow):
    """An employee driver given a route of tomorrow, then suspended."""
    hub, _, _ = small_day
    courier = driver(hub, tomorrow)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    route = Route.objects.get(plan=plan, courier=courier)
    courier_suspend(courier=courier, actor=None, reason="Complaint under review")
    return courier, route


def test_a_suspended_courier_gets_a_403_page_saying_so_on_every_portal_page(
    client, suspended_driver
):
    # given
    courier, route = suspended_driver
    client.force_login(courier.user)
    # when
    pages = [
        client.get(reverse("workforce:home")),
        client.get(reverse("workforce:availability")),
        client.get(reverse("dispatch_portal:offers")),
        client.get(reverse("dispatch_portal:route", args=[route.pk])),
        client.post(reverse("dispatch_portal:route_start", args=[route.pk])),
    ]
    # then
    for page in pages:
        assert page.status_code == 403
        assert b"Your courier account is suspended" in page.content
    assert Route.objects.get(pk=route.pk).started_at is None


def test_a_suspended_courier_gets_a_403_problem_with_a_code_from_the_driver_api(
    client, suspended_driver
):
    # given
    courier, route = suspended_driver
    client.force_login(courier.user)
    # when
    listed = client.get(reverse("api:driver:route-list"))
    started = client.post(reverse("api:driver:route-start", args=[route.pk]))
    # then
    for answer in (listed, started):
        assert answer.status_code == 403
        assert answer["Content-Type"] == "application/problem+json"
        assert answer.json()["code"] == "courier_not_active"
        assert "suspended" in answer.json()["detail"]
    assert Route.objects.get(pk=route.pk).started_at is None


def test_an_active_courier_keeps_the_portal_and_the_driver_api(client, small_day, tomorrow):
    hub, _, _ = small_day
    courier = driver(hub, tomorrow)
    plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    client.force_login(courier.user)

    assert client.get(reverse("dispatch_portal:offers")).status_code == 200
    assert client.get(reverse("api:driver:route-list")).status_code == 200
