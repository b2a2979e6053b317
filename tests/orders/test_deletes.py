"""Orders are history: once they have attempts, proofs and events, a delete is refused."""

import pytest
from django.db.models import ProtectedError

from lastmile.orders import services
from lastmile.orders.models import (
    DeliveryAttempt,
    Order,
    OrderEvent,
    OrderStatus,
    Parcel,
    ProofOfDelivery,
)
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_deleting_an_order_with_attempts_is_refused_and_nothing_is_lost():
    # given: a delivered order (attempt, proof, events, parcels)
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY, parcels=2)
    services.order_deliver(order=order, recipient_name="Neighbour", source="courier")
    events = OrderEvent.objects.filter(order=order).count()

    # when / then
    with pytest.raises(ProtectedError):
        Order.objects.filter(pk=order.pk).delete()

    assert Order.objects.filter(pk=order.pk).exists()
    assert DeliveryAttempt.objects.filter(order=order).count() == 1
    assert ProofOfDelivery.objects.filter(attempt__order=order).count() == 1
    assert Parcel.objects.filter(order=order).count() == 2
    assert OrderEvent.objects.filter(order=order).count() == events


def test_deleting_an_attempt_with_its_proof_of_delivery_is_refused():
    # given
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)
    attempt = services.order_deliver(order=order, recipient_name="Neighbour", source="courier")

    # when / then
    with pytest.raises(ProtectedError):
        DeliveryAttempt.objects.filter(pk=attempt.pk).delete()
    assert ProofOfDelivery.objects.filter(attempt=attempt).exists()
