"""Self-onboarding services: sign-up, verification, the steps, documents, submission, expiry."""

import datetime as dt
import io
import logging

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from lastmile.core.errors import Conflict, ValidationFailed
from tests.workforce.factories import (
    PASSWORD,
    CourierFactory,
    complete_application,
    pdf_upload,
    png_upload,
    submitted_courier,
)
from workforce import crypto, services
from workforce.models import (
    ApplicationStatus,
    Courier,
    CourierDocument,
    CourierEvent,
    DocumentKind,
    Vehicle,
    WorkEligibility,
)
from workforce.selectors import application_checklist, required_document_kinds
from workforce.tasks import flag_expired_documents_task

pytestmark = pytest.mark.django_db


def test_sign_up_creates_an_inactive_account_and_mails_a_verification_link(
    django_capture_on_commit_callbacks,
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        courier = services.courier_sign_up(email=" Ada@Example.COM ", password=PASSWORD)

    # then
    assert courier.user.email == "ada@example.com"
    assert courier.user.is_active is False
    assert courier.application.status == ApplicationStatus.DRAFT
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert "/courier/verify/" in mail.outbox[0].body


def test_sign_up_with_a_known_address_creates_nothing_and_mails_the_owner(
    django_capture_on_commit_callbacks,
):
    services.courier_sign_up(email="ada@example.com", password=PASSWORD)

    with django_capture_on_commit_callbacks(execute=True):
        again = services.courier_sign_up(email="ADA@example.com", password=PASSWORD)

    assert again is None
    assert Courier.objects.count() == 1
    assert mail.outbox[-1].subject == "You already have a courier account"


def test_sign_up_with_an_address_taken_as_a_username_creates_nothing(
    django_capture_on_commit_callbacks,
):
    # given: an account whose username is the address but whose email field is not
    existing = CourierFactory(user__username="ada@example.com", user__email="")

    with django_capture_on_commit_callbacks(execute=True):
        again = services.courier_sign_up(email="Ada@Example.com", password=PASSWORD)

    assert again is None
    assert Courier.objects.get() == existing
    assert mail.outbox == []  # no address on file to tell


def test_weak_password_is_refused_on_the_password_field():
    with pytest.raises(ValidationFailed) as excinfo:
        services.courier_sign_up(email="ada@example.com", password="password")

    assert "password" in excinfo.value.errors
    assert not Courier.objects.exists()


def test_verifying_activates_once():
    courier = services.courier_sign_up(email="ada@example.com", password=PASSWORD)

    services.courier_verify_email(user=courier.user)
    services.courier_verify_email(user=courier.user)

    courier.user.refresh_from_db()
    assert courier.user.is_active
    assert courier.events.filter(kind=CourierEvent.Kind.EMAIL_VERIFIED).count() == 1


def test_details_are_validated_field_by_field(hub):
    courier = CourierFactory()

    with pytest.raises(ValidationFailed) as excinfo:
        services.courier_update_details(
            courier=courier,
            changes={
                "phone": "12",
                "date_of_birth": timezone.localdate() - dt.timedelta(days=365 * 16),
                "country": "Germany",
                "vehicle": "rocket",
            },
        )

    assert set(excinfo.value.errors) == {"phone", "date_of_birth", "country", "vehicle"}


@pytest.mark.parametrize("born", [dt.date(9999, 12, 31), dt.date(1, 1, 1), dt.date(9990, 2, 28)])
def test_an_impossible_date_of_birth_is_a_field_error(born):
    with pytest.raises(ValidationFailed) as excinfo:
        services.courier_update_details(courier=CourierFactory(), changes={"date_of_birth": born})

    assert list(excinfo.value.errors) == ["date_of_birth"]


def test_a_details_change_writes_one_event_naming_the_fields_not_the_values(hub):
    courier = CourierFactory()

    services.courier_update_details(
        courier=courier, changes={"first_name": "Ada", "city": "Berlin", "home_hub": hub}
    )
    services.courier_update_details(courier=courier, changes={"first_name": "Ada"})  # no change

    event = courier.events.get(kind=CourierEvent.Kind.DETAILS_UPDATED)
    assert event.payload == {"fields": ["city", "first_name", "home_hub"]}


def test_iban_is_checked_stored_encrypted_and_never_logged(caplog):
    courier = CourierFactory()
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ValidationFailed) as excinfo:
        services.courier_set_payout_account(
            courier=courier, account_holder="Ada", iban="DE89370400440532013001"
        )
    assert excinfo.value.errors == {"iban": ["This is not a valid IBAN; check the digits."]}

    services.courier_set_payout_account(
        courier=courier, account_holder="Ada", iban="de89 3704 0044 0532 0130 00"
    )

    courier.refresh_from_db()
    assert "DE89370400440532013000" not in courier.iban_encrypted
    assert crypto.decrypt(courier.iban_encrypted) == "DE89370400440532013000"
    assert courier.iban_masked == "DE•• •••• •••• •••• 3000"
    assert "0532013" not in caplog.text
    event = courier.events.get(kind=CourierEvent.Kind.PAYOUT_ACCOUNT_CHANGED)
    assert "0532013" not in str(event.payload)


