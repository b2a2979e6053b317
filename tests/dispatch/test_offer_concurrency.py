"""Route offers under concurrency, on PostgreSQL with real threads: one winner, a clear 409.

Each thread has its own database connection; a barrier starts them together. Two tests
first take away the database constraint that already forbids their starting point (two live
offers of one route, two open offers of one courier), to show that acceptance alone, on its
locked rows, still gives one winner.
"""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lastmile.dispatch.models import OfferStatus, PlanEvent, Route, RouteOffer, RouteStatus
from lastmile.dispatch.services import eligibility, plan_publish, staffing
from lastmile.dispatch.services import offers as offers_module
from lastmile.dispatch.tasks import expire_offers_task
from tests.dispatch.factories import multi_route_day
from tests.dispatch.test_publishing import driver, ready_plan
from tests.races import race
from workforce.models import AvailabilitySlot, CourierKind

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _signed_in(courier) -> Client:
    client = Client()
    client.force_login(courier.user)
    return client


def _accept(client: Client, offer: RouteOffer):
    """The portal's accept button."""
    return lambda: client.post(reverse("dispatch_portal:offer_accept", args=[offer.pk]))


def _offer(route, courier) -> RouteOffer:
    return RouteOffer.objects.create(
        route=route, courier=courier, expires_at=timezone.now() + dt.timedelta(minutes=15)
    )


@pytest.fixture
def without_constraint(request, transactional_db):
    """Drop the named ``RouteOffer`` constraint for one test; it is restored afterwards."""
    constraint = next(c for c in RouteOffer._meta.constraints if c.name == request.param)
    with connection.schema_editor() as editor:
        editor.remove_constraint(RouteOffer, constraint)
    yield
    RouteOffer.objects.all().delete()  # rows the constraint would refuse
    with connection.schema_editor() as editor:
        editor.add_constraint(RouteOffer, constraint)


def _two_routes_nobody_was_offered(day):
    hub = multi_route_day(day=day).hub
    plan = plan_publish(plan=ready_plan(hub, day), actor=None)
    routes = list(Route.objects.filter(plan=plan).order_by("pk"))
    assert len(routes) == 2
    return hub, plan, routes


@pytest.mark.parametrize("without_constraint", ["dispatch_offer_one_live_per_route"], indirect=True)
def test_two_couriers_accepting_one_route_at_once_give_it_to_one(without_constraint, tomorrow):
    # given: both couriers hold an open offer of the same route
    hub, _, (route, _) = _two_routes_nobody_was_offered(tomorrow)
    ada = driver(hub, tomorrow, kind=CourierKind.CROWD)
    ben = driver(hub, tomorrow, kind=CourierKind.CROWD)
    offers = [_offer(route, ada), _offer(route, ben)]
    clients = [_signed_in(ada), _signed_in(ben)]
    # when
    results = race(_accept(clients[0], offers[0]), _accept(clients[1], offers[1]))
    # then: one took it, the other got a 409 saying it is taken
    statuses = sorted(r.status_code for r in results)
    assert statuses == [302, 409], results
    loser = next(r for r in results if r.status_code == 409)
    assert b'data-code="route_taken"' in loser.content
    route.refresh_from_db()
    assert route.status == RouteStatus.DISPATCHED
    assert route.courier_id in {ada.pk, ben.pk}
    accepted = RouteOffer.objects.filter(route=route, status=OfferStatus.ACCEPTED)
    assert [o.courier_id for o in accepted] == [route.courier_id]
    assert PlanEvent.objects.filter(kind=PlanEvent.Kind.ROUTE_DISPATCHED).count() == 1


@pytest.mark.parametrize(
    "without_constraint", ["dispatch_offer_one_open_per_courier"], indirect=True
)
def test_one_courier_accepting_two_offers_at_once_gets_one_route(without_constraint, tomorrow):
    # given: one courier holds open offers of both routes of the day; their app taps both
    hub, _, routes = _two_routes_nobody_was_offered(tomorrow)
    ada = driver(hub, tomorrow, kind=CourierKind.CROWD)
    offers = [_offer(route, ada) for route in routes]
    clients = [_signed_in(ada), _signed_in(ada)]

    def accept_through_api(client, offer):
        return lambda: client.post(reverse("api:driver:offer-accept", args=[offer.pk]))

    # when
    results = race(
        accept_through_api(clients[0], offers[0]), accept_through_api(clients[1], offers[1])
    )
    # then: one route is theirs, the other answer is a 409 problem: busy that day
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409], results
    loser = next(r for r in results if r.status_code == 409)
    assert loser["Content-Type"] == "application/problem+json"
    assert loser.json()["code"] == "courier_busy"
    assert Route.objects.filter(courier=ada).count() == 1
    assert RouteOffer.objects.filter(courier=ada, status=OfferStatus.ACCEPTED).count() == 1


