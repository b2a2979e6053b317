"""A driver's break on a planned route shows on the board as a break with its time."""

import datetime as dt

import pytest
from django.utils import timezone

from lastmile.accounts.roles import Role
from lastmile.dispatch.models import Route, Stop, StopKind
from tests.dispatch.factories import stored_plan
from tests.e2e.conftest import admin_login
from tests.factories import StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_board_lists_a_break_as_the_drivers_pause_with_its_start(page, live_server):
    # given: a ready plan whose route ends its stops with a 30-minute break at 12:00
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    plan = stored_plan(day=tomorrow, routes=1, stops=3, unassigned=0)
    route = Route.objects.get(plan=plan)
    last = Stop.objects.filter(route=route).order_by("-sequence").first()
    noon = dt.datetime.combine(tomorrow, dt.time(12), tzinfo=plan.hub.zone)
    Stop.objects.create(
        route=route,
        sequence=last.sequence + 1,
        trip=last.trip,
        kind=StopKind.BREAK,
        latitude=last.latitude,
        longitude=last.longitude,
        planned_arrival=noon,
        planned_start=noon,
        planned_departure=noon + dt.timedelta(minutes=30),
    )
    StaffFactory(username="dora", password="s3cret-pass", role=Role.DISPATCHER)
    admin_login(page, live_server, username="dora", password="s3cret-pass")

    # when: the dispatcher opens the route's stops
    page.goto(f"{live_server.url}/dispatch/board/?hub={plan.hub.code}&date={tomorrow:%Y-%m-%d}")
    page.wait_for_selector("#board-map[data-drawn]", state="attached")
    page.locator(".lm-route details summary").first.click()

    # then: the break is its own row with its time, not an empty order stop
    row = page.locator(".lm-route li.lm-stop-break")
    row.wait_for()
    assert row.inner_text() == "— driver's break from 12:00"
    assert page.locator(".lm-route .lm-stop-row").count() == 3