def test_non_sepa_iban_is_refused():
    with pytest.raises(ValidationFailed) as excinfo:
        services.courier_set_payout_account(
            courier=CourierFactory(), account_holder="Ada", iban="BR1800360305000010009795493C1"
        )

    assert "SEPA" in excinfo.value.errors["iban"][0]


@pytest.mark.parametrize(
    ("vehicle", "eligibility", "expected"),
    [
        (Vehicle.BIKE, WorkEligibility.EU_CITIZEN, ["id_document"]),
        (Vehicle.CAR, WorkEligibility.EU_CITIZEN, ["id_document", "driving_licence", "insurance"]),
        (
            Vehicle.NONE,
            WorkEligibility.WORK_PERMIT,
            ["id_document", "driving_licence", "right_to_work"],
        ),
    ],
)
def test_required_documents_follow_vehicle_and_eligibility(vehicle, eligibility, expected):
    courier = CourierFactory(vehicle=vehicle, work_eligibility=eligibility)

    assert required_document_kinds(courier=courier) == expected


def test_a_web_page_that_mentions_the_pdf_header_is_not_a_pdf():
    courier = CourierFactory()
    page = b"<html><script>alert(1)</script><p>%PDF-1.7 inside</p></html>\n%%EOF"

    with pytest.raises(ValidationFailed) as excinfo:
        services.document_upload(
            courier=courier,
            kind=DocumentKind.ID_DOCUMENT,
            upload=SimpleUploadedFile("licence.pdf", page),
            expires_on=timezone.localdate() + dt.timedelta(days=30),
        )

    assert excinfo.value.errors["file"] == [
        "The file is neither a PDF nor a JPEG, PNG or WebP image."
    ]


def test_documents_are_checked_by_content_not_by_name():
    courier = CourierFactory()
    disguised = SimpleUploadedFile("passport.png", b"MZ\x90\x00 this is a Windows program")

    with pytest.raises(ValidationFailed) as excinfo:
        services.document_upload(
            courier=courier,
            kind=DocumentKind.ID_DOCUMENT,
            upload=disguised,
            expires_on=timezone.localdate() + dt.timedelta(days=30),
        )

    assert excinfo.value.errors["file"] == [
        "The file is neither a PDF nor a JPEG, PNG or WebP image."
    ]
    assert not CourierDocument.objects.exists()


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((320, 240), 60).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(_jpeg_bytes()[: len(_jpeg_bytes()) // 2], id="jpeg-cut-in-half"),
        pytest.param(_jpeg_bytes()[:-50], id="jpeg-without-its-end"),
        pytest.param(b"%PDF-1.7\n1 0 obj << >> endobj\n", id="pdf-without-eof"),
    ],
)
def test_a_cut_off_upload_is_refused(content):
    with pytest.raises(ValidationFailed) as excinfo:
        services.document_upload(
            courier=CourierFactory(),
            kind=DocumentKind.ID_DOCUMENT,
            upload=SimpleUploadedFile("id.jpg", content),
            expires_on=timezone.localdate() + dt.timedelta(days=30),
        )

    assert "cut off" in excinfo.value.errors["file"][0]
    assert not CourierDocument.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (png_upload().read()[:-20], "neither a PDF nor"),  # a PNG without its end
        (b"", "empty"),
    ],
    ids=["png-without-its-end", "zero-bytes"],
)
def test_a_broken_or_empty_upload_is_refused(content, message):
    with pytest.raises(ValidationFailed) as excinfo:
        services.document_upload(
            courier=CourierFactory(),
            kind=DocumentKind.ID_DOCUMENT,
            upload=SimpleUploadedFile("id.png", content),
            expires_on=timezone.localdate() + dt.timedelta(days=30),
        )

    assert message in excinfo.value.errors["file"][0]
    assert not CourierDocument.objects.exists()


def test_a_whole_jpeg_is_accepted():
    document = services.document_upload(
        courier=CourierFactory(),
        kind=DocumentKind.ID_DOCUMENT,
        upload=SimpleUploadedFile("id.jpg", _jpeg_bytes()),
        expires_on=timezone.localdate() + dt.timedelta(days=30),
    )

    assert document.content_type == "image/jpeg"


