"""Courier stop updates: start a route, arrive, deliver with proof, fail with a reason.

Through the driver API and the portal's "My route" page; each update moves the stop, route and
order machines, has the ETAs ahead recomputed after commit and is idempotent on retry.
"""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from fleet.selectors import vehicle_routing_spec
from lastmile.accounts.roles import Role
from lastmile.core.errors import Conflict, NotFound
from lastmile.dispatch.models import (
    Plan,
    PlanEvent,
    PlanStatus,
    Route,
    RouteStatus,
    Stop,
    StopKind,
    StopStatus,
)
from lastmile.dispatch.services import (
    plan_publish,
    route_start,
    stop_arrive,
    stop_deliver,
    stop_fail,
)
from lastmile.orders.models import DeliveryAttempt, FailureReason, OrderStatus
from lastmile.routing.matrix import HaversineProvider
from lastmile.routing.problem import Location
from tests.api_schema import assert_code_documented
from tests.dispatch.conftest import at
from tests.dispatch.test_publishing import driver, ready_plan
from tests.factories import StaffFactory
from tests.fleet.factories import VehicleFactory
from tests.hubs.factories import HubFactory
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db

SERVICE = dt.timedelta(seconds=180)
# Stops due north of the hub, one every 0.01° (about 1.1 km): travel times are easy to check.
LATITUDES = (Decimal("52.510000"), Decimal("52.520000"), Decimal("52.530000"))


def _leg_s(profile: str, a: tuple[float, float], b: tuple[float, float]) -> int:
    durations = HaversineProvider().matrix([Location(*a), Location(*b)], profile=profile)
    return round(durations.durations_s[0][1])


@pytest.fixture
def route_day(tomorrow):
    """A published plan with one dispatched route of three delivery stops in a straight line,
    planned back to back (no waits) from 09:00 with the same travel times ETAs use."""
    hub = HubFactory(latitude="52.500000", longitude="13.400000")
    van = VehicleFactory(home_hub=hub)
    courier = driver(hub, tomorrow)
    other = driver(hub, tomorrow)
    plan = Plan.objects.create(hub=hub, service_date=tomorrow, status=PlanStatus.PUBLISHED)
    start = at(hub, tomorrow, 9)
    route = Route.objects.create(
        plan=plan,
        vehicle=van,
        courier=courier,
        status=RouteStatus.DISPATCHED,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=2),
    )
    profile = vehicle_routing_spec(vehicle=van).profile
    clock, here = start, (52.5, 13.4)
    for sequence, lat in enumerate(LATITUDES, start=1):
        order = OrderFactory(
            hub=hub,
            status=OrderStatus.PLANNED,
            latitude=lat,
            longitude=Decimal("13.400000"),
            window_start=at(hub, tomorrow, 8),
            window_end=at(hub, tomorrow, 18),
        )
        clock += dt.timedelta(seconds=_leg_s(profile, here, (float(lat), 13.4)))
        Stop.objects.create(
            route=route,
            sequence=sequence,
            kind=StopKind.DELIVERY,
            order=order,
            latitude=lat,
            longitude=order.longitude,
            planned_arrival=clock,
            planned_start=clock,
            planned_departure=clock + SERVICE,
            window_start=order.window_start,
            window_end=order.window_end,
            eta=clock,
        )
        clock += SERVICE
        here = (float(lat), 13.4)
    return route, courier, other


def _stops(route):
    return list(Stop.objects.filter(route=route).select_related("order").order_by("sequence"))


