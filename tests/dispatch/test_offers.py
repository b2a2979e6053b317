"""Routes without a driver are offered to crowd couriers one at a time, taken exactly once."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from fleet.models import VehicleKind
from lastmile.core.errors import Conflict, NotFound
from lastmile.core.skills import Skill
from lastmile.dispatch.errors import CourierBusy, CourierNotActive, CourierUnfit
from lastmile.dispatch.models import (
    OfferStatus,
    PlanEvent,
    Route,
    RouteOffer,
    RouteStatus,
    Stop,
)
from lastmile.dispatch.selectors import offers_with_pay_for
from lastmile.dispatch.services import (
    plan_publish,
    route_dispatch,
    route_offer_accept,
    route_offer_decline,
    route_offers_expire,
    route_start,
    stop_complete,
    stop_deliver,
)
from lastmile.dispatch.tasks import expire_offers_task
from lastmile.orders.models import Order
from tests.api_schema import assert_code_documented
from tests.dispatch.conftest import at
from tests.dispatch.factories import multi_route_day
from tests.dispatch.test_publishing import driver, ready_plan
from tests.factories import UserFactory
from tests.orders.factories import OrderFactory
from tests.workforce.factories import PayRuleFactory
from workforce.models import (
    AvailabilitySlot,
    Courier,
    CourierKind,
    CourierStatus,
    EarningEntry,
    EarningKind,
    PeakWindow,
)
from workforce.models import Vehicle as CourierVehicle
from workforce.services import courier_suspend, shift_complete, shift_schedule, shift_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(small_day, tomorrow):
    """A published plan whose routes have no employee driver; two crowd couriers available."""
    hub, _, _ = small_day
    first = driver(hub, tomorrow, kind=CourierKind.CROWD)
    second = driver(hub, tomorrow, kind=CourierKind.CROWD)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    return plan, first, second


def test_publishing_offers_each_route_without_a_driver_to_one_crowd_courier(published):
    plan, first, second = published
    routes = Route.objects.filter(plan=plan).exclude(stops=None).distinct()

    offers = RouteOffer.objects.filter(route__plan=plan, status=OfferStatus.OPEN)

    # two couriers, so at most two routes are on offer, each to a different courier
    assert offers.count() == min(2, routes.count())
    assert len({o.courier_id for o in offers}) == offers.count()
    assert {o.courier_id for o in offers} <= {first.pk, second.pk}


def test_accepting_dispatches_the_route_to_the_courier_and_a_retry_changes_nothing(published):
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first, status=OfferStatus.OPEN)

    route_offer_accept(offer_id=offer.pk, courier=first)
    route_offer_accept(offer_id=offer.pk, courier=first)

    route = Route.objects.get(pk=offer.route_id)
    assert (route.status, route.courier_id) == (RouteStatus.DISPATCHED, first.pk)
    assert PlanEvent.objects.filter(plan=plan, kind=PlanEvent.Kind.ROUTE_DISPATCHED).count() == 1


def test_another_courier_cannot_answer_an_offer_that_is_not_theirs(published):
    plan, first, second = published
    offer = RouteOffer.objects.filter(route__plan=plan, courier=first).get()

    with pytest.raises(NotFound):
        route_offer_accept(offer_id=offer.pk, courier=second)
    with pytest.raises(NotFound):
        route_offer_decline(offer_id=offer.pk, courier=second)


def test_declining_passes_the_route_to_the_next_courier_who_was_not_asked(small_day, tomorrow):
    # given: one route's worth of couriers: the first declines, a third is free
    hub, _, _ = small_day
    couriers = [driver(hub, tomorrow, kind=CourierKind.CROWD) for _ in range(4)]
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    offer = RouteOffer.objects.filter(route__plan=plan, status=OfferStatus.OPEN).first()
    asker = next(c for c in couriers if c.pk == offer.courier_id)
    # when
    route_offer_decline(offer_id=offer.pk, courier=asker)
    # then
    nxt = RouteOffer.objects.get(route=offer.route, status=OfferStatus.OPEN)
    assert nxt.courier_id != asker.pk
    assert RouteOffer.objects.get(pk=offer.pk).status == OfferStatus.DECLINED


def test_an_expired_offer_cannot_be_accepted_and_the_sweep_moves_it_on(published, eager_tasks):
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    RouteOffer.objects.filter(pk=offer.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )

    with pytest.raises(Conflict, match="expired"):
        route_offer_accept(offer_id=offer.pk, courier=first)
    swept = expire_offers_task.delay().get()

    assert swept == 1
    assert RouteOffer.objects.get(pk=offer.pk).status == OfferStatus.EXPIRED
    assert route_offers_expire() == 0  # nothing left to expire: running it again does nothing


def test_when_nobody_is_left_the_dispatcher_is_told(small_day, tomorrow):
    hub, _, _ = small_day
    only = driver(hub, tomorrow, kind=CourierKind.CROWD)
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    offer = RouteOffer.objects.get(route__plan=plan, courier=only)

    route_offer_decline(offer_id=offer.pk, courier=only)

    assert PlanEvent.objects.filter(plan=plan, kind=PlanEvent.Kind.NO_COURIER).exists()
    assert not RouteOffer.objects.filter(route=offer.route, status=OfferStatus.OPEN).exists()


def test_the_courier_sees_and_accepts_an_offer_in_the_portal(client, published):
    # given
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    client.force_login(first.user)
    # when
    page = client.get(reverse("dispatch_portal:offers"))
    done = client.post(reverse("dispatch_portal:offer_accept", args=[offer.pk]), follow=True)
    # then
    assert page.status_code == 200
    assert reverse("dispatch_portal:offer_accept", args=[offer.pk]).encode() in page.content
    assert b"The route is yours" in done.content
    assert Route.objects.get(pk=offer.route_id).courier_id == first.pk


def test_the_portal_hides_other_couriers_offers_and_anonymous_visitors_sign_in(client, published):
    plan, first, second = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    url = reverse("dispatch_portal:offer_accept", args=[offer.pk])

    anonymous = client.post(url)
    client.force_login(second.user)
    other = client.post(url)

    assert anonymous.status_code == 302
    assert "/courier/login/" in anonymous["Location"]
    assert other.status_code == 404
    assert Route.objects.get(pk=offer.route_id).courier_id is None


def test_the_offers_page_links_the_courier_to_the_routes_they_took(client, published):
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    route_offer_accept(offer_id=offer.pk, courier=first)
    client.force_login(first.user)

    page = client.get(reverse("dispatch_portal:offers"))

    assert reverse("dispatch_portal:route", args=[offer.route_id]).encode() in page.content


def _pay_rule(hub, day, *, peak_from: dt.time):
    """2.50 per stop, 0.30 per km, 12.00 per hour; from ``peak_from`` that day all ×1.5."""
    rule = PayRuleFactory(
        hub=hub,
        courier_kind=CourierKind.CROWD,
        per_stop_minor=250,
        per_km_minor=30,
        per_hour_minor=1200,
        min_guarantee_per_shift_minor=0,
    )
    PeakWindow.objects.create(
        rule=rule,
        weekday=day.weekday(),
        starts_at=peak_from,
        ends_at=dt.time(23, 59),
        multiplier_pct=150,
    )
    return rule


def _eur(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d} EUR"


def test_an_offer_shows_the_routes_size_and_what_the_courier_would_earn(client, published):
    # given: the courier's pay rule, a peak (×1.5) all day
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    route = offer.route
    _pay_rule(plan.hub, plan.service_date, peak_from=dt.time(0))
    stops = route.stops.filter(order__isnull=False).count()
    span_s = int((route.planned_end - route.planned_start).total_seconds())
    stops_pay = stops * 375
    hours_pay = (1800 * span_s + 1800) // 3600  # 18.00 an hour, to the nearest cent
    distance_pay = (30 * route.distance_m + 500) // 1000
    client.force_login(first.user)

    # when
    html = client.get(reverse("dispatch_portal:offers")).content.decode()

    # then: the estimate leads the card, then the route's hours, stops and km
    card = html[html.index(f'id="offer-{offer.pk}"') :]
    assert f"<strong>{_eur(stops_pay + hours_pay + distance_pay)}</strong>" in card
    assert f'<td class="num">{_eur(stops_pay)}</td>' in card
    assert f'<td class="num">{_eur(hours_pay)}</td>' in card
    assert f'<td class="num">{_eur(distance_pay)}</td>' in card
    assert f"<dd>{stops}</dd>" in card
    assert f"<dd>{route.distance_m / 1000:.1f} km</dd>" in card
    minutes = round(span_s / 60)
    assert f"<dd>{minutes // 60}:{minutes % 60:02d} h</dd>" in card


def test_the_ledger_pays_what_the_offer_promised(published):
    # given: the offer as the courier saw it, under a rule whose peak starts mid-route
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    _pay_rule(plan.hub, plan.service_date, peak_from=dt.time(10, 30))
    (promised,) = offers_with_pay_for(courier=first)

    # when: the courier takes the route, serves every stop at its planned time, and the hub
    # records the route's time and distance as their shift
    route_offer_accept(offer_id=offer.pk, courier=first)
    route = Route.objects.get(pk=offer.route_id)
    route_start(route=route, courier=first, at=route.planned_start)
    for stop in Stop.objects.filter(route=route).order_by("sequence"):
        if stop.order_id is None:
            stop_complete(stop=stop, courier=first, at=stop.planned_arrival)
        else:
            stop_deliver(stop=stop, courier=first, recipient_name="Ann", at=stop.planned_arrival)
    shift = shift_schedule(
        courier=first,
        hub=plan.hub,
        planned_start=route.planned_start,
        planned_end=route.planned_end,
    )
    shift_start(shift=shift, at=route.planned_start)
    shift_complete(shift=shift, at=route.planned_end, distance_m=route.distance_m)

    # then: line for line, the ledger holds what the offer said
    def paid(kind):
        return sum(
            EarningEntry.objects.filter(courier=first, kind=kind).values_list(
                "amount_minor", flat=True
            )
        )

    assert EarningEntry.objects.filter(courier=first, kind=EarningKind.STOP).count() == (
        promised.stop_count
    )
    assert paid(EarningKind.STOP) == promised.pay.stops_minor
    assert paid(EarningKind.HOURS) == promised.pay.hours_minor
    assert paid(EarningKind.DISTANCE) == promised.pay.distance_minor
    assert promised.pay.total_minor == sum(
        EarningEntry.objects.filter(courier=first).values_list("amount_minor", flat=True)
    )


def test_an_offer_without_a_pay_rule_says_so(client, published):
    _plan, first, _ = published
    client.force_login(first.user)

    page = client.get(reverse("dispatch_portal:offers"))

    assert page.status_code == 200
    assert b"No pay rule is set for this day yet" in page.content


# --- One route per courier and day, one open offer per courier, acceptance re-checked -------


def _two_routes_nobody_was_offered(day):
    """A published two-van day whose routes nobody was offered (nobody free yet): its hub and
    its two routes."""
    hub = multi_route_day(day=day).hub
    plan = plan_publish(plan=ready_plan(hub, day), actor=None)
    routes = list(Route.objects.filter(plan=plan).order_by("pk"))
    assert len(routes) == 2
    assert not RouteOffer.objects.filter(route__plan=plan).exists()
    return hub, routes


def _offer(route, courier):
    """A plain open offer row, as ``route_offer_next`` writes them."""
    return RouteOffer.objects.create(
        route=route, courier=courier, expires_at=timezone.now() + dt.timedelta(minutes=15)
    )


def test_a_courier_is_never_offered_a_second_route_while_one_offer_is_open(small_day, tomorrow):
    # given: routes at the hub tomorrow and the day after, one crowd courier free both days
    hub, _, _ = small_day
    later = tomorrow + dt.timedelta(days=1)
    for n in range(4):
        OrderFactory(hub=hub, window_start=at(hub, later, 9 + n), window_end=at(hub, later, 13 + n))
    courier = driver(hub, tomorrow, kind=CourierKind.CROWD)
    AvailabilitySlot.objects.create(
        courier=courier, hub=hub, day=later, starts_at=dt.time(6), ends_at=dt.time(21)
    )
    # when: both days are published
    plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    plan_publish(plan=ready_plan(hub, later), actor=None)
    # then: one open offer, the other day's routes went unanswered to the dispatcher
    assert RouteOffer.objects.filter(courier=courier, status=OfferStatus.OPEN).count() == 1


def test_the_database_refuses_a_second_open_offer_for_one_courier(small_day, tomorrow):
    hub, routes = _two_routes_nobody_was_offered(tomorrow)
    courier = driver(hub, tomorrow, kind=CourierKind.CROWD)
    _offer(routes[0], courier)

    with pytest.raises(IntegrityError), transaction.atomic():
        _offer(routes[1], courier)


def test_the_database_refuses_a_second_active_route_for_a_courier_on_one_day(tomorrow):
    # given: a courier driving one route of the day
    hub, (first, second) = _two_routes_nobody_was_offered(tomorrow)
    courier = driver(hub, tomorrow, kind=CourierKind.CROWD)
    route_dispatch(route=first, courier_id=courier.pk, actor=None)
    # when / then: a raw write of a second route of the day fails on the constraint
    with pytest.raises(IntegrityError), transaction.atomic():
        Route.objects.filter(pk=second.pk).update(
            courier=courier, service_date=tomorrow, status=RouteStatus.DISPATCHED
        )
    # and the service says so in words
    with pytest.raises(CourierBusy):
        route_dispatch(route=second, courier_id=courier.pk, actor=None)
    assert Route.objects.get(pk=second.pk).courier_id is None


def test_accepting_is_refused_to_a_courier_who_already_has_a_route_that_day(
    client, small_day, tomorrow
):
    # given: the courier took one route of the day; an offer of a second one reached them
    hub, routes = _two_routes_nobody_was_offered(tomorrow)
    courier = driver(hub, tomorrow, kind=CourierKind.CROWD)
    route_offer_accept(offer_id=_offer(routes[0], courier).pk, courier=courier)
    second = _offer(routes[1], courier)
    client.force_login(courier.user)
    # when
    answer = client.post(reverse("dispatch_portal:offer_accept", args=[second.pk]))
    # then: 409 with the reason on the page, and the second route is still free
    assert answer.status_code == 409
    assert b'data-code="courier_busy"' in answer.content
    assert b"You already have a route on" in answer.content
    assert Route.objects.get(pk=routes[1].pk).courier_id is None
    assert RouteOffer.objects.get(pk=second.pk).status == OfferStatus.OPEN


def test_accepting_is_refused_to_a_courier_without_the_skill_the_route_needs(small_day, tomorrow):
    # given: the route carries a chilled order; the courier has no cold chain box
    hub, routes = _two_routes_nobody_was_offered(tomorrow)
    stop = Stop.objects.filter(route=routes[0], order__isnull=False).first()
    Order.objects.filter(pk=stop.order_id).update(required_skills=[Skill.COLD_CHAIN])
    courier = driver(hub, tomorrow, kind=CourierKind.CROWD)
    offer = _offer(routes[0], courier)
    # when / then
    with pytest.raises(CourierUnfit, match="cold chain"):
        route_offer_accept(offer_id=offer.pk, courier=courier)
    assert Route.objects.get(pk=routes[0].pk).courier_id is None


def test_a_courier_without_a_driving_licence_is_neither_offered_nor_given_a_van(tomorrow):
    # given: two van routes; a crowd courier on their own bicycle (no licence on file)
    hub = multi_route_day(day=tomorrow).hub
    rider = driver(hub, tomorrow, kind=CourierKind.CROWD)
    Courier.objects.filter(pk=rider.pk).update(vehicle=CourierVehicle.BIKE)
    # when
    plan = plan_publish(plan=ready_plan(hub, tomorrow), actor=None)
    # then: no van was offered to them, and one offered by hand cannot be accepted
    van = Route.objects.filter(plan=plan).first()
    assert van.vehicle.vehicle_type.kind == VehicleKind.E_VAN
    assert not RouteOffer.objects.filter(courier=rider).exists()
    with pytest.raises(CourierUnfit, match="driving licence"):
        route_offer_accept(offer_id=_offer(van, rider).pk, courier=rider)


def test_an_offer_no_longer_open_is_refused_with_409_and_the_reason(client, published):
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first)
    route_offer_decline(offer_id=offer.pk, courier=first)
    client.force_login(first.user)

    answer = client.post(reverse("dispatch_portal:offer_accept", args=[offer.pk]))

    assert answer.status_code == 409
    assert b'data-code="offer_closed"' in answer.content
    assert b"no longer open" in answer.content


# --- Suspension withdraws open offers -----------------------------------------------------------


def test_suspending_a_courier_withdraws_their_offer_and_offers_the_route_to_the_next(
    published, eager_tasks, django_capture_on_commit_callbacks
):
    # given: the first courier holds an open offer; a third courier is free all day
    plan, first, second = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first, status=OfferStatus.OPEN)
    third = driver(plan.hub, plan.service_date, kind=CourierKind.CROWD)
    manager = UserFactory()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        courier_suspend(courier=first, actor=manager, reason="Complaint under review")
    # then: withdrawn with an event, and the route is on offer to someone else
    assert RouteOffer.objects.get(pk=offer.pk).status == OfferStatus.WITHDRAWN
    event = PlanEvent.objects.get(plan=plan, kind=PlanEvent.Kind.OFFER_WITHDRAWN)
    assert event.payload == {
        "route": offer.route_id,
        "courier": first.pk,
        "courier_status": CourierStatus.SUSPENDED,
    }
    nxt = RouteOffer.objects.get(route=offer.route, status=OfferStatus.OPEN)
    assert nxt.courier_id in {second.pk, third.pk} - {first.pk}
    assert not RouteOffer.objects.filter(courier=first, status=OfferStatus.OPEN).exists()


def test_the_offer_sweep_withdraws_offers_a_lost_withdrawal_left_open(
    published, eager_tasks, django_capture_on_commit_callbacks
):
    # given: the courier was suspended but the withdrawal never ran (broker down)
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first, status=OfferStatus.OPEN)
    with django_capture_on_commit_callbacks(execute=False):
        courier_suspend(courier=first, actor=None, reason="Expired licence")
    assert RouteOffer.objects.get(pk=offer.pk).status == OfferStatus.OPEN
    # when: the minute's sweep runs
    closed = expire_offers_task.delay().get()
    # then
    assert closed == 1
    assert RouteOffer.objects.get(pk=offer.pk).status == OfferStatus.WITHDRAWN


def test_a_suspended_courier_cannot_accept_an_offer_left_open(published):
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first, status=OfferStatus.OPEN)
    Courier.objects.filter(pk=first.pk).update(status=CourierStatus.SUSPENDED)

    with pytest.raises(CourierNotActive):
        route_offer_accept(offer_id=offer.pk, courier=first)
    assert Route.objects.get(pk=offer.route_id).courier_id is None


# --- The driver API ---------------------------------------------------------------------------


def test_a_courier_sees_and_takes_an_offer_through_the_driver_api(client, published):
    # given
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first, status=OfferStatus.OPEN)
    client.force_login(first.user)
    # when
    listed = client.get(reverse("api:driver:offer-list"))
    taken = client.post(reverse("api:driver:offer-accept", args=[offer.pk]))
    # then
    assert listed.status_code == 200
    assert [o["id"] for o in listed.json()] == [offer.pk]
    assert taken.status_code == 200
    assert taken.json()["status"] == OfferStatus.ACCEPTED
    assert Route.objects.get(pk=offer.route_id).courier_id == first.pk


def test_the_driver_api_refuses_an_offer_no_longer_open_with_a_409_problem(client, published):
    # given: the courier declined, then taps accept
    plan, first, _ = published
    offer = RouteOffer.objects.get(route__plan=plan, courier=first, status=OfferStatus.OPEN)
    client.force_login(first.user)
    client.post(reverse("api:driver:offer-decline", args=[offer.pk]))
    # when
    answer = client.post(reverse("api:driver:offer-accept", args=[offer.pk]))
    # then
    assert answer.status_code == 409
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "offer_closed"
    assert_code_documented(answer)
    assert Route.objects.get(pk=offer.route_id).courier_id is None
