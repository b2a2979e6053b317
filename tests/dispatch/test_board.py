"""The dispatch board: who may open it, its data in a fixed number of queries, its buttons
calling the services, and moving a stop to another route."""

import pytest

from lastmile.accounts.roles import Role
from lastmile.dispatch.models import Plan, PlanEvent, PlanStatus, Route, Stop, StopKind
from lastmile.dispatch.selectors import ROUTE_PALETTE, board_data
from lastmile.dispatch.services import plan_request, plan_run
from lastmile.dispatch.services.board import StopMoveRefused, stop_move
from lastmile.orders.models import OrderStatus
from tests.dispatch.checks import check_stored
from tests.dispatch.factories import multi_route_day, stored_plan
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

BOARD = "/dispatch/board/"
DATA = "/dispatch/board/data/"


@pytest.fixture
def dispatcher(client):
    user = StaffFactory(role=Role.DISPATCHER)
    client.force_login(user)
    return user


@pytest.fixture
def ready_plan(tomorrow) -> Plan:
    day = multi_route_day(day=tomorrow)
    plan = plan_run(plan_id=plan_request(hub=day.hub, service_date=tomorrow, actor=None).pk)
    assert plan.status == PlanStatus.READY
    assert plan.routes.count() == 2, "eight-parcel vans and twelve parcels need two routes"
    return plan


def _routes_by_size(plan: Plan) -> tuple[Route, Route]:
    """(the route with more stops, the other one)."""
    routes = sorted(plan.routes.all(), key=lambda r: (-r.stops.count(), r.pk))
    return routes[0], routes[1]


def _snapshot(plan: Plan) -> list[tuple]:
    return list(
        Stop.objects.filter(route__plan=plan)
        .order_by("route_id", "sequence")
        .values_list("pk", "route_id", "sequence", "order_id", "planned_arrival")
    ) + list(
        plan.routes.order_by("pk").values_list(
            "pk", "distance_m", "duration_s", "energy_wh", "load_parcels", "planned_end"
        )
    )


# --- Who may open it --------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get(BOARD)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/dispatch/board/")


def test_anonymous_data_request_is_a_json_401(client):
    response = client.get(DATA)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("role", [None, Role.WORKFORCE_MANAGER])
def test_staff_without_the_dispatcher_role_is_refused(client, role, ready_plan):
    client.force_login(StaffFactory(role=role))

    assert client.get(BOARD).status_code == 403
    assert client.get(DATA, {"hub": ready_plan.hub.code}).status_code == 403
    response = client.post("/dispatch/board/plan/", {"hub": ready_plan.hub.code})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Plan.objects.count() == 1


def test_dispatcher_sees_the_board_with_leaflet_served_locally(client, dispatcher, ready_plan):
    # when
    response = client.get(BOARD, {"hub": ready_plan.hub.code})

    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="board-map"' in body
    assert "/static/leaflet/leaflet" in body
    assert "unpkg.com" not in body
    assert "cdnjs" not in body
    assert "dispatch/js/board.js" in body
    assert 'id="board-config"' in body


def test_board_defaults_to_the_first_hub_and_tomorrow(client, dispatcher, ready_plan, tomorrow):
    response = client.get(BOARD)

    assert response.status_code == 200
    config = response.context["config"]
    assert config["hub"]["code"] == ready_plan.hub.code
    assert config["date"] == tomorrow.isoformat()


def test_a_bad_date_is_a_400_with_its_message(client, dispatcher, ready_plan):
    response = client.get(DATA, {"hub": ready_plan.hub.code, "date": "31.12.2030"})

    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.json()["detail"]


# --- Data -------------------------------------------------------------------------------


