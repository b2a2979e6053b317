"""Hubs with history are archived, not deleted: the admin refuses the delete and says so."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from lastmile.accounts.roles import Role
from lastmile.core.errors import ValidationFailed
from lastmile.dispatch.models import Plan
from lastmile.dispatch.services import plan_request, plans_request_tomorrow
from lastmile.hubs import services
from lastmile.hubs.models import Hub, OpeningHours
from lastmile.orders.admin import OrderImportForm
from lastmile.orders.models import Order
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory, OpeningHoursFactory
from tests.orders.factories import OrderFactory
from tests.workforce.factories import CourierFactory
from workforce.models import AvailabilitySlot, CoverageNeed

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _hub_with_courier_availability() -> Hub:
    hub = HubFactory(code="BER-TH")
    OpeningHoursFactory(hub=hub)
    AvailabilitySlot.objects.create(
        courier=CourierFactory(),
        hub=hub,
        day=timezone.localdate() - dt.timedelta(days=3),
        starts_at=dt.time(8),
        ends_at=dt.time(12),
    )
    CoverageNeed.objects.create(
        hub=hub, weekday=0, starts_at=dt.time(8), ends_at=dt.time(12), couriers=2
    )
    return hub


def test_deleting_a_hub_with_courier_availability_is_refused_and_nothing_is_lost(admin_client):
    # given
    hub = _hub_with_courier_availability()

    # when: the admin confirms the delete
    response = admin_client.post(f"/admin/hubs/hub/{hub.pk}/delete/", {"post": "yes"})

    # then: sent back to the hub with a message saying to archive it; every row is still there
    assert response.status_code == 302
    assert response.url == f"/admin/hubs/hub/{hub.pk}/change/"
    [message] = _messages(response)
    assert "cannot be deleted" in message
    assert "1 availability slot" in message
    assert "Archive it instead" in message
    assert Hub.objects.filter(pk=hub.pk).exists()
    assert AvailabilitySlot.objects.filter(hub=hub).count() == 1
    assert CoverageNeed.objects.filter(hub=hub).count() == 1
    assert OpeningHours.objects.filter(hub=hub).count() == 1


def test_delete_page_of_a_hub_with_orders_says_to_archive_it(admin_client):
    # given
    hub = HubFactory()
    OrderFactory.create_batch(3, hub=hub)

    # when
    response = admin_client.get(f"/admin/hubs/hub/{hub.pk}/delete/", follow=True)

    # then: no confirmation page; the change page shows why
    assert response.redirect_chain[-1][0] == f"/admin/hubs/hub/{hub.pk}/change/"
    assert "3 orders" in response.content.decode()
    assert "Archive it instead" in response.content.decode()
    assert Order.objects.filter(hub=hub).count() == 3


def test_a_hub_without_history_is_deleted_with_its_opening_hours(admin_client):
    # given: a hub just created by mistake
    hub = HubFactory()
    OpeningHoursFactory(hub=hub)

    # when
    page = admin_client.get(f"/admin/hubs/hub/{hub.pk}/delete/")
    response = admin_client.post(f"/admin/hubs/hub/{hub.pk}/delete/", {"post": "yes"})

    # then
    assert page.status_code == 200
    assert response.status_code == 302
    assert response.url == "/admin/hubs/hub/"
    assert not Hub.objects.filter(pk=hub.pk).exists()
    assert not OpeningHours.objects.exists()


def test_history_written_after_the_check_is_a_message_not_a_500(admin_client, monkeypatch):
    # given: the history check misses the hub's order (as if it arrived after the check)
    hub = HubFactory()
    OrderFactory(hub=hub)
    monkeypatch.setattr("lastmile.hubs.admin.hub_history", lambda *, hub: [])
    monkeypatch.setattr("lastmile.hubs.services.hub_history", lambda *, hub: [])

    # when
    response = admin_client.post(f"/admin/hubs/hub/{hub.pk}/delete/", {"post": "yes"})

    # then: the database's protection is reported as a refusal, and the hub stays
    assert response.status_code == 302
    [message] = _messages(response)
    assert "cannot be deleted" in message
    assert Hub.objects.filter(pk=hub.pk).exists()
    assert Order.objects.filter(hub=hub).count() == 1


def test_bulk_delete_is_replaced_by_the_archive_action(admin_client):
    # when
    response = admin_client.get("/admin/hubs/hub/")

    # then
    actions = dict(response.context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert "archive" in actions


def test_hub_manager_archives_hubs_and_they_keep_their_history(client):
    # given
    client.force_login(StaffFactory(role=Role.HUB_MANAGER))
    hub = _hub_with_courier_availability()
    OrderFactory(hub=hub)

    # when
    response = client.post(
        "/admin/hubs/hub/", {"action": "archive", "_selected_action": [hub.pk]}, follow=True
    )

    # then
    hub.refresh_from_db()
    assert hub.archived_at is not None
    assert hub.is_active is False
    assert "1 hubs archived." in response.content.decode()
    assert Order.objects.filter(hub=hub).count() == 1


def test_archiving_twice_keeps_the_first_archive_time():
    # given
    hub = services.hub_archive(hub=HubFactory())

    # when
    again = services.hub_archive(hub=hub)

    # then
    assert again.archived_at == hub.archived_at


def test_an_archived_hub_cannot_be_made_active_again_in_the_form(admin_client):
    # given
    hub = services.hub_archive(hub=HubFactory(code="BER-OLD"))

    # when: the active box is ticked again
    response = admin_client.post(
        f"/admin/hubs/hub/{hub.pk}/change/",
        {
            "name": hub.name,
            "code": hub.code,
            "kind": hub.kind,
            "address": hub.address,
            "latitude": str(hub.latitude),
            "longitude": str(hub.longitude),
            "time_zone": hub.time_zone,
            "is_active": "on",
            "opening_hours-TOTAL_FORMS": "0",
            "opening_hours-INITIAL_FORMS": "0",
        },
    )

    # then: the form says why, and the hub stays archived
    assert response.status_code == 200
    assert "An archived hub cannot be made active again." in response.content.decode()
    hub.refresh_from_db()
    assert hub.is_active is False


def test_an_archived_hub_is_not_planned(client):
    # given
    client.force_login(StaffFactory(role=Role.DISPATCHER))
    hub = services.hub_archive(hub=HubFactory(code="BER-OLD"))
    tomorrow = timezone.localdate(timezone=hub.zone) + dt.timedelta(days=1)

    # when: the board's plan button, a direct request, and the nightly run over every hub
    response = client.post("/dispatch/board/plan/", {"hub": hub.code, "date": tomorrow})
    with pytest.raises(ValidationFailed, match="not active"):
        plan_request(hub=hub, service_date=tomorrow, actor=None)
    nightly = plans_request_tomorrow()

    # then: the board does not know the hub, and no plan exists
    assert response.status_code == 404
    assert "No active hub" in response.json()["detail"]
    assert nightly == []
    assert not Plan.objects.filter(hub=hub).exists()


def test_an_archived_hub_is_not_offered_for_imports_or_on_the_board(client):
    # given
    client.force_login(StaffFactory(role=Role.DISPATCHER))
    active = HubFactory(code="BER-KX")
    archived = services.hub_archive(hub=HubFactory(code="BER-OLD"))

    # when
    board = client.get("/dispatch/board/", {"hub": active.code})

    # then
    assert list(OrderImportForm().fields["hub"].queryset) == [active]
    assert "BER-OLD" not in board.content.decode()
    assert archived.code != active.code