def test_pdf_and_image_are_accepted_and_a_new_upload_supersedes_the_old():
    courier = CourierFactory()
    expiry = timezone.localdate() + dt.timedelta(days=365)

    first = services.document_upload(
        courier=courier, kind=DocumentKind.DRIVING_LICENCE, upload=pdf_upload(), expires_on=expiry
    )
    second = services.document_upload(
        courier=courier, kind=DocumentKind.DRIVING_LICENCE, upload=png_upload(), expires_on=expiry
    )

    first.refresh_from_db()
    assert (first.content_type, first.is_current) == ("application/pdf", False)
    assert (second.content_type, second.is_current) == ("image/png", True)
    assert second.file.name.startswith(f"workforce/documents/{courier.pk}/")
    assert "png" in second.file.name
    assert "id" not in second.file.name.rsplit("/", 1)[-1][:2]


def test_expiring_documents_need_a_future_expiry_date():
    courier = CourierFactory()

    with pytest.raises(ValidationFailed) as missing:
        services.document_upload(courier=courier, kind=DocumentKind.INSURANCE, upload=pdf_upload())
    with pytest.raises(ValidationFailed) as past:
        services.document_upload(
            courier=courier,
            kind=DocumentKind.INSURANCE,
            upload=pdf_upload(),
            expires_on=timezone.localdate() - dt.timedelta(days=1),
        )

    assert "expires_on" in missing.value.errors
    assert "expires_on" in past.value.errors


def test_submit_lists_what_is_missing_and_moves_nothing(hub):
    courier = CourierFactory()

    with pytest.raises(ValidationFailed) as excinfo:
        services.application_submit(courier=courier)

    assert excinfo.value.code == "application_incomplete"
    assert any("Payout account" in m for m in excinfo.value.errors["__all__"])
    courier.application.refresh_from_db()
    assert courier.application.status == ApplicationStatus.DRAFT


def test_complete_application_submits_and_then_is_locked(hub, django_capture_on_commit_callbacks):
    courier = complete_application(CourierFactory(), hub=hub)
    assert all(item.done for item in application_checklist(courier=courier))

    with django_capture_on_commit_callbacks(execute=True):
        application = services.application_submit(courier=courier)

    assert application.status == ApplicationStatus.SUBMITTED
    assert mail.outbox[-1].subject == "We received your courier application"
    with pytest.raises(Conflict):
        services.courier_update_details(courier=courier, changes={"city": "Potsdam"})


def test_changes_requested_reopens_the_application_for_edits(
    hub, django_capture_on_commit_callbacks
):
    courier = submitted_courier(hub=hub)
    reviewer = courier.user.__class__.objects.create(username="boss", is_staff=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.application_request_changes(
            application=courier.application, reviewer=reviewer, reason="ID photo is blurred."
        )
    services.document_upload(
        courier=courier,
        kind=DocumentKind.ID_DOCUMENT,
        upload=png_upload(),
        expires_on=timezone.localdate() + dt.timedelta(days=400),
    )
    application = services.application_submit(courier=courier)

    assert application.status == ApplicationStatus.SUBMITTED
    assert "ID photo is blurred." in mail.outbox[-1].body or "ID photo is blurred." in "".join(
        m.body for m in mail.outbox
    )


def test_expired_documents_are_flagged_once_and_the_courier_is_mailed(
    hub, django_capture_on_commit_callbacks
):
    # given: an approved courier whose ID expired yesterday
    courier = submitted_courier(hub=hub)
    document = courier.documents.get(is_current=True)
    CourierDocument.objects.filter(pk=document.pk).update(
        expires_on=timezone.localdate() - dt.timedelta(days=1)
    )

    # when: the daily task runs twice
    with django_capture_on_commit_callbacks(execute=True):
        first = flag_expired_documents_task.apply().get()
    with django_capture_on_commit_callbacks(execute=True):
        second = flag_expired_documents_task.apply().get()

    # then
    document.refresh_from_db()
    assert (first, second) == (1, 0)
    assert document.expiry_flagged_at is not None
    expiry_mails = [m for m in mail.outbox if m.subject.startswith("Please upload a new")]
    assert len(expiry_mails) == 1
    assert "Identity card or passport" in expiry_mails[0].subject
    assert courier.events.filter(kind=CourierEvent.Kind.DOCUMENT_EXPIRED).count() == 1


def test_terms_acceptance_is_recorded_once_with_version_and_time():
    courier = CourierFactory()

    first = services.courier_accept_terms(courier=courier, ip_address="203.0.113.9")
    again = services.courier_accept_terms(courier=courier)

    assert first.pk == again.pk
    assert first.version == "2026-01"
    assert first.accepted_at is not None
    with pytest.raises(ValidationFailed):
        services.courier_accept_terms(courier=courier, version="2019-01")
