"""ETAs after a courier's update: refreshed after commit, never at the cost of the update.

A routing server that refuses or hangs must not lose a delivery (or any other courier update):
the update commits, then ``dispatch.refresh_route_etas`` re-estimates the stops ahead, falling
back to the great-circle estimate, and the route says its ETAs are that estimate.
"""

import datetime as dt
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from fleet.selectors import vehicle_routing_spec
from lastmile import celery_app
from lastmile.accounts.roles import Role
from lastmile.dispatch.models import (
    EtaSource,
    Replan,
    ReplanTrigger,
    Route,
    RouteStatus,
    Stop,
    StopKind,
    StopStatus,
)
from lastmile.dispatch.services import etas as eta_services
from lastmile.dispatch.services import route_start, stop_arrive, stop_deliver
from lastmile.orders.models import DeliveryAttempt, FailureReason, Order, OrderStatus
from lastmile.routing.matrix import HaversineProvider
from tests.dispatch import test_stop_updates
from tests.dispatch.test_stop_updates import _leg_s, _stops, url
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

# A started-able route of three stops due north of the hub (see ``test_stop_updates``).
route_day = test_stop_updates.route_day


class _OsrmDown(BaseHTTPRequestHandler):
    """Answers every table request with the server's ``status`` after ``delay_s`` seconds."""

    def do_GET(self) -> None:
        self.server.requests += 1
        time.sleep(self.server.delay_s)
        body = b'{"code": "Unavailable", "message": "down for maintenance"}'
        try:
            self.send_response(self.server.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up waiting: that is the point of the hanging server

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def osrm(settings):
    """A routing server the dispatch settings point at, refusing with 503 until told to hang.

    The timeout is short so the hanging case costs a fraction of a second.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OsrmDown)
    server.daemon_threads = True
    server.requests, server.status, server.delay_s = 0, 503, 0.0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.DISPATCH_OSRM_URL = f"http://127.0.0.1:{server.server_port}"
    settings.DISPATCH_OSRM_TIMEOUT_S = 0.2
    yield server
    server.shutdown()
    server.server_close()


def _profile(route: Route) -> str:
    return vehicle_routing_spec(vehicle=route.vehicle).profile


def _point(stop: Stop) -> tuple[float, float]:
    return float(stop.latitude), float(stop.longitude)


@pytest.mark.parametrize("failure", ["refuses", "hangs"])
def test_a_delivery_is_kept_and_the_etas_fall_back_when_the_routing_server_fails(
    failure, client, route_day, osrm, eager_tasks, django_capture_on_commit_callbacks
):
    # given: a route on the road, and a routing server that answers 503 or never in time
    route, courier, _ = route_day
    route_start(route=route, courier=courier, at=route.planned_start)
    first, second, _ = _stops(route)
    if failure == "hangs":
        osrm.delay_s = 2.0  # ten times the timeout
    client.force_login(courier.user)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(url("stop-deliver", first.pk), {"recipient_name": "Anna"})
    detail = client.get(url("route-detail", route.pk))
    # then: the delivery stands
    assert answer.status_code == 200, answer.content
    assert answer.json()["stop"]["status"] == StopStatus.COMPLETED
    first.refresh_from_db()
    assert first.status == StopStatus.COMPLETED
    assert Order.objects.get(pk=first.order_id).status == OrderStatus.DELIVERED
    assert DeliveryAttempt.objects.filter(order_id=first.order_id).count() == 1
    # and the ETAs ahead were refreshed by the great-circle estimate, which the route names
    assert osrm.requests >= 1
    profile = _profile(route)
    leg = dt.timedelta(seconds=_leg_s(profile, _point(first), _point(second)))
    assert Stop.objects.get(pk=second.pk).eta == first.actual_departure + leg
    route.refresh_from_db()
    assert route.eta_source == EtaSource.FALLBACK
    assert route.etas_refreshed_at is not None
    assert detail.json()["eta_source"] == EtaSource.FALLBACK


def test_the_board_shows_a_route_whose_etas_fell_back(
    client, route_day, osrm, eager_tasks, django_capture_on_commit_callbacks
):
    # given: a route started while the routing server was down
    route, courier, _ = route_day
    with django_capture_on_commit_callbacks(execute=True):
        route_start(route=route, courier=courier, at=route.planned_start)
    client.force_login(StaffFactory(role=Role.DISPATCHER))
    # when
    data = client.get(
        reverse("dispatch:board_data"),
        {"hub": route.plan.hub.code, "date": route.plan.service_date.isoformat()},
    )
    # then
    assert data.status_code == 200
    assert [(r["id"], r["eta_source"]) for r in data.json()["routes"]] == [
        (route.pk, EtaSource.FALLBACK)
    ]


def _with_break_first(route: Route) -> Stop:
    """Put a break before the route's stops (renumbered from the last, the sequence is unique)."""
    stops = _stops(route)
    for stop in reversed(stops):
        Stop.objects.filter(pk=stop.pk).update(sequence=stop.sequence + 1)
    first = stops[0]
    return Stop.objects.create(
        route=route,
        sequence=1,
        kind=StopKind.BREAK,
        latitude=first.latitude,
        longitude=first.longitude,
        planned_arrival=first.planned_arrival,
        planned_start=first.planned_arrival,
        planned_departure=first.planned_arrival + dt.timedelta(minutes=15),
    )


@pytest.mark.parametrize("update", ["start", "arrive", "fail", "complete"])
def test_every_courier_update_is_kept_when_the_routing_server_is_down(
    update, client, route_day, osrm, eager_tasks, django_capture_on_commit_callbacks
):
    # given: the routing server refuses every request
    route, courier, _ = route_day
    pause = _with_break_first(route) if update == "complete" else None
    if update != "start":
        route_start(route=route, courier=courier, at=route.planned_start)
    first = _stops(route)[0]
    client.force_login(courier.user)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        if update == "start":
            answer = client.post(url("route-start", route.pk))
        elif update == "arrive":
            answer = client.post(url("stop-arrive", first.pk))
        elif update == "fail":
            answer = client.post(url("stop-fail", first.pk), {"reason": FailureReason.REFUSED})
        else:
            answer = client.post(url("stop-complete", pause.pk))
    # then
    assert answer.status_code == 200, answer.content
    route.refresh_from_db()
    expected = {
        "start": (route.status, RouteStatus.IN_PROGRESS),
        "arrive": (Stop.objects.get(pk=first.pk).status, StopStatus.ARRIVED),
        "fail": (Stop.objects.get(pk=first.pk).status, StopStatus.FAILED),
        "complete": (Stop.objects.get(pk=first.pk).status, StopStatus.COMPLETED),
    }[update]
    assert expected[0] == expected[1]
    assert osrm.requests >= 1
    assert route.eta_source == EtaSource.FALLBACK


def test_etas_come_from_the_routing_provider_when_it_answers(
    route_day, eager_tasks, django_capture_on_commit_callbacks
):
    # given: no routing server configured, so the provider planning uses is the estimate
    route, courier, _ = route_day
    # when
    with django_capture_on_commit_callbacks(execute=True):
        route_start(route=route, courier=courier, at=route.planned_start)
    # then
    route.refresh_from_db()
    assert route.eta_source == EtaSource.ROUTING
    assert [s.eta for s in _stops(route)] == [s.planned_arrival for s in _stops(route)]


def test_a_refresh_for_an_update_the_courier_has_since_superseded_is_dropped(
    route_day, eager_tasks, django_capture_on_commit_callbacks
):
    # given: the courier arrives at the first stop, then delivers there 20 minutes later
    route, courier, _ = route_day
    with django_capture_on_commit_callbacks(execute=True):
        route_start(route=route, courier=courier, at=route.planned_start)
    first, second, _ = _stops(route)
    with django_capture_on_commit_callbacks() as arrived:
        stop_arrive(stop=first, courier=courier, at=first.planned_arrival)
    delivered_at = first.planned_departure + dt.timedelta(minutes=20)
    with django_capture_on_commit_callbacks() as delivered:
        stop_deliver(stop=first, courier=courier, recipient_name="Anna", at=delivered_at)
    # when: the refreshes run out of order (two workers), and the last one is retried
    for callback in [*delivered, *arrived, *delivered]:
        callback()
    # then: the ETAs are those of the delivery, the later update
    leg = dt.timedelta(seconds=_leg_s(_profile(route), _point(first), _point(second)))
    assert Stop.objects.get(pk=second.pk).eta == delivered_at + leg


def test_a_stop_newly_late_asks_for_a_replan_even_on_the_fallback(
    route_day, osrm, eager_tasks, settings, django_capture_on_commit_callbacks
):
    # given: a route on the road whose last stop must be reached by 10:00
    settings.DISPATCH_LATE_REPLAN_S = 0
    route, courier, _ = route_day
    route_start(route=route, courier=courier, at=route.planned_start)
    first, _, last = _stops(route)
    Stop.objects.filter(pk=last.pk).update(window_end=last.planned_arrival + dt.timedelta(hours=1))
    # when: the first delivery happens two hours late, with the routing server down
    with django_capture_on_commit_callbacks() as callbacks:
        stop_deliver(
            stop=first,
            courier=courier,
            recipient_name="Anna",
            at=first.planned_departure + dt.timedelta(hours=2),
        )
    for callback in callbacks:  # the refresh; the re-plan it asks for stays queued
        callback()
    # then
    replan = Replan.objects.get(plan=route.plan)
    assert replan.triggers[0]["kind"] == ReplanTrigger.LATE
    assert last.pk in replan.triggers[0]["stops"]
    assert Route.objects.get(pk=route.pk).eta_source == EtaSource.FALLBACK


def test_the_eta_refresh_runs_on_the_default_queue():
    assert celery_app.amqp.router.route({}, "dispatch.refresh_route_etas")["queue"].name == (
        "default"
    )


# --- On PostgreSQL: the provider is asked with nothing locked ------------------------------


def _route_row_free(route_id: int) -> bool:
    """Whether another connection can lock the route row right now (NOWAIT)."""
    free: list[bool] = []

    def probe() -> None:
        try:
            with transaction.atomic():
                Route.objects.select_for_update(nowait=True).get(pk=route_id)
            free.append(True)
        except DatabaseError:
            free.append(False)
        finally:
            connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(timeout=30)
    return free == [True]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_routing_provider_is_asked_after_the_delivery_committed_with_no_row_locked(
    client, route_day, eager_tasks, monkeypatch
):
    # given: a route on the road, and a provider that records the state it is called in
    route, courier, _ = route_day
    route_start(route=route, courier=courier, at=route.planned_start)
    first = _stops(route)[0]
    seen: list[dict[str, object]] = []

    class Probe:
        def matrix(self, locations, *, profile, depart_at_s=None):
            seen.append(
                {
                    "in_transaction": connection.in_atomic_block,
                    "route_free": _route_row_free(route.pk),
                    "delivered": Stop.objects.get(pk=first.pk).status == StopStatus.COMPLETED,
                }
            )
            return HaversineProvider().matrix(locations, profile=profile)

    monkeypatch.setattr(eta_services, "matrix_provider", Probe)
    client.force_login(courier.user)
    # when
    answer = client.post(
        url("stop-deliver", first.pk),
        {"recipient_name": "Anna", "latitude": "52.505", "longitude": "13.4"},
    )
    # then: asked once, outside any transaction, the route row free, the delivery stored
    assert answer.status_code == 200
    assert seen == [{"in_transaction": False, "route_free": True, "delivered": True}]
    assert Route.objects.get(pk=route.pk).eta_source == EtaSource.ROUTING


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_default_queue_refreshes_the_etas_after_the_delivery(
    client, route_day, osrm
):
    # given: a route on the road, the routing server down, and a worker on the default queue
    assert celery_app.conf.task_always_eager is False
    route, courier, _ = route_day
    route_start(route=route, courier=courier, at=route.planned_start)
    first, second, _ = _stops(route)
    client.force_login(courier.user)
    with start_worker(
        celery_app,
        pool="solo",
        concurrency=1,
        queues=["default"],
        perform_ping_check=False,
        shutdown_timeout=30,
    ):
        # when: the courier delivers; the answer does not wait for the refresh
        answer = client.post(url("stop-deliver", first.pk), {"recipient_name": "Anna"})
        assert answer.status_code == 200
        assert Stop.objects.get(pk=first.pk).status == StopStatus.COMPLETED

        # then: the worker refreshes the ETAs ahead from the delivery, by the fallback
        deadline = time.monotonic() + 30
        route.refresh_from_db()
        while route.eta_source != EtaSource.FALLBACK and time.monotonic() < deadline:
            time.sleep(0.2)
            route.refresh_from_db()
    first.refresh_from_db()
    leg = dt.timedelta(seconds=_leg_s(_profile(route), _point(first), _point(second)))
    assert route.eta_source == EtaSource.FALLBACK
    assert Stop.objects.get(pk=second.pk).eta == first.actual_departure + leg
