"""Partners with orders are archived, not deleted; archived ones take no new imports."""

import pytest
from django.contrib.messages import get_messages

from lastmile.core.errors import NotFound
from lastmile.orders.admin import OrderImportForm
from lastmile.orders.models import Order
from lastmile.partners.models import Partner
from lastmile.partners.selectors import partner_get_by_slug
from lastmile.partners.services import partner_archive
from tests.orders.factories import OrderFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def test_deleting_a_partner_with_orders_is_refused_and_says_to_archive_it(admin_client):
    # given
    partner = PartnerFactory(name="Kiezkaufhaus")
    OrderFactory.create_batch(2, partner=partner)

    # when
    response = admin_client.post(f"/admin/partners/partner/{partner.pk}/delete/", {"post": "yes"})

    # then
    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == (
        "Partner Kiezkaufhaus cannot be deleted: it has history (2 orders). Archive it instead."
    )
    assert Order.objects.filter(partner=partner).count() == 2


def test_a_partner_without_orders_is_deleted(admin_client):
    # given: a partner just created by mistake
    partner = PartnerFactory()

    # when
    response = admin_client.post(f"/admin/partners/partner/{partner.pk}/delete/", {"post": "yes"})

    # then
    assert response.status_code == 302
    assert not Partner.objects.filter(pk=partner.pk).exists()


def test_archive_action_archives_the_partner_and_keeps_its_orders(admin_client):
    # given
    partner = PartnerFactory()
    OrderFactory(partner=partner)

    # when
    admin_client.post(
        "/admin/partners/partner/", {"action": "archive", "_selected_action": [partner.pk]}
    )

    # then
    partner.refresh_from_db()
    assert partner.archived_at is not None
    assert partner.is_active is False
    assert Order.objects.filter(partner=partner).count() == 1


def test_an_archived_partner_is_not_offered_for_imports_nor_found_by_slug():
    # given
    active = PartnerFactory(slug="active")
    archived = partner_archive(partner=PartnerFactory(slug="gone"))

    # then
    assert list(OrderImportForm().fields["partner"].queryset) == [active]
    with pytest.raises(NotFound):
        partner_get_by_slug(slug=archived.slug)
