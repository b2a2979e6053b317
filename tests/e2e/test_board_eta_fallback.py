"""A dispatcher sees on the board which routes' ETAs are a straight-line estimate."""

import datetime as dt

import pytest
from django.utils import timezone

from lastmile import celery_app
from lastmile.accounts.roles import Role
from lastmile.dispatch.models import EtaSource, Route
from lastmile.dispatch.services import plan_publish, plan_request, plan_run
from tests.dispatch.factories import multi_route_day
from tests.e2e.conftest import admin_login
from tests.factories import StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def planning_in_process(settings):
    settings.DISPATCH_TIME_LIMIT_S = 1
    settings.DISPATCH_OSRM_URL = ""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def test_a_route_whose_etas_fell_back_is_marked_on_the_board(
    page, live_server, planning_in_process
):
    # given: tomorrow published with two routes; one route's last ETA refresh found the
    # routing server down
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    day = multi_route_day(day=tomorrow, vans=2, orders=12, van_parcels=8, code="BER-ETA")
    requested = plan_request(hub=day.hub, service_date=tomorrow, actor=None, enqueue=False)
    plan = plan_publish(plan=plan_run(plan_id=requested.pk), actor=None)
    routes = list(Route.objects.filter(plan=plan).order_by("pk"))
    assert len(routes) == 2
    fell_back, fine = routes
    Route.objects.filter(pk=fell_back.pk).update(eta_source=EtaSource.FALLBACK)
    StaffFactory(username="dora", password="s3cret-pass", role=Role.DISPATCHER)
    admin_login(page, live_server, username="dora", password="s3cret-pass")

    # when
    page.goto(f"{live_server.url}/dispatch/board/?hub={day.hub.code}&date={tomorrow:%Y-%m-%d}")
    page.wait_for_selector("#board-map[data-route-count='2']", state="attached")

    # then: the note is on that route's card only
    note = "ETAs: straight-line estimate (routing server failed)"
    assert note in page.inner_text(f".lm-route[data-route-id='{fell_back.pk}']")
    assert note not in page.inner_text(f".lm-route[data-route-id='{fine.pk}']")
