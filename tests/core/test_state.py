import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lastmile.core.errors import InvalidTransition
from lastmile.core.state import Moved, check_transition, transition, validate_table
from lastmile.orders.models import ORDER_TRANSITIONS, Order, OrderStatus
from tests.orders.factories import OrderFactory

TABLE = {"draft": {"submitted"}, "submitted": {"approved", "rejected"}}


def test_allowed_move_passes():
    assert (
        check_transition(TABLE, entity="Application", current="draft", target="submitted") is True
    )


def test_repeating_the_current_state_is_a_no_op():
    assert (
        check_transition(TABLE, entity="Application", current="submitted", target="submitted")
        is False
    )


def test_illegal_move_raises_with_both_states():
    with pytest.raises(InvalidTransition) as excinfo:
        check_transition(TABLE, entity="Application", current="draft", target="approved")

    assert excinfo.value.status == 409
    assert excinfo.value.extra == {"entity": "Application", "from": "draft", "to": "approved"}


def test_a_table_naming_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match="unknown states"):
        validate_table(TABLE, {"draft", "submitted", "approved"})


# --- transition(): the one lock → check → set → event sequence ---------------------------


def _cancel(order: Order, recorded: list, **kwargs) -> Moved[Order]:
    return transition(
        order,
        table=ORDER_TRANSITIONS,
        entity="Order",
        target=OrderStatus.CANCELLED,
        record=lambda row, previous, now: recorded.append((row.pk, previous, now)),
        stamps={OrderStatus.CANCELLED: "cancelled_at"},
        **kwargs,
    )


def _set_columns(queries: CaptureQueriesContext) -> list[set[str]]:
    """The columns each UPDATE of the orders table set."""
    return [
        set(re.findall(r'"(\w+)" = ', q["sql"].split(" WHERE ")[0]))
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "orders_order"')
    ]


@pytest.mark.django_db
def test_transition_moves_stamps_and_records_once():
    # given
    order = OrderFactory()
    recorded: list = []
    changed_at = timezone.now()

    # when
    moved = _cancel(order, recorded, fields={"status_changed_at": changed_at}, now=changed_at)

    # then
    assert (moved.changed, moved.previous) == (True, OrderStatus.CREATED)
    assert recorded == [(order.pk, OrderStatus.CREATED, changed_at)]
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancelled_at == order.status_changed_at == changed_at


@pytest.mark.django_db
def test_transition_saves_only_the_columns_it_moved():
    # given: another column changed in the database after the caller read the row
    order = OrderFactory(recipient_name="Ada")
    Order.objects.filter(pk=order.pk).update(recipient_name="Grace")

    # when
    with CaptureQueriesContext(connection) as queries:
        moved = _cancel(order, [], fields={"status_changed_at": timezone.now()})

    # then: one UPDATE, of the status, its timestamps and updated_at; nothing stale written
    assert _set_columns(queries) == [{"status", "cancelled_at", "status_changed_at", "updated_at"}]
    assert moved.row.recipient_name == "Grace"
    order.refresh_from_db()
    assert order.recipient_name == "Grace"


@pytest.mark.django_db
def test_transition_to_the_current_state_is_a_no_op_without_event():
    # given
    order = OrderFactory()
    _cancel(order, [])
    recorded: list = []

    # when
    with CaptureQueriesContext(connection) as queries:
        moved = _cancel(order, recorded)

    # then: the row was locked and read, nothing written
    assert (moved.changed, moved.previous) == (False, OrderStatus.CANCELLED)
    assert recorded == []
    assert _set_columns(queries) == []


@pytest.mark.django_db
def test_transition_refuses_a_move_the_table_does_not_list():
    # given: a cancelled order is final
    order = OrderFactory()
    _cancel(order, [])
    recorded: list = []

    # when
    with pytest.raises(InvalidTransition) as excinfo:
        transition(
            order,
            table=ORDER_TRANSITIONS,
            entity="Order",
            target=OrderStatus.PLANNED,
            record=lambda row, previous, now: recorded.append(previous),
        )

    # then
    assert excinfo.value.extra == {"entity": "Order", "from": "cancelled", "to": "planned"}
    assert recorded == []
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