def test_an_expiry_sweep_and_a_decline_at_once_never_give_one_courier_two_open_offers(
    monkeypatch, tomorrow
):
    # given: two hubs' days, each with a route on offer to someone (Ada's offer has expired,
    # Ben is about to decline), and Cleo, free at both, the next courier for both routes
    later = tomorrow + dt.timedelta(days=1)
    hub_a, plan_a, _ = _two_routes_nobody_was_offered(tomorrow)
    hub_b, plan_b, _ = _two_routes_nobody_was_offered(later)
    ada = driver(hub_a, tomorrow, kind=CourierKind.CROWD)
    ben = driver(hub_b, later, kind=CourierKind.CROWD)
    expired = _offer(Route.objects.filter(plan=plan_a).first(), ada)
    RouteOffer.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    declined = _offer(Route.objects.filter(plan=plan_b).first(), ben)
    cleo = driver(hub_a, tomorrow, kind=CourierKind.CROWD)
    AvailabilitySlot.objects.create(
        courier=cleo, hub=hub_b, day=later, starts_at=dt.time(6), ends_at=dt.time(21)
    )
    # Both transactions look for candidates only once both have read who is busy: the
    # widest window for the race, made the same on every run.
    both_looked = threading.Barrier(2)
    find_candidates = offers_module.courier_availability_for

    def candidates_after_both_looked(**kwargs):
        both_looked.wait(timeout=20)
        return find_candidates(**kwargs)

    monkeypatch.setattr(offers_module, "courier_availability_for", candidates_after_both_looked)
    ben_client = _signed_in(ben)
    # when: the minute's sweep and Ben's decline run at the same moment
    results = race(
        lambda: expire_offers_task.apply().get(),
        lambda: ben_client.post(reverse("dispatch_portal:offer_decline", args=[declined.pk])),
    )
    # then: both went through, and Cleo has at most one open offer
    assert results[0] == 1, results
    assert results[1].status_code == 302, results
    assert RouteOffer.objects.get(pk=expired.pk).status == OfferStatus.EXPIRED
    assert RouteOffer.objects.get(pk=declined.pk).status == OfferStatus.DECLINED
    assert RouteOffer.objects.filter(courier=cleo, status=OfferStatus.OPEN).count() == 1


def test_two_hubs_published_at_once_share_an_employee_without_failing_either(tomorrow, monkeypatch):
    # given: two hubs with one van route each; employee E is free at both, each hub also
    # has an employee of its own; each publish waits for the other once it has read who
    # is busy, so both see E free
    both_read = threading.Barrier(2)

    def busy_then_wait(*, day):
        busy = eligibility.couriers_busy(day=day)
        both_read.wait(timeout=30)
        return busy

    monkeypatch.setattr(staffing, "couriers_busy", busy_then_wait)
    first = multi_route_day(day=tomorrow, vans=1, orders=6).hub
    second = multi_route_day(day=tomorrow, vans=1, orders=6).hub
    shared = driver(first, tomorrow)
    AvailabilitySlot.objects.create(
        courier=shared, hub=second, day=tomorrow, starts_at=dt.time(5), ends_at=dt.time(21)
    )
    own = {first.pk: driver(first, tomorrow), second.pk: driver(second, tomorrow)}
    plans = [ready_plan(first, tomorrow), ready_plan(second, tomorrow)]
    # when: both are published at the same moment
    results = race(*(lambda plan=plan: plan_publish(plan=plan, actor=None) for plan in plans))
    # then: both published; E drives one route, the other hub's own employee the other
    assert not [r for r in results if isinstance(r, Exception)], results
    routes = {r.plan.hub_id: r for r in Route.objects.filter(plan__in=plans).select_related("plan")}
    assert Route.objects.filter(courier=shared).count() == 1
    for hub_id, route in routes.items():
        assert route.status == RouteStatus.DISPATCHED
        assert route.courier_id in {shared.pk, own[hub_id].pk}
