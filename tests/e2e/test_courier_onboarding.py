"""A courier signs up, confirms their email, applies with a document; a manager approves.

Two browser contexts: the courier on a phone-sized screen, the workforce manager in the
back-office. Mails are read from the test outbox (the locmem backend).
"""

import datetime as dt
import io
import re

import pytest
from django.utils import timezone
from PIL import Image

from lastmile import celery_app
from lastmile.accounts.roles import Role
from tests.e2e.conftest import admin_login, new_context
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory
from workforce.models import ApplicationStatus, CourierApplication

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quiet-Harbour-Lantern-77"


@pytest.fixture(autouse=True)
def _mail_tasks_in_process():
    # The verification mail is sent by a task; with a broker configured it would wait there.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _id_scan() -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 40), "#dfe7f1").save(buffer, "PNG")
    return {"name": "id-card.png", "mimeType": "image/png", "buffer": buffer.getvalue()}


def test_courier_applies_and_a_manager_approves(
    chromium, live_server, mailoutbox, settings, csp_violations
):
    # given: a hub to work from and a workforce manager
    settings.SITE_URL = live_server.url
    HubFactory(code="BER-KX", name="Berlin Kreuzberg micro-hub")
    StaffFactory(username="wiebke", password="s3cret-pass", role=Role.WORKFORCE_MANAGER)
    phone = new_context(chromium, csp_violations, viewport={"width": 390, "height": 844})
    courier = phone.new_page()
    courier.set_default_timeout(15_000)

    # when: the courier signs up
    courier.goto(f"{live_server.url}/courier/signup/")
    courier.fill("#id_email", "ada.courier@example.com")
    courier.fill("#id_password", PASSWORD)
    courier.fill("#id_password_again", PASSWORD)
    courier.click("main button[type=submit]")
    courier.get_by_role("heading", name="Check your inbox").wait_for()

    # and opens the link from the mail
    assert [m.to for m in mailoutbox] == [["ada.courier@example.com"]]
    link = re.search(r"http://\S+/courier/verify/\S+", mailoutbox[0].body).group(0)
    courier.goto(link)
    assert courier.inner_text("#application-status") == "Draft"

    # and fills in each step
    courier.goto(f"{live_server.url}/courier/application/personal/")
    for field, value in {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+49 151 23456789",
        "date_of_birth": "1990-05-17",
        "street_address": "Oranienstraße 1",
        "postcode": "10999",
        "city": "Berlin",
        "country": "DE",
    }.items():
        courier.fill(f"#id_{field}", value)
    courier.click("main button[type=submit]")
    courier.locator(".messages .success").wait_for()

    courier.goto(f"{live_server.url}/courier/application/eligibility/")
    courier.get_by_label("EU/EEA or Swiss citizen").check()
    courier.fill("#id_nationality", "DE")
    courier.click("main button[type=submit]")
    courier.locator(".messages .success").wait_for()

    courier.goto(f"{live_server.url}/courier/application/vehicle/")
    courier.get_by_label("Crowd courier").check()
    courier.select_option("#id_home_hub", label="BER-KX · Berlin Kreuzberg micro-hub")
    courier.get_by_label("Bicycle").check()
    courier.click("main button[type=submit]")
    courier.locator(".messages .success").wait_for()

    courier.goto(f"{live_server.url}/courier/application/payout/")
    courier.fill("#id_account_holder", "Ada Lovelace")
    courier.fill("#id_iban", "DE89 3704 0044 0532 0130 00")
    courier.click("main button[type=submit]")
    courier.locator(".messages .success").wait_for()

    courier.goto(f"{live_server.url}/courier/application/documents/")
    courier.select_option("#id_kind", "id_document")
    courier.fill("#id_expires_on", (timezone.localdate() + dt.timedelta(days=900)).isoformat())
    courier.set_input_files("#id_file", _id_scan())
    courier.click("main button[type=submit]")
    courier.locator(".messages .success").wait_for()
    assert "Identity card or passport" in courier.inner_text("table")

    courier.goto(f"{live_server.url}/courier/application/terms/")
    courier.get_by_label("I have read and accept these terms").check()
    courier.click("main button[type=submit]")
    courier.locator(".messages .success").wait_for()

    # and submits
    courier.click("text=Submit application")
    courier.locator(".messages .success").wait_for()

    # then: the courier sees the application under review
    assert courier.inner_text("#application-status") == "Submitted"
    assert "under review" in courier.inner_text("main")
    assert "0532013000" not in courier.content()

    # when: the manager opens it in the back-office and approves
    office = new_context(chromium, csp_violations, viewport={"width": 1280, "height": 900})
    manager = office.new_page()
    manager.set_default_timeout(15_000)
    admin_login(manager, live_server, username="wiebke", password="s3cret-pass")
    application = CourierApplication.objects.get()
    manager.goto(f"{live_server.url}/admin/workforce/courierapplication/{application.pk}/change/")
    preview = manager.locator("#vetting-panel img")
    preview.wait_for()
    assert manager.evaluate("(img) => img.naturalWidth", preview.element_handle()) == 64
    manager.click("#approve-button")
    manager.locator(".messagelist .success").wait_for()
    assert "Application is now approved." in manager.inner_text(".messagelist")

    # then: the courier sees "approved"
    courier.goto(f"{live_server.url}/courier/")
    assert courier.inner_text("#application-status") == "Approved"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert mailoutbox[-1].subject == "Your courier application is approved"
    # and neither the portal nor the back-office needed anything the CSP forbids
    assert csp_violations == []
    office.close()
    phone.close()
