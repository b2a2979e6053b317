"""The dispatcher's order screens through the Django test client."""

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from lastmile.accounts.roles import Role
from lastmile.orders import services
from lastmile.orders.models import Order, OrderStatus
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory
from tests.orders.factories import OrderFactory, PartnerFactory
from tests.orders.test_import import csv_bytes, good_row, thousand_rows_with_seven_bad

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/orders/order/"


@pytest.fixture
def dispatcher(client):
    client.force_login(StaffFactory(username="dana", role=Role.DISPATCHER))
    return client


def _orders(count: int) -> list[Order]:
    hubs = [HubFactory(), HubFactory()]
    partners = [PartnerFactory(), PartnerFactory(), PartnerFactory()]
    return [
        OrderFactory(hub=hubs[n % 2], partner=partners[n % 3], parcels=1 + n % 3)
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [50, 120])
def test_order_list_costs_the_same_queries_whatever_the_number_of_orders(
    dispatcher, django_assert_num_queries, count
):
    # given
    _orders(count)

    # then: session, user, 2 permission reads, hub and partner filter choices, 2 counts, the
    # page, 2 for the date hierarchy — fixed, whatever the page holds
    with django_assert_num_queries(11):
        response = dispatcher.get(LIST_URL)

    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == min(count, 100)


def test_order_list_filters_by_hub_status_and_window(dispatcher):
    orders = _orders(6)
    services.order_cancel(order=orders[0], reason="dup", source="test")

    by_hub = dispatcher.get(LIST_URL, {"hub__id__exact": orders[1].hub_id})
    by_status = dispatcher.get(LIST_URL, {"status__exact": "cancelled"})
    morning = dispatcher.get(LIST_URL, {"window": "morning"})
    evening = dispatcher.get(LIST_URL, {"window": "evening"})

    assert by_hub.context["cl"].result_count == 3
    assert [o.pk for o in by_status.context["cl"].result_list] == [orders[0].pk]
    assert morning.context["cl"].result_count == 6  # factory windows start at 10:00
    assert evening.context["cl"].result_count == 0


def test_search_by_barcode_and_phone(dispatcher):
    order = OrderFactory(external_reference="KKH-77", recipient_phone="+4915199998888")
    OrderFactory()

    by_barcode = dispatcher.get(LIST_URL, {"q": "KKH-77-1"})
    by_phone = dispatcher.get(LIST_URL, {"q": "+4915199998888"})

    assert [o.pk for o in by_barcode.context["cl"].result_list] == [order.pk]
    assert [o.pk for o in by_phone.context["cl"].result_list] == [order.pk]


@pytest.mark.parametrize("parcels", [1, 12])
def test_change_page_shows_map_parcels_and_timeline_at_a_fixed_cost(
    dispatcher, django_assert_num_queries, parcels
):
    # given: an order with parcels, attempts and several timeline entries
    order = OrderFactory(parcels=parcels)
    services.order_plan(order=order, source="system")
    services.order_start_delivery(order=order, source="courier")
    services.order_fail(order=order, reason="recipient_absent", source="courier")

    ContentType.objects.clear_cache()

    # then: session, user, order with partner and hub, 2 permission reads, parcels, attempts,
    # timeline, the log entry content type — the same for 1 or 12 parcels
    with django_assert_num_queries(9):
        response = dispatcher.get(f"{LIST_URL}{order.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="lm-map-picker"' in html
    assert html.count(f"{order.external_reference}-") >= parcels  # the parcels' barcodes
    assert "Recipient absent" in html
    assert html.count("status_changed") + html.count("Status changed") >= 3


def test_proof_images_are_served_only_to_staff_who_may_see_the_order(dispatcher, client):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, "PNG")
    attempt = services.order_deliver(
        order=order, photo=SimpleUploadedFile("p.png", buffer.getvalue()), source="courier"
    )
    url = f"{LIST_URL}{order.pk}/proof/{attempt.pk}/photo/"

    served = dispatcher.get(url)
    dispatcher.logout()
    client.force_login(StaffFactory(role=Role.WORKFORCE_MANAGER))
    refused = client.get(url)
    client.logout()
    anonymous = client.get(url)

    assert served.status_code == 200
    assert b"".join(served.streaming_content) == buffer.getvalue()
    assert refused.status_code == 403
    assert anonymous.status_code == 302