def _png(name: str = "proof.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def url(name: str, pk: int) -> str:
    return reverse(f"api:driver:{name}", args=[pk])


# --- API -----------------------------------------------------------------------------------


def test_a_published_route_is_started_served_and_completed_through_the_api(
    client, small_day, tomorrow
):
    # given: a real plan, published to an employee driver
    hub, _, _ = small_day
    plan = ready_plan(hub, tomorrow)
    courier = driver(hub, tomorrow)
    plan_publish(plan=plan, actor=None)
    route = Route.objects.get(plan=plan, courier=courier)
    client.force_login(courier.user)
    # when
    listed = client.get(reverse("api:driver:route-list"))
    started = client.post(url("route-start", route.pk))
    detail = client.get(url("route-detail", route.pk))
    stops = _stops(route)
    first, *rest = stops
    arrived = client.post(url("stop-arrive", first.pk), {"latitude": "52.5", "longitude": "13.4"})
    delivered = client.post(
        url("stop-deliver", first.pk), {"recipient_name": "Anna", "photo": _png()}
    )
    failed = [
        client.post(url("stop-fail", stop.pk), {"reason": FailureReason.REFUSED}) for stop in rest
    ]
    # then
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [route.pk]
    assert started.status_code == 200
    assert started.json()["status"] == RouteStatus.IN_PROGRESS
    body = detail.json()
    assert [s["id"] for s in body["stops"]] == [s.pk for s in stops]
    assert body["stops"][0]["address"] == first.order.address
    assert all(s["eta"] for s in body["stops"])
    assert arrived.status_code == 200
    assert arrived.json()["stop"]["status"] == StopStatus.ARRIVED
    assert delivered.status_code == 200, delivered.json()
    assert delivered.json()["stop"]["status"] == StopStatus.COMPLETED
    first.order.refresh_from_db()
    assert first.order.status == OrderStatus.DELIVERED
    attempt = DeliveryAttempt.objects.get(order=first.order)
    assert attempt.courier == courier.user
    assert attempt.proof.recipient_name == "Anna"
    assert attempt.proof.photo
    assert all(r.status_code == 200 for r in failed)
    for stop in rest:
        stop.order.refresh_from_db()
        assert stop.order.status == OrderStatus.FAILED
        assert stop.order.attempts.get().failure_reason == FailureReason.REFUSED
    route.refresh_from_db()
    assert route.status == RouteStatus.COMPLETED
    assert failed[-1].json()["route_status"] == RouteStatus.COMPLETED


def test_starting_moves_every_order_out_for_delivery_and_a_retry_changes_nothing(client, route_day):
    # given
    route, courier, _ = route_day
    client.force_login(courier.user)
    # when
    first = client.post(url("route-start", route.pk))
    events = PlanEvent.objects.count()
    second = client.post(url("route-start", route.pk))
    # then
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert PlanEvent.objects.count() == events
    assert {s.order.status for s in _stops(route)} == {OrderStatus.OUT_FOR_DELIVERY}


def test_delivering_twice_writes_one_attempt_and_answers_the_same(client, route_day):
    # given
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    stop = _stops(route)[0]
    client.force_login(courier.user)
    # when
    first = client.post(url("stop-deliver", stop.pk), {"recipient_name": "Anna"})
    second = client.post(url("stop-deliver", stop.pk), {"recipient_name": "Anna"})
    # then
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert DeliveryAttempt.objects.filter(order=stop.order).count() == 1


def test_another_courier_gets_404_on_every_endpoint(client, route_day):
    # given
    route, courier, other = route_day
    route_start(route=route, courier=courier)
    stop = _stops(route)[0]
    client.force_login(other.user)
    # when
    answers = [
        client.get(url("route-detail", route.pk)),
        client.post(url("route-start", route.pk)),
        client.post(url("stop-arrive", stop.pk)),
        client.post(url("stop-deliver", stop.pk), {"recipient_name": "Mallory"}),
        client.post(url("stop-fail", stop.pk), {"reason": FailureReason.REFUSED}),
    ]
    listed = client.get(reverse("api:driver:route-list"))
    # then
    assert [a.status_code for a in answers] == [404] * 5
    assert listed.json() == []
    assert Stop.objects.get(pk=stop.pk).status == StopStatus.PENDING
    with pytest.raises(NotFound):
        stop_deliver(stop=stop, courier=other, recipient_name="Mallory")


def test_anonymous_visitors_are_refused(client, route_day):
    route, _, _ = route_day
    stop = _stops(route)[0]

    answers = [
        client.get(reverse("api:driver:route-list")),
        client.get(url("route-detail", route.pk)),
        client.post(url("route-start", route.pk)),
        client.post(url("stop-arrive", stop.pk)),
        client.post(url("stop-deliver", stop.pk), {"recipient_name": "x"}),
        client.post(url("stop-fail", stop.pk), {"reason": FailureReason.REFUSED}),
    ]

    assert {a.status_code for a in answers} <= {401, 403}


def test_an_unknown_reason_is_a_field_error(client, route_day):
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    stop = _stops(route)[0]
    client.force_login(courier.user)

    answer = client.post(url("stop-fail", stop.pk), {"reason": "aliens"})

    assert answer.status_code == 400
    assert "reason" in answer.json()["errors"]
    assert Stop.objects.get(pk=stop.pk).status == StopStatus.PENDING


def test_delivering_on_a_route_not_started_is_a_conflict(client, route_day):
    route, courier, _ = route_day
    stop = _stops(route)[0]
    client.force_login(courier.user)

    answer = client.post(url("stop-deliver", stop.pk), {"recipient_name": "Anna"})

    assert answer.status_code == 409
    assert answer.json()["code"] == "route_not_in_progress"
    assert_code_documented(answer)
    assert not DeliveryAttempt.objects.filter(order=stop.order).exists()


def test_a_bad_image_is_refused_and_nothing_changes(client, route_day):
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    stop = _stops(route)[0]
    client.force_login(courier.user)
    fake = SimpleUploadedFile("proof.png", b"not an image", content_type="image/png")

    answer = client.post(url("stop-deliver", stop.pk), {"recipient_name": "Anna", "photo": fake})

    assert answer.status_code == 400
    assert "photo" in answer.json()["errors"]
    assert Stop.objects.get(pk=stop.pk).status == StopStatus.PENDING


def test_a_png_with_a_script_tail_named_html_is_stored_and_served_only_as_a_png(client, route_day):
    # given: valid PNG bytes followed by a script, uploaded as x.html claiming text/html
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    stop = _stops(route)[0]
    polyglot = _png().read() + b"<script>alert(document.domain)</script>"
    upload = SimpleUploadedFile("x.html", polyglot, content_type="text/html")
    client.force_login(courier.user)

    # when: the driver app delivers with it, and a dispatcher opens the proof
    answer = client.post(url("stop-deliver", stop.pk), {"recipient_name": "Anna", "photo": upload})
    attempt = DeliveryAttempt.objects.select_related("proof").get(order=stop.order)
    client.force_login(StaffFactory(role=Role.DISPATCHER))
    served = client.get(
        reverse("admin:orders_order_proof", args=[stop.order_id, attempt.pk, "photo"])
    )

    # then: named after its content, served as an image that can run nothing
    assert answer.status_code == 200, answer.json()
    assert attempt.proof.photo.name.endswith(".png")
    assert "html" not in attempt.proof.photo.name
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert served["Content-Disposition"].startswith("inline;")
    assert served["Content-Disposition"].endswith('.png"')
    assert b"".join(served.streaming_content) == polyglot


def test_a_json_body_over_the_memory_limit_is_a_413_problem_and_changes_nothing(
    client, route_day, settings
):
    # given: JSON bodies are limited to 2 kB here
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_048
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    stop = _stops(route)[0]
    client.force_login(courier.user)
    body = {"latitude": "52.5", "longitude": "13.4", "note": "x" * 4_096}

    # when
    answer = client.post(url("stop-arrive", stop.pk), body, content_type="application/json")

    # then
    assert answer.status_code == 413
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "request_too_large"
    assert Stop.objects.get(pk=stop.pk).status == StopStatus.PENDING


def test_a_body_over_the_request_limit_is_refused_before_it_is_read(client, route_day, settings):
    # given: request bodies are limited to 64 kB here; the photo is 100 kB
    settings.REQUEST_MAX_BODY_BYTES = 65_536
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    stop = _stops(route)[0]
    client.force_login(courier.user)
    photo = SimpleUploadedFile("p.png", _png().read() + b"\0" * 100_000)

    # when
    answer = client.post(url("stop-deliver", stop.pk), {"recipient_name": "Anna", "photo": photo})

    # then
    assert answer.status_code == 413
    assert answer.json()["code"] == "request_too_large"
    assert Stop.objects.get(pk=stop.pk).status == StopStatus.PENDING


def test_too_many_files_in_one_request_is_a_400_problem(client, route_day):
    # given: eleven files where the limit is ten
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    stop = _stops(route)[0]
    client.force_login(courier.user)
    files = {f"extra{n}": _png() for n in range(11)}

    # when
    answer = client.post(url("stop-deliver", stop.pk), {"recipient_name": "Anna", **files})

    # then
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "too_many_fields"
    assert Stop.objects.get(pk=stop.pk).status == StopStatus.PENDING


# --- Services: ETAs, completion ------------------------------------------------------------


def test_a_late_delivery_pushes_the_etas_ahead_back_by_the_delay(
    route_day, eager_tasks, django_capture_on_commit_callbacks
):
    # given: started on time; the first stop is served ten minutes late
    route, courier, _ = route_day
    first, second, third = _stops(route)
    with django_capture_on_commit_callbacks(execute=True):
        route_start(route=route, courier=courier, at=route.planned_start)
    on_time = {s.pk: s.eta for s in _stops(route)}
    delay = dt.timedelta(minutes=10)
    # when: the ETAs are refreshed after each update commits
    with django_capture_on_commit_callbacks(execute=True):
        stop_arrive(stop=first, courier=courier, at=first.planned_arrival + delay)
        stop_deliver(
            stop=first,
            courier=courier,
            recipient_name="Anna",
            at=first.planned_departure + delay,
        )
    # then: the plan's own times came from the same matrix, so the ETAs are the plan + delay
    assert on_time[second.pk] == second.planned_arrival
    assert on_time[third.pk] == third.planned_arrival
    after = {s.pk: s for s in _stops(route)}
    assert after[second.pk].eta == second.planned_arrival + delay
    assert after[third.pk].eta == third.planned_arrival + delay
    assert after[first.pk].actual_arrival == first.planned_arrival + delay
    assert after[first.pk].actual_departure == first.planned_departure + delay


def test_etas_start_from_the_position_the_courier_sends(
    route_day, eager_tasks, django_capture_on_commit_callbacks
):
    # given: the courier reports the first stop failed from the hub's doorstep
    route, courier, _ = route_day
    first, second, _ = _stops(route)
    route_start(route=route, courier=courier, at=route.planned_start)
    moment = route.planned_start + dt.timedelta(minutes=30)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        stop_fail(
            stop=first,
            courier=courier,
            reason=FailureReason.ADDRESS_NOT_FOUND,
            at=moment,
            lat=Decimal("52.500000"),
            lng=Decimal("13.400000"),
        )
    # then
    profile = vehicle_routing_spec(vehicle=route.vehicle).profile
    leg = _leg_s(profile, (52.5, 13.4), (float(second.latitude), 13.4))
    assert Stop.objects.get(pk=second.pk).eta == moment + dt.timedelta(seconds=leg)


def test_the_route_completes_when_the_last_stop_is_settled(route_day):
    route, courier, _ = route_day
    first, second, third = _stops(route)
    route_start(route=route, courier=courier)

    stop_deliver(stop=first, courier=courier, recipient_name="Anna")
    stop_fail(stop=second, courier=courier, reason=FailureReason.REFUSED)
    route.refresh_from_db()
    still_going = route.status
    stop_deliver(stop=third, courier=courier, recipient_name="Ben")
    route.refresh_from_db()

    assert still_going == RouteStatus.IN_PROGRESS
    assert route.status == RouteStatus.COMPLETED
    assert route.completed_at is not None
    # a retry after completion still answers with the stop, not a conflict
    assert stop_deliver(stop=third, courier=courier, recipient_name="Ben").status == "completed"
    with pytest.raises(Conflict):
        stop_fail(stop=third, courier=courier, reason=FailureReason.REFUSED)


def test_every_stop_move_is_in_the_plan_timeline(route_day):
    route, courier, _ = route_day
    first = _stops(route)[0]
    route_start(route=route, courier=courier)

    stop_deliver(stop=first, courier=courier, recipient_name="Anna")

    moves = [
        (e.payload["from"], e.payload["to"])
        for e in PlanEvent.objects.filter(plan=route.plan, payload__stop=first.pk)
    ]
    assert moves == [("pending", "arrived"), ("arrived", "completed")]


# --- Portal --------------------------------------------------------------------------------


def test_the_portal_shows_my_route_and_a_delivered_post_works(client, route_day):
    # given
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    first = _stops(route)[0]
    client.force_login(courier.user)
    page_url = reverse("dispatch_portal:route", args=[route.pk])
    # when
    page = client.get(page_url)
    missing = client.post(reverse("dispatch_portal:stop_deliver", args=[first.pk]), {})
    done = client.post(
        reverse("dispatch_portal:stop_deliver", args=[first.pk]),
        {f"stop{first.pk}-recipient_name": "Anna"},
        follow=True,
    )
    # then
    assert page.status_code == 200
    for stop in _stops(route):
        assert stop.order.address.encode() in page.content
    assert reverse("dispatch_portal:stop_fail", args=[first.pk]).encode() in page.content
    assert missing.status_code == 400
    assert b"errorlist" in missing.content
    assert done.redirect_chain[-1][0] == page_url
    assert b"delivered" in done.content
    assert Stop.objects.get(pk=first.pk).status == StopStatus.COMPLETED
    assert DeliveryAttempt.objects.get(order=first.order).courier == courier.user


def test_the_portal_hides_another_couriers_route(client, route_day):
    route, _, other = route_day
    stop = _stops(route)[0]
    client.force_login(other.user)

    page = client.get(reverse("dispatch_portal:route", args=[route.pk]))
    post = client.post(
        reverse("dispatch_portal:stop_fail", args=[stop.pk]),
        {f"stop{stop.pk}-reason": FailureReason.REFUSED},
    )

    assert page.status_code == post.status_code == 404


def test_the_route_page_leads_with_the_next_stop_and_folds_the_done_ones(client, route_day):
    # given: the first of three stops delivered; its order's access notes hold markup
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    first, second, third = _stops(route)
    stop_deliver(stop=first, courier=courier, recipient_name="Anna")
    second.order.access_notes = '<script>alert("x")</script> Door code 4711'
    second.order.save(update_fields=["access_notes"])
    client.force_login(courier.user)
    url = reverse("dispatch_portal:route", args=[route.pk])

    # when
    html = client.get(url).content.decode()

    # then: stop 2 is the first card and open, stop 3 folded, stop 1 under "done" at the end
    to_do, _, done = html.partition('id="stops-done"')
    assert to_do.index(f'id="stop-{second.pk}"') < to_do.index(f'id="stop-{third.pk}"')
    assert f'id="stop-{first.pk}"' in done
    assert f'id="stop-{first.pk}"' not in to_do
    second_card = to_do[
        to_do.index(f'id="stop-{second.pk}"') : to_do.index(f'id="stop-{third.pk}"')
    ]
    assert '<details class="card stop-card" open>' in second_card
    assert "stop-next" in to_do[: to_do.index(f'id="stop-{second.pk}"') + 20]
    # the proof and reason forms are there, hidden until their button is tapped
    assert f'id="deliver-{second.pk}" class="stop-form" hidden' in second_card
    assert f'id="fail-{second.pk}" class="stop-form" hidden' in second_card
    # access notes as text, and directions to the stop's point
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Door code 4711" in second_card
    assert "<script>alert" not in html
    assert (
        'href="https://www.google.com/maps/dir/?api=1&amp;destination='
        f'{second.latitude}%2C{second.longitude}"'
    ) in second_card


def test_without_javascript_the_failed_button_opens_its_form(client, route_day):
    # given
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    first, second, _ = _stops(route)
    client.force_login(courier.user)
    url = reverse("dispatch_portal:route", args=[route.pk])

    # when: the button's link is followed (no script), and a link with nonsense in it
    opened = client.get(url, {"open": f"fail-{second.pk}"}).content.decode()
    nonsense = client.get(url, {"open": "fail-<b>"})

    # then: that one form shows, every other stays hidden; nonsense opens nothing
    assert f'href="{url}?open=fail-{first.pk}#stop-{first.pk}"' in opened
    assert f'id="fail-{second.pk}" class="stop-form">' in opened
    assert f'id="deliver-{second.pk}" class="stop-form" hidden' in opened
    assert f'id="fail-{first.pk}" class="stop-form" hidden' in opened
    assert nonsense.status_code == 200
    assert b'class="stop-form">' not in nonsense.content


def test_a_refused_delivery_shows_its_form_open_with_the_error(client, route_day):
    route, courier, _ = route_day
    route_start(route=route, courier=courier)
    first = _stops(route)[0]
    client.force_login(courier.user)

    response = client.post(reverse("dispatch_portal:stop_deliver", args=[first.pk]), {})

    assert response.status_code == 400
    assert f'id="deliver-{first.pk}" class="stop-form">' in response.content.decode()