def test_data_has_routes_stops_unassigned_and_vehicles_in_compact_arrays(
    client, dispatcher, ready_plan
):
    # when
    response = client.get(DATA, {"hub": ready_plan.hub.code, "date": ready_plan.service_date})

    # then
    assert response.status_code == 200
    data = response.json()
    assert data["plan"]["id"] == ready_plan.pk
    assert data["plan"]["status"] == "ready"
    assert data["plan"]["can_publish"] is True
    assert data["plan"]["can_move"] is True
    assert data["run"] is None
    assert data["fields"]["stop"] == [
        "id",
        "sequence",
        "lat",
        "lng",
        "kind",
        "order_ref",
        "arrival",
        "window",
        "recipient",
        "address",
    ]
    routes = data["routes"]
    assert len(routes) == 2
    assert {r["colour"] for r in routes} <= set(ROUTE_PALETTE)
    assert len({r["colour"] for r in routes}) == 2
    assert sum(r["order_stops"] for r in routes) == 12
    first = routes[0]
    assert first["courier"] is None
    assert first["distance_m"] > 0
    assert first["duration_s"] > 0
    stop = first["stops"][0]
    assert isinstance(stop, list)
    assert len(stop) == 10
    assert stop[1] == 1
    assert stop[4] == "delivery"
    assert stop[5].startswith("ORD-")
    assert stop[8] == "Anna Müller"
    assert "Berlin" in stop[9]
    assert len(data["vehicles"]) == 2
    assert len(data["vehicles"][0]) == 5


def test_unassigned_orders_are_counted_by_reason(tomorrow):
    # given
    plan = stored_plan(day=tomorrow, routes=2, stops=6, unassigned=5)

    # when
    data = board_data(hub=plan.hub, service_date=tomorrow)

    # then
    assert len(data["unassigned"]) == 5
    assert data["unassigned_by_reason"] == [
        ["capacity", "Too big for every vehicle", 3],
        ["window", "Window unreachable", 2],
    ]
    assert data["unassigned"][0][4] in ("capacity", "window")


@pytest.mark.parametrize("stops", [20, 1000])
def test_board_data_costs_a_fixed_number_of_queries(
    client, dispatcher, tomorrow, django_assert_num_queries, stops
):
    # given: 10 routes sharing the stops, 20 unassigned orders, a position per vehicle
    plan = stored_plan(day=tomorrow, routes=10, stops=stops, unassigned=20)
    params = {"hub": plan.hub.code, "date": tomorrow.isoformat()}

    # when / then: the selector reads plans, routes, stops, unassigned, re-plans and positions
    with django_assert_num_queries(6):
        data = board_data(hub=plan.hub, service_date=tomorrow)
    assert sum(len(r["stops"]) for r in data["routes"]) == stops

    # and the endpoint adds session, user, two permission reads and the hub
    with django_assert_num_queries(11):
        response = client.get(DATA, params)
    assert response.status_code == 200
    # each stop carries its recipient and address for the popup (a factory address is ~30 chars)
    assert len(response.content) < 180 * stops + 20_000


# --- Buttons ----------------------------------------------------------------------------


def test_plan_button_requests_a_run_and_reports_its_progress(client, dispatcher, tomorrow):
    # given
    day = multi_route_day(day=tomorrow)

    # when
    response = client.post("/dispatch/board/plan/", {"hub": day.hub.code, "date": tomorrow})

    # then: queued (the task leaves after commit), and the progress endpoint follows it
    assert response.status_code == 202
    body = response.json()["plan"]
    assert body["status"] == "queued"
    assert body["active"] is True
    plan = Plan.objects.get(pk=body["id"])
    assert plan.requested_by == dispatcher
    progress = client.get(f"/dispatch/board/plans/{plan.pk}/progress/").json()["plan"]
    assert progress == {**body, "pct": 0}


@pytest.mark.django_db(transaction=True)
def test_plan_button_with_in_process_tasks_answers_with_the_finished_run(
    client, dispatcher, tomorrow, eager_tasks
):
    # given: no test transaction around the request, so the task runs when it commits
    day = multi_route_day(day=tomorrow)

    # when
    response = client.post("/dispatch/board/plan/", {"hub": day.hub.code, "date": tomorrow})

    # then
    body = response.json()["plan"]
    assert body["status"] == "ready"
    assert body["pct"] == 100
    assert body["phase"] == "done"
    assert body["active"] is False