def test_dispatcher_edits_access_notes_and_the_timeline_records_it(dispatcher):
    order = OrderFactory()
    response = dispatcher.get(f"{LIST_URL}{order.pk}/change/")
    form = response.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(
        {
            "access_notes": "Code 4711",
            "latitude": str(order.latitude),
            "longitude": str(order.longitude),
            "required_skills": "[]",
            "service_s": "180",
            "priority": "0",
            "recipient_phone": "+4915112345678",
        }
    )
    for prefix in ("parcels", "attempts", "events"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})

    response = dispatcher.post(f"{LIST_URL}{order.pk}/change/", data)

    assert response.status_code == 302, (
        response.context["adminform"].form.errors if response.context else ""
    )
    order.refresh_from_db()
    assert order.access_notes == "Code 4711"
    assert order.events.get().payload == {"fields": ["access_notes"]}


def test_staff_without_the_dispatcher_role_cannot_change_orders(client):
    order = OrderFactory()
    client.force_login(StaffFactory(role=Role.HUB_MANAGER))  # may view, not change

    view = client.get(f"{LIST_URL}{order.pk}/change/")
    post = client.post(f"{LIST_URL}{order.pk}/change/", {"access_notes": "x"})
    action = client.post(
        LIST_URL,
        {"action": "cancel_orders", ACTION_CHECKBOX_NAME: [order.pk], "apply": "1", "reason": "x"},
    )

    assert view.status_code == 200
    assert b'name="_save"' not in view.content
    assert post.status_code == 403
    assert action.status_code in (200, 302)
    assert Order.objects.get().status == OrderStatus.CREATED


def test_staff_without_any_role_sees_no_orders(client):
    client.force_login(StaffFactory())

    assert client.get(LIST_URL).status_code == 403


def test_cancel_action_asks_for_a_reason_then_reports_each_row(dispatcher):
    created, delivered = OrderFactory(), OrderFactory(status=OrderStatus.DELIVERED)
    selection = {"action": "cancel_orders", ACTION_CHECKBOX_NAME: [created.pk, delivered.pk]}

    ask = dispatcher.post(LIST_URL, selection)
    missing_reason = dispatcher.post(LIST_URL, {**selection, "apply": "1"})
    done = dispatcher.post(
        LIST_URL, {**selection, "apply": "1", "reason": "customer called"}, follow=True
    )

    assert b'name="reason"' in ask.content
    assert missing_reason.context["form"].errors == {"reason": ["This field is required."]}
    texts = [str(m) for m in done.context["messages"]]
    assert "1 order(s) cancelled." in texts
    assert any(
        delivered.external_reference in t and "cannot move from 'delivered'" in t for t in texts
    )
    created.refresh_from_db()
    assert created.status == OrderStatus.CANCELLED


def test_reschedule_action_sets_the_window_in_the_hubs_time(dispatcher):
    order = OrderFactory(status=OrderStatus.FAILED)
    day = timezone.localdate() + dt.timedelta(days=2)

    dispatcher.post(
        LIST_URL,
        {
            "action": "reschedule_orders",
            ACTION_CHECKBOX_NAME: [order.pk],
            "apply": "1",
            "day": day.isoformat(),
            "window_from": "14:00",
            "window_to": "16:00",
        },
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.RESCHEDULED
    assert timezone.localtime(order.window_start, order.hub.zone).hour == 14
    assert order.service_date == day


def test_failed_attempt_action_records_the_reason(dispatcher):
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)

    dispatcher.post(
        LIST_URL,
        {
            "action": "record_failed_attempt",
            ACTION_CHECKBOX_NAME: [order.pk],
            "apply": "1",
            "reason": "access_denied",
        },
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert order.attempts.get().failure_reason == "access_denied"


def _stored_proof(content: bytes, stored_name: str):
    """A delivered order whose photo sits on disk as ``stored_name`` with ``content``, as
    proofs stored before uploads were named by their content do."""
    import io

    from django.core.files.base import ContentFile
    from PIL import Image

    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, "PNG")
    attempt = services.order_deliver(
        order=order, photo=SimpleUploadedFile("p.png", buffer.getvalue()), source="courier"
    )
    proof = attempt.proof
    proof.photo.storage.delete(proof.photo.name)
    proof.photo.name = proof.photo.storage.save(stored_name, ContentFile(content))
    proof.save(update_fields=["photo"])
    return f"{LIST_URL}{order.pk}/proof/{attempt.pk}/photo/"


def test_an_old_proof_stored_as_html_is_served_by_its_content_as_a_png(dispatcher):
    # given: PNG bytes with a script tail, on disk under a client-chosen .html name
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, "PNG")
    polyglot = buffer.getvalue() + b"<script>alert(1)</script>"
    url = _stored_proof(polyglot, "proofs/2026/11/legacy.html")

    # when
    served = dispatcher.get(url)

    # then
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert served["Content-Disposition"].startswith("inline;")


