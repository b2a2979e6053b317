"""The courier portal through the test client: the flow, form errors, and who sees what."""

import datetime as dt
import logging
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from lastmile.accounts.roles import Role
from tests.factories import StaffFactory, UserFactory
from tests.workforce.factories import (
    PASSWORD,
    CourierFactory,
    active_courier,
    entry,
    png_bytes,
    submitted_courier,
)
from workforce.models import AvailabilitySlot, Courier, CourierDocument

pytestmark = pytest.mark.django_db


@pytest.fixture
def courier_client(client, hub):
    courier = active_courier(hub=hub, n=0)
    client.force_login(courier.user)
    client.courier = courier
    return client


def test_sign_up_verify_and_land_on_the_status_page(client, django_capture_on_commit_callbacks):
    # when: a person signs up
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/courier/signup/",
            {"email": "ada@example.com", "password": PASSWORD, "password_again": PASSWORD},
        )
    assert response.status_code == 302
    assert response["Location"] == "/courier/signup/done/"

    # then: the mailed link activates the account and signs them in
    link = re.search(r"http://[^\s]+/courier/verify/[^\s]+", mail.outbox[0].body).group(0)
    landing = client.get(link.split("8000", 1)[1], follow=True)
    assert "Draft" in landing.content.decode()
    assert Courier.objects.get().user.is_active
    # and the link works only once
    assert client.get(link.split("8000", 1)[1]).status_code == 302


def test_a_tampered_verification_link_is_refused(client):
    CourierFactory(user__is_active=False)

    response = client.get("/courier/verify/MQ/garbage-token/")

    assert response.status_code == 400
    assert b"does not work" in response.content