def test_plan_button_on_a_published_day_shows_the_services_refusal(client, dispatcher, ready_plan):
    # given
    client.post(f"/dispatch/board/plans/{ready_plan.pk}/publish/")

    # when
    response = client.post(
        "/dispatch/board/plan/",
        {"hub": ready_plan.hub.code, "date": ready_plan.service_date.isoformat()},
    )

    # then
    assert response.status_code == 409
    assert response.json()["code"] == "plan_published"
    assert "published" in response.json()["detail"]


def test_cancel_button_cancels_a_queued_run(client, dispatcher, tomorrow):
    # given
    day = multi_route_day(day=tomorrow)
    plan = plan_request(hub=day.hub, service_date=tomorrow, actor=None)

    # when
    response = client.post(f"/dispatch/board/plans/{plan.pk}/cancel/")

    # then
    assert response.status_code == 200
    assert response.json()["plan"]["status"] == "cancelled"
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED
    assert plan.events.filter(to_status=PlanStatus.CANCELLED, actor=dispatcher).exists()


def test_cancel_of_a_published_plan_is_a_409_with_the_reason(client, dispatcher, ready_plan):
    client.post(f"/dispatch/board/plans/{ready_plan.pk}/publish/")

    response = client.post(f"/dispatch/board/plans/{ready_plan.pk}/cancel/")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_publish_button_publishes_the_ready_plan(client, dispatcher, ready_plan):
    # when
    response = client.post(f"/dispatch/board/plans/{ready_plan.pk}/publish/")

    # then
    assert response.status_code == 200
    assert response.json()["plan"]["status"] == "published"
    ready_plan.refresh_from_db()
    assert ready_plan.status == PlanStatus.PUBLISHED
    statuses = set(
        Stop.objects.filter(route__plan=ready_plan, kind=StopKind.DELIVERY).values_list(
            "order__status", flat=True
        )
    )
    assert statuses == {OrderStatus.PLANNED}
    data = client.get(DATA, {"hub": ready_plan.hub.code, "date": ready_plan.service_date}).json()
    assert data["plan"]["can_publish"] is False
    assert data["plan"]["can_move"] is False