def test_a_stored_proof_that_is_not_an_image_is_only_ever_downloaded(dispatcher):
    # given: a page of HTML on disk under an image's name
    url = _stored_proof(b"<html><script>alert(1)</script></html>", "proofs/2026/11/fake.png")

    # when
    served = dispatcher.get(url)

    # then: a blob to download, never a page in our origin
    assert served.status_code == 200
    assert served["Content-Type"] == "application/octet-stream"
    assert served["Content-Disposition"].startswith("attachment;")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_import_through_the_back_office(dispatcher):
    partner, hub = PartnerFactory(slug="kiezkaufhaus"), HubFactory(code="BER-KX")
    upload = SimpleUploadedFile("orders.csv", thousand_rows_with_seven_bad())

    uploaded = dispatcher.post(
        f"{LIST_URL}import/", {"partner": partner.pk, "hub": hub.pk, "file": upload}
    )
    preview = dispatcher.get(uploaded["Location"])
    assert Order.objects.count() == 0
    confirmed = dispatcher.post(uploaded["Location"], {"confirm": "1"}, follow=True)

    html = preview.content.decode()
    assert '<td id="error-row-count">7</td>' in html
    assert '<td id="new-order-count">993</td>' in html
    assert "Must be between -90 and 90." in html
    assert Order.objects.count() == 993
    assert "993 order(s) imported" in " ".join(str(m) for m in confirmed.context["messages"])


@pytest.mark.parametrize("archived", ["hub", "partner"])
def test_confirming_an_import_whose_hub_or_partner_was_archived_since_is_refused(
    dispatcher, archived
):
    from lastmile.hubs.services import hub_archive
    from lastmile.orders.models import OrderImport
    from lastmile.partners.services import partner_archive

    # given: a file previewed for a partner and hub, one of which is archived afterwards
    partner, hub = PartnerFactory(name="Kiezkaufhaus"), HubFactory(code="BER-KX")
    upload = SimpleUploadedFile("orders.csv", csv_bytes([good_row(n) for n in range(5)]))
    uploaded = dispatcher.post(
        f"{LIST_URL}import/", {"partner": partner.pk, "hub": hub.pk, "file": upload}
    )
    if archived == "hub":
        hub_archive(hub=hub)
    else:
        partner_archive(partner=partner)

    # when: the dispatcher confirms the preview
    confirmed = dispatcher.post(uploaded["Location"], {"confirm": "1"}, follow=True)

    # then: the page says why and nothing is written; the import can still be discarded
    shown = " ".join(str(m) for m in confirmed.context["messages"])
    name = "hub BER-KX" if archived == "hub" else "partner Kiezkaufhaus"
    assert f"Nothing was imported: The {name}" in shown
    assert "is archived; orders cannot be imported for it." in shown
    assert not Order.objects.exists()
    assert OrderImport.objects.get().status == OrderImport.Status.PREVIEWED
    assert 'name="discard"' in confirmed.content.decode()


def test_import_form_shows_file_errors_next_to_the_field(dispatcher):
    partner, hub = PartnerFactory(), HubFactory()
    upload = SimpleUploadedFile(
        "orders.csv", csv_bytes([good_row(1)], header=["external_reference", "address"])
    )

    response = dispatcher.post(
        f"{LIST_URL}import/", {"partner": partner.pk, "hub": hub.pk, "file": upload}
    )

    assert response.status_code == 200
    assert "Missing column(s)" in response.context["form"].errors["file"][0]


def test_import_needs_the_import_permission(client):
    client.force_login(StaffFactory(role=Role.HUB_MANAGER))

    assert client.get(f"{LIST_URL}import/").status_code == 403


def test_an_action_on_all_rows_across_pages_confirms_and_runs_on_every_row(dispatcher):
    # given: three orders, only the first ticked, "select all 3" chosen
    orders = OrderFactory.create_batch(3)
    selection = {
        "action": "cancel_orders",
        ACTION_CHECKBOX_NAME: [orders[0].pk],
        "select_across": "1",
    }
    # when
    ask = dispatcher.post(LIST_URL, selection)
    dispatcher.post(LIST_URL, {**selection, "apply": "1", "reason": "storm"})
    # then: the confirmation carries the choice, and every order is cancelled
    assert b'name="select_across" value="1"' in ask.content
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
