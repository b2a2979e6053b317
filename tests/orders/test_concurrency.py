"""Two people moving the same order at once: the row lock lets exactly one win."""

import threading

import pytest
from django.db import connection

from lastmile.core.errors import InvalidTransition
from lastmile.orders import services
from lastmile.orders.models import OrderEvent, OrderStatus
from tests.orders.factories import OrderFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_deliver_and_fail_leave_one_outcome():
    # given: an order out for delivery, and two requests racing for it
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def run(name, move):
        barrier.wait()
        try:
            move()
        except InvalidTransition:
            outcomes[name] = "refused"
        else:
            outcomes[name] = "applied"
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=run,
            args=(
                "deliver",
                lambda: services.order_deliver(
                    order=order, recipient_name="Neighbour", source="courier"
                ),
            ),
        ),
        threading.Thread(
            target=run,
            args=(
                "fail",
                lambda: services.order_fail(
                    order=order, reason="recipient_absent", source="courier"
                ),
            ),
        ),
    ]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then: one applied, the other refused, and the timeline has exactly one outcome
    order.refresh_from_db()
    assert sorted(outcomes.values()) == ["applied", "refused"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "applied")
    assert order.status == (OrderStatus.DELIVERED if winner == "deliver" else OrderStatus.FAILED)
    assert OrderEvent.objects.filter(order=order, kind="status_changed").count() == 1
    assert order.attempts.count() == 1
