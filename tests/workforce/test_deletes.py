"""A courier's record (events, application, documents, terms, availability) outlives deletes."""

import pytest
from django.db.models import ProtectedError

from tests.workforce.factories import active_courier
from workforce.models import Courier, CourierApplication, CourierEvent, TermsAcceptance

pytestmark = pytest.mark.django_db


def test_deleting_a_vetted_courier_is_refused_and_their_record_stays(hub):
    # given: a courier who applied, accepted the terms and was approved
    courier = active_courier(hub=hub)
    events = CourierEvent.objects.filter(courier=courier).count()

    # when / then
    with pytest.raises(ProtectedError):
        Courier.objects.filter(pk=courier.pk).delete()

    assert CourierEvent.objects.filter(courier=courier).count() == events > 0
    assert CourierApplication.objects.filter(courier=courier).exists()
    assert TermsAcceptance.objects.filter(courier=courier).exists()
