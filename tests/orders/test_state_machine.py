"""Every (state, move) pair of the order state machine, through the real services."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from lastmile.core.errors import InvalidTransition
from lastmile.orders import services
from lastmile.orders.models import ORDER_TRANSITIONS, DeliveryOption, OrderEvent, OrderStatus
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db

S = OrderStatus


def _future_window():
    start = timezone.now() + dt.timedelta(days=2)
    return start, start + dt.timedelta(hours=2)


# The one service that moves an order to each state.
MOVES = {
    S.PLANNED: lambda o: services.order_plan(order=o, source="test"),
    S.CREATED: lambda o: services.order_unplan(order=o, reason="plan withdrawn", source="test"),
    S.OUT_FOR_DELIVERY: lambda o: services.order_start_delivery(order=o, source="test"),
    S.DELIVERED: lambda o: services.order_deliver(
        order=o, recipient_name="A. Müller", source="test"
    ),
    S.FAILED: lambda o: services.order_fail(order=o, reason="recipient_absent", source="test"),
    S.RESCHEDULED: lambda o: services.order_reschedule(
        order=o, window_start=_future_window()[0], window_end=_future_window()[1], source="test"
    ),
    S.REDIRECTED: lambda o: services.order_redirect(
        order=o, option=DeliveryOption.LOCKER, destination="Locker Oranienplatz", source="test"
    ),
    S.RETURNING: lambda o: services.order_start_return(
        order=o, reason="refused twice", source="test"
    ),
    S.RETURNED_TO_SENDER: lambda o: services.order_mark_returned(order=o, source="test"),
    S.CANCELLED: lambda o: services.order_cancel(
        order=o, reason="customer cancelled", source="test"
    ),
}
# Rescheduling a created or planned order changes its window rather than moving it to
# "rescheduled"; those two pairs are tested on their own below.
WINDOW_CHANGES = {(S.CREATED, S.RESCHEDULED), (S.PLANNED, S.RESCHEDULED)}
PAIRS = [
    (current, target)
    for current, target in itertools.product(S.values, S.values)
    if current != target and (current, target) not in WINDOW_CHANGES
]


def test_every_state_has_a_row_in_the_table_and_a_service():
    assert set(ORDER_TRANSITIONS) == set(S.values)
    assert set(MOVES) == set(S.values)


@pytest.mark.parametrize(("current", "target"), PAIRS)
def test_move(current, target):
    # given
    order = OrderFactory(status=current)
    allowed = target in ORDER_TRANSITIONS[current]

    # when / then
    if allowed:
        MOVES[target](order)
        order.refresh_from_db()
        assert order.status == target
        events = list(order.events.filter(kind=OrderEvent.Kind.STATUS_CHANGED))
        assert [(e.from_status, e.to_status) for e in events] == [(current, target)]
        assert order.status_changed_at is not None
    else:
        with pytest.raises(InvalidTransition):
            MOVES[target](order)
        order.refresh_from_db()
        assert order.status == current
        assert not order.events.exists()


@pytest.mark.parametrize("state", [S.CREATED, S.PLANNED, S.OUT_FOR_DELIVERY, S.CANCELLED])
def test_repeating_the_current_state_is_a_no_op(state):
    order = OrderFactory(status=state)

    MOVES[state](order)

    order.refresh_from_db()
    assert order.status == state
    assert not order.events.exists()


def test_rescheduling_a_created_order_changes_its_window_only():
    order = OrderFactory(status=S.CREATED)

    MOVES[S.RESCHEDULED](order)

    order.refresh_from_db()
    assert order.status == S.CREATED
    assert [e.kind for e in order.events.all()] == [OrderEvent.Kind.WINDOW_CHANGED]


def test_rescheduling_a_planned_order_takes_it_off_the_plan():
    order = OrderFactory(status=S.PLANNED)

    MOVES[S.RESCHEDULED](order)

    order.refresh_from_db()
    assert order.status == S.CREATED
    assert [(e.kind, e.to_status) for e in order.events.all()] == [
        (OrderEvent.Kind.STATUS_CHANGED, S.CREATED),
        (OrderEvent.Kind.WINDOW_CHANGED, ""),
    ]