def test_sign_up_errors_are_shown_next_to_the_fields(client):
    response = client.post(
        "/courier/signup/", {"email": "not-an-email", "password": "abc", "password_again": "abd"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'aria-invalid="true"' in html
    assert response.context["form"].errors["email"] == ["Enter a valid email address."]
    assert "The two passwords differ." in response.context["form"].errors["password_again"]


def test_sign_up_with_an_address_taken_as_a_username_shows_the_same_page(client):
    CourierFactory(user__username="ada@example.com", user__email="")

    response = client.post(
        "/courier/signup/",
        {"email": "ada@example.com", "password": PASSWORD, "password_again": PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/courier/signup/done/"
    assert Courier.objects.count() == 1


def test_a_date_of_birth_far_in_the_future_is_a_form_error(client):
    courier = CourierFactory()
    client.force_login(courier.user)

    response = client.post(
        "/courier/application/personal/",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+4915112345678",
            "date_of_birth": "9999-12-31",
            "street_address": "Oranienstraße 1",
            "postcode": "10999",
            "city": "Berlin",
            "country": "DE",
        },
    )

    assert response.status_code == 400
    assert "date_of_birth" in response.context["form"].errors


def test_unverified_accounts_cannot_sign_in(client):
    CourierFactory(user__username="ada@example.com", user__is_active=False)

    response = client.post(
        "/courier/login/", {"username": "ada@example.com", "password": "s3cret-pass"}
    )

    assert response.status_code == 200
    assert "not confirmed" in response.content.decode()


def test_disguised_upload_is_rejected_with_a_form_error(client, hub):
    courier = CourierFactory()
    client.force_login(courier.user)
    disguised = SimpleUploadedFile(
        "id.jpg", b"<?php system($_GET['c']); ?>", content_type="image/jpeg"
    )

    response = client.post(
        "/courier/application/documents/",
        {"kind": "id_document", "expires_on": "2031-01-01", "file": disguised},
    )

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "The file is neither a PDF nor a JPEG, PNG or WebP image."
    ]
    assert "The file is neither a PDF nor a JPEG, PNG or WebP image." in response.content.decode()
    assert not CourierDocument.objects.exists()


def test_payout_page_never_shows_or_logs_the_iban(client, caplog):
    courier = CourierFactory()
    client.force_login(courier.user)
    caplog.set_level(logging.DEBUG)

    bad = client.post(
        "/courier/application/payout/", {"account_holder": "Ada", "iban": "DE89370400440532013001"}
    )
    good = client.post(
        "/courier/application/payout/", {"account_holder": "Ada", "iban": "DE89370400440532013000"}
    )
    page = client.get("/courier/application/payout/")
    summary = client.get(f"/courier/application/{courier.application.pk}/")

    assert bad.status_code == 400
    assert "not a valid IBAN" in bad.content.decode()
    assert "DE89370400440532013001" not in bad.content.decode()  # not echoed back
    assert good.status_code == 302
    for response in (page, summary):
        html = response.content.decode()
        assert "0532013000" not in html
        assert "DE•• •••• •••• •••• 3000" in html
    assert "0532013" not in caplog.text


def test_the_status_page_lists_what_is_missing(client):
    courier = CourierFactory()
    client.force_login(courier.user)

    response = client.get("/courier/")

    missing = {item.key for item in response.context["missing"]}
    assert missing == {
        "personal",
        "eligibility",
        "vehicle",
        "payout",
        "document:id_document",
        "terms",
    }


PERSONAL = {
    "first_name": "Eve",
    "last_name": "Courier0",
    "phone": "+4915112345678",
    "date_of_birth": "1990-05-17",
    "street_address": "Oranienstraße 1",
    "postcode": "10999",
    "city": "Potsdam",
    "country": "DE",
}


def test_a_submitted_application_shows_under_review_and_is_read_only(client, hub):
    courier = submitted_courier(hub=hub)
    client.force_login(courier.user)

    status = client.get("/courier/")
    # a complete, valid step: only the application's state can refuse it
    post = client.post("/courier/application/personal/", PERSONAL)

    assert "under review" in status.content.decode()
    assert post.status_code == 200
    assert all(field.disabled for field in post.context["form"].fields.values())
    courier.user.refresh_from_db()
    courier.refresh_from_db()
    assert (courier.user.first_name, courier.city) == ("Ada", "Berlin")


def test_a_draft_application_saves_the_same_step(client, hub):
    # the control for the test above: the same post does change a draft
    courier = CourierFactory()
    client.force_login(courier.user)

    post = client.post("/courier/application/personal/", PERSONAL)

    assert post.status_code == 302
    courier.user.refresh_from_db()
    courier.refresh_from_db()
    assert (courier.user.first_name, courier.city) == ("Eve", "Potsdam")


# --- Who may see what -------------------------------------------------------------------------


def _other_courier_objects(hub):
    other = active_courier(hub=hub, n=3)
    document = other.documents.get(is_current=True)
    stop = entry(
        other, amount_minor=500, earned_at=timezone.now() - dt.timedelta(days=30), source_id=9
    )
    from workforce import services

    monday = stop.earned_at.date() - dt.timedelta(days=timezone.localtime(stop.earned_at).weekday())
    batch = services.payout_week_close(week_start=monday).created[0]
    return other, document, batch


def test_a_courier_cannot_read_another_couriers_document_payout_or_application(courier_client, hub):
    other, document, batch = _other_courier_objects(hub)

    urls = [
        f"/courier/documents/{document.pk}/file/",
        f"/courier/earnings/payouts/{batch.pk}/",
        f"/courier/application/{other.application.pk}/",
    ]

    assert [courier_client.get(url).status_code for url in urls] == [404, 404, 404]
    earnings = courier_client.get("/courier/earnings/").content.decode()
    assert other.user.email not in earnings
    assert batch.end_to_end_id not in earnings


def test_a_courier_reads_their_own_document(courier_client):
    document = courier_client.courier.documents.get(is_current=True)

    response = courier_client.get(f"/courier/documents/{document.pk}/file/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == png_bytes()


def test_a_png_document_named_html_is_stored_and_served_as_a_sandboxed_png(client, hub):
    # given: a courier uploads PNG bytes with a script tail as x.html
    courier = CourierFactory()
    client.force_login(courier.user)
    polyglot = png_bytes() + b"<script>alert(document.domain)</script>"
    upload = SimpleUploadedFile("x.html", polyglot, content_type="text/html")

    # when
    client.post(
        "/courier/application/documents/",
        {"kind": "id_document", "expires_on": "2031-01-01", "file": upload},
    )
    document = CourierDocument.objects.get(courier=courier)
    client.force_login(StaffFactory(role=Role.WORKFORCE_MANAGER))
    served = client.get(f"/courier/documents/{document.pk}/file/")

    # then
    assert document.file.name.endswith(".png")
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert served["Content-Disposition"].startswith("inline;")


def test_a_pdf_document_is_downloaded_never_shown_inline(client, hub):
    # given
    courier = CourierFactory()
    client.force_login(courier.user)
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    client.post(
        "/courier/application/documents/",
        {
            "kind": "insurance",
            "expires_on": "2031-01-01",
            "file": SimpleUploadedFile("policy.pdf", pdf, content_type="application/pdf"),
        },
    )
    document = CourierDocument.objects.get(courier=courier)

    # when
    served = client.get(f"/courier/documents/{document.pk}/file/")

    # then
    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"].startswith("attachment;")
    assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_an_upload_over_the_request_limit_is_a_413_with_a_message_and_stores_nothing(
    client, hub, settings
):
    # given: request bodies are limited to 64 kB here; the scan is 100 kB
    settings.REQUEST_MAX_BODY_BYTES = 65_536
    courier = CourierFactory()
    client.force_login(courier.user)
    scan = SimpleUploadedFile("id.png", png_bytes() + b"\0" * 100_000, content_type="image/png")

    # when
    response = client.post(
        "/courier/application/documents/",
        {"kind": "id_document", "expires_on": "2031-01-01", "file": scan},
    )

    # then
    assert response.status_code == 413
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "larger than 0.0625 MB" in response.content.decode()
    assert not CourierDocument.objects.exists()


def test_anonymous_visitors_reach_nothing(client, hub):
    other, document, batch = _other_courier_objects(hub)
    urls = [
        "/courier/",
        "/courier/earnings/",
        f"/courier/documents/{document.pk}/file/",
        f"/courier/earnings/payouts/{batch.pk}/",
        f"/courier/application/{other.application.pk}/",
        "/courier/application/payout/",
    ]

    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/courier/login/?next="), url


def test_staff_need_the_document_permission_to_open_a_document(client, hub):
    _other, document, _ = _other_courier_objects(hub)
    url = f"/courier/documents/{document.pk}/file/"

    client.force_login(StaffFactory(role=Role.DISPATCHER))
    dispatcher = client.get(url)
    client.force_login(StaffFactory(role=Role.WORKFORCE_MANAGER))
    manager = client.get(url)

    assert dispatcher.status_code == 404
    assert manager.status_code == 200


def test_staff_without_a_courier_profile_get_404_in_the_portal(client):
    client.force_login(StaffFactory(role=Role.WORKFORCE_MANAGER))

    assert client.get("/courier/").status_code == 404


# --- Availability and earnings ----------------------------------------------------------------


def test_a_courier_declares_availability_and_bad_input_is_a_form_error(courier_client, hub):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    added = courier_client.post(
        "/courier/availability/",
        {"hub": hub.pk, "day": tomorrow.isoformat(), "starts_at": "08:00", "ends_at": "12:00"},
    )
    overlap = courier_client.post(
        "/courier/availability/",
        {"hub": hub.pk, "day": tomorrow.isoformat(), "starts_at": "11:00", "ends_at": "13:00"},
    )
    garbage = courier_client.post(
        "/courier/availability/", {"hub": "x", "day": "31.02.", "starts_at": "25:00"}
    )

    assert added.status_code == 302
    assert overlap.status_code == 400
    assert "Overlaps your slot 08:00–12:00" in overlap.content.decode()
    assert garbage.status_code == 400
    assert AvailabilitySlot.objects.count() == 1


def test_a_courier_withdraws_only_their_own_slot(courier_client, hub):
    other = active_courier(hub=hub, n=4)
    slot = AvailabilitySlot.objects.create(
        courier=other,
        hub=hub,
        day=timezone.localdate() + dt.timedelta(days=1),
        starts_at=dt.time(8),
        ends_at=dt.time(9),
    )

    response = courier_client.post(f"/courier/availability/{slot.pk}/remove/")

    assert response.status_code == 404
    assert AvailabilitySlot.objects.filter(pk=slot.pk).exists()


def _monday_of(moment: dt.datetime) -> dt.date:
    day = timezone.localtime(moment).date()
    return day - dt.timedelta(days=day.weekday())


def test_closed_weeks_not_yet_paid_count_as_not_yet_paid_out(courier_client):
    # given: a week the bank has paid, two closed weeks waiting for payment, and a stop today
    from workforce import services

    courier = courier_client.courier
    finance, exporter = UserFactory(is_staff=True), UserFactory(is_staff=True)
    weeks = []
    for n, (days_ago, amount) in enumerate([(35, 300), (21, 500), (14, 700)], start=1):
        earned = entry(
            courier,
            amount_minor=amount,
            earned_at=timezone.now() - dt.timedelta(days=days_ago),
            source_id=n,
        )
        weeks.append(services.payout_week_close(week_start=_monday_of(earned.earned_at)))
    paid = services.payout_batch_approve(batch=weeks[0].created[0], actor=finance)
    services.payout_export_sepa(
        batch_ids=[paid.pk], actor=exporter, execution_date=timezone.localdate()
    )
    paid.refresh_from_db()
    services.payout_batch_mark_paid(batch=paid, actor=exporter)
    entry(courier, amount_minor=1234, earned_at=timezone.now() - dt.timedelta(hours=1), source_id=9)

    # when
    earnings = courier_client.get("/courier/earnings/").content.decode()
    home = courier_client.get("/courier/").content.decode()

    # then: 5.00 + 7.00 closed but unpaid, and 12.34 not in a week yet; the paid 3.00 is not
    assert '<strong id="open-balance">24.34 EUR</strong>' in earnings
    assert "24.34 EUR" in home
    for result in weeks:
        batch = result.created[0]
        assert f'href="/courier/earnings/payouts/{batch.pk}/"' in earnings
    assert "3.00 EUR" in earnings


def test_a_slot_that_is_already_over_today_is_a_form_error(courier_client, hub):
    now = timezone.localtime(timezone.now(), hub.zone)
    if now.time() < dt.time(0, 2):
        pytest.skip("needs a minute of today behind us")

    response = courier_client.post(
        "/courier/availability/",
        {"hub": hub.pk, "day": now.date().isoformat(), "starts_at": "00:00", "ends_at": "00:01"},
    )

    assert response.status_code == 400
    assert "ends_at" in response.context["form"].errors
    assert not AvailabilitySlot.objects.exists()