def test_endpoints_want_post_and_a_known_plan(client, dispatcher, ready_plan):
    assert client.get(f"/dispatch/board/plans/{ready_plan.pk}/publish/").status_code == 405
    missing = client.post("/dispatch/board/plans/999999/publish/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_board_posts_need_the_csrf_token(dispatcher, ready_plan):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(dispatcher)

    response = strict.post(f"/dispatch/board/plans/{ready_plan.pk}/publish/")

    assert response.status_code == 403
    ready_plan.refresh_from_db()
    assert ready_plan.status == PlanStatus.READY


# --- Moving a stop ----------------------------------------------------------------------


def test_moving_a_stop_rebuilds_both_routes_and_their_totals(client, dispatcher, ready_plan):
    # given
    source, target = _routes_by_size(ready_plan)
    moved = source.stops.filter(kind=StopKind.DELIVERY).order_by("sequence").first()
    source_count, target_count = source.stops.count(), target.stops.count()
    target_before = (target.distance_m, target.duration_s, target.load_parcels)

    # when
    response = client.post(f"/dispatch/board/stops/{moved.pk}/move/", {"target": str(target.pk)})

    # then: the order is on the target, both routes numbered 1..n again
    assert response.status_code == 200, response.content
    source.refresh_from_db()
    target.refresh_from_db()
    assert target.stops.filter(order_id=moved.order_id).exists()
    assert not source.stops.filter(order_id=moved.order_id).exists()
    for route, count in ((source, source_count - 1), (target, target_count + 1)):
        assert list(route.stops.values_list("sequence", flat=True)) == list(range(1, count + 1))
        arrivals = list(route.stops.values_list("planned_arrival", flat=True))
        assert arrivals == sorted(arrivals)
    # totals follow: one more parcel and one more stop's service time on the target
    assert target.load_parcels == target_before[2] + 1
    assert target.duration_s > target_before[1]
    assert (target.distance_m, target.duration_s) != target_before[:2]
    assert response.json()["to_route"]["duration_s"] == target.duration_s
    ready_plan.refresh_from_db()
    assert ready_plan.distance_m == source.distance_m + target.distance_m
    event = ready_plan.events.get(kind=PlanEvent.Kind.STOP_MOVED)
    assert event.actor == dispatcher
    assert event.payload["to_route"] == target.pk
    assert event.payload["after"]["to"]["distance_m"] == target.distance_m
    # and the stored plan passes the independent checker
    report = check_stored(ready_plan)
    assert report.feasible, report.violations


@pytest.mark.parametrize("blocker", ["skill", "capacity"])
def test_a_move_the_target_cannot_take_is_refused_and_changes_nothing(
    client, dispatcher, ready_plan, blocker
):
    # given: the target lacks the order's skill, or is already full
    source, target = _routes_by_size(ready_plan)
    moved = source.stops.filter(kind=StopKind.DELIVERY).select_related("order").first()
    if blocker == "skill":
        source.vehicle.skills = ["cold_chain"]
        source.vehicle.save(update_fields=["skills"])
        moved.order.required_skills = ["cold_chain"]
        moved.order.save(update_fields=["required_skills"])
    else:
        vehicle_type = target.vehicle.vehicle_type
        vehicle_type.capacity_parcels = target.load_parcels
        vehicle_type.save(update_fields=["capacity_parcels"])
    before = _snapshot(ready_plan)

    # when
    response = client.post(f"/dispatch/board/stops/{moved.pk}/move/", {"target": target.pk})

    # then
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stop_move_refused"
    assert target.vehicle.code in body["detail"]
    assert moved.order.external_reference in body["detail"]
    assert _snapshot(ready_plan) == before
    assert not ready_plan.events.filter(kind=PlanEvent.Kind.STOP_MOVED).exists()


def test_a_published_plan_refuses_moves(client, dispatcher, ready_plan):
    # given
    source, target = _routes_by_size(ready_plan)
    moved = source.stops.filter(kind=StopKind.DELIVERY).first()
    client.post(f"/dispatch/board/plans/{ready_plan.pk}/publish/")
    before = _snapshot(ready_plan)

    # when
    response = client.post(f"/dispatch/board/stops/{moved.pk}/move/", {"target": target.pk})

    # then
    assert response.status_code == 409
    assert response.json()["code"] == "plan_not_ready"
    assert _snapshot(ready_plan) == before


def test_a_move_needs_a_target_route_of_the_same_plan(client, dispatcher, ready_plan, tomorrow):
    source, _target = _routes_by_size(ready_plan)
    moved = source.stops.filter(kind=StopKind.DELIVERY).first()
    other = stored_plan(day=tomorrow, routes=1, stops=2, unassigned=0).routes.get()

    assert client.post(f"/dispatch/board/stops/{moved.pk}/move/").status_code == 400
    same = client.post(f"/dispatch/board/stops/{moved.pk}/move/", {"target": source.pk})
    assert same.status_code == 400
    assert "already on that route" in same.json()["detail"]
    foreign = client.post(f"/dispatch/board/stops/{moved.pk}/move/", {"target": other.pk})
    assert foreign.status_code == 400


def test_the_last_stop_of_a_route_cannot_be_moved_away(dispatcher, tomorrow):
    # given: two routes, the second with a single stop
    plan = stored_plan(day=tomorrow, routes=2, stops=3, unassigned=0)
    first, second = plan.routes.order_by("colour_index")
    last = second.stops.get()

    # when / then: refused before the engine is asked
    with pytest.raises(StopMoveRefused, match="last stop"):
        stop_move(stop=last, target=first, actor=dispatcher)
    assert second.stops.get() == last
