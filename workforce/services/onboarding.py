"""Self-onboarding: sign-up with email verification, the application's steps, documents, submit.

The courier fills the application in while it is a draft or sent back for changes; every
change writes a timeline row. The IBAN is encrypted before it reaches the database and never
logged; document files are checked by content before they are stored.
"""

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import Conflict, ValidationFailed
from lastmile.core.phones import parse_phone
from lastmile.core.skills import validate_skills
from lastmile.core.state import transition
from lastmile.core.uploads import check_document_upload
from lastmile.hubs.models import Hub
from workforce import crypto, events
from workforce.banking import check_bic, check_iban
from workforce.errors import WorkforceErrorCode
from workforce.models import (
    APPLICATION_TRANSITIONS,
    EXPIRING_KINDS,
    ApplicationStatus,
    Courier,
    CourierApplication,
    CourierDocument,
    CourierKind,
    CourierStatus,
    DocumentKind,
    TermsAcceptance,
    Vehicle,
    WorkEligibility,
)
from workforce.selectors import application_checklist
from workforce.services.common import notify_after_commit
from workforce.services.payouts import payout_batches_hold_for_account_change

logger = logging.getLogger(__name__)

MIN_AGE_YEARS = 18


def _lock(courier: Courier) -> Courier:
    return (
        Courier.objects.select_for_update(of=("self",))
        .select_related("user", "application")
        .get(pk=courier.pk)
    )


def _require_editable(courier: Courier) -> None:
    application = courier.application
    if not application.is_editable:
        raise Conflict(
            f"Your application is {application.get_status_display().lower()}; "
            "it cannot be changed now.",
            code=WorkforceErrorCode.APPLICATION_LOCKED,
        )


# --- Sign-up and verification --------------------------------------------------------------


@transaction.atomic
def courier_sign_up(*, email: str, password: str) -> Courier | None:
    """Create an inactive account, its courier profile and a draft application.

    The account becomes active when the emailed link is opened. An address already in use
    gets a "you already have an account" mail instead, and the caller shows the same page
    either way, so the form does not reveal who has an account. Returns ``None`` then.
    """
    email = User.objects.normalize_email(email.strip()).lower()
    # The username is the address too: an account named by it (made in the back-office, or
    # whose address changed since) is taken just the same, and must not surface as an error.
    existing = (
        User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email[:150]))
        .order_by("pk")
        .first()
    )
    if existing is not None:
        return _sign_up_taken(existing)
    user = User(username=email[:150], email=email, is_active=False)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(
            "Choose another password.", errors={"password": list(exc.messages)}
        ) from None
    user.set_password(password)
    user.full_clean(exclude=["password"], validate_unique=False)
    try:
        # A savepoint: two sign-ups with one address at once leave one account, not a 500.
        with transaction.atomic():
            user.save()
    except IntegrityError:
        taken = User.objects.filter(Q(email__iexact=email) | Q(username=user.username))
        return _sign_up_taken(taken.order_by("pk").first())
    courier = Courier.objects.create(user=user)
    CourierApplication.objects.create(courier=courier)
    events.courier_signed_up(courier=courier, actor=user)
    notify_after_commit(courier.pk, "verify_email")
    logger.info("workforce: courier signed up", extra={"courier_id": courier.pk})
    return courier


def _sign_up_taken(existing: User | None) -> None:
    """Tell the owner of the address, if it is a courier, that they already have an account."""
    courier = Courier.objects.filter(user=existing).first() if existing else None
    if courier is not None:
        notify_after_commit(courier.pk, "account_exists")
    logger.info(
        "workforce: sign-up for an existing address",
        extra={"user_id": existing.pk if existing else None},
    )


@transaction.atomic
def courier_verify_email(*, user: User) -> Courier:
    """Activate the account whose verification link was opened. Repeating it changes nothing."""
    courier = _lock(Courier.objects.get(user=user))
    if courier.email_verified_at is None:
        now = timezone.now()
        courier.email_verified_at = now
        courier.save(update_fields=["email_verified_at", "updated_at"])
        User.objects.filter(pk=user.pk).update(is_active=True)
        events.courier_email_verified(courier=courier, actor=user)
    return courier


def courier_resend_verification(*, email: str) -> None:
    """Send the link again to an unverified account; unknown addresses get nothing (quietly)."""
    courier = (
        Courier.objects.filter(user__email__iexact=email.strip(), email_verified_at__isnull=True)
        .only("pk")
        .first()
    )
    if courier is not None:
        with transaction.atomic():
            notify_after_commit(courier.pk, "verify_email")


# --- Application steps ----------------------------------------------------------------------

PERSONAL_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "phone",
        "date_of_birth",
        "street_address",
        "postcode",
        "city",
        "country",
    }
)
ELIGIBILITY_FIELDS = frozenset({"work_eligibility", "nationality"})
VEHICLE_FIELDS = frozenset({"kind", "home_hub", "vehicle", "skills"})
USER_FIELDS = frozenset({"first_name", "last_name", "phone"})


def _clean_changes(changes: dict[str, Any], today: dt.date) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned = dict(changes)
    if "phone" in cleaned:
        try:
            phone = parse_phone(cleaned["phone"])
        except ValidationError as exc:
            errors["phone"] = exc.messages
        else:
            cleaned["phone"] = str(phone) if phone else ""
    born = cleaned.get("date_of_birth")
    if born and not today.year - 100 <= born.year <= today.year:
        # Checked first: the 18th birthday of a year-9999 date is not a date at all.
        errors["date_of_birth"] = ["Check the year of birth."]
    elif born:
        adult_on = (
            born.replace(year=born.year + MIN_AGE_YEARS)
            if not (born.month == 2 and born.day == 29)
            else dt.date(born.year + MIN_AGE_YEARS, 3, 1)
        )
        if adult_on > today:
            errors["date_of_birth"] = [f"Couriers must be at least {MIN_AGE_YEARS} years old."]
    for name in ("country", "nationality"):
        if cleaned.get(name):
            cleaned[name] = cleaned[name].strip().upper()
            if len(cleaned[name]) != 2 or not cleaned[name].isalpha():
                errors[name] = ["Use the two-letter country code, e.g. DE."]
    if "work_eligibility" in cleaned and cleaned["work_eligibility"] not in WorkEligibility.values:
        errors["work_eligibility"] = ["Choose one of the options."]
    if "vehicle" in cleaned and cleaned["vehicle"] not in Vehicle.values:
        errors["vehicle"] = ["Choose one of the options."]
    if "kind" in cleaned and cleaned["kind"] not in CourierKind.values:
        errors["kind"] = ["Choose one of the options."]
    if "home_hub" in cleaned:
        hub = cleaned["home_hub"]
        if not isinstance(hub, Hub) or not hub.is_active:
            errors["home_hub"] = ["Choose an open hub."]
    if "skills" in cleaned:
        cleaned["skills"] = sorted(set(cleaned["skills"] or []))
        try:
            validate_skills(cleaned["skills"])
        except ValidationError as exc:
            errors["skills"] = exc.messages
    if errors:
        raise ValidationFailed("Some answers need a change.", errors=errors)
    return cleaned


@transaction.atomic
def courier_update_details(
    *, courier: Courier, changes: dict[str, Any], actor: User | None = None
) -> Courier:
    """Save one step of the application (personal, eligibility or vehicle answers).

    Only the application's own fields may change, and only while it is a draft or sent back
    for changes. Unchanged values write nothing; changes write one ``details_updated`` row
    naming the fields (never their values).
    """
    allowed = PERSONAL_FIELDS | ELIGIBILITY_FIELDS | VEHICLE_FIELDS
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed here.",
            errors={name: ["Not editable."] for name in sorted(unknown)},
        )
    locked = _lock(courier)
    _require_editable(locked)
    cleaned = _clean_changes(changes, timezone.localdate())
    user = locked.user
    changed_user, changed_courier = [], []
    for name, value in cleaned.items():
        target = user if name in USER_FIELDS else locked
        current = getattr(target, "home_hub" if name == "home_hub" else name)
        if current != value:
            setattr(target, name, value)
            (changed_user if target is user else changed_courier).append(name)
    if changed_user:
        user.save(update_fields=changed_user)
    if changed_courier:
        locked.full_clean(exclude=["user"], validate_unique=False, validate_constraints=False)
        locked.save(update_fields=[*changed_courier, "updated_at"])
    if changed_user or changed_courier:
        events.courier_details_updated(
            courier=locked, fields=changed_user + changed_courier, actor=actor
        )
    return locked


@transaction.atomic
def courier_set_payout_account(
    *, courier: Courier, account_holder: str, iban: str, bic: str = "", actor: User | None = None
) -> Courier:
    """Store the account payouts go to: IBAN checked (checksum, SEPA country) and encrypted.

    Allowed while the application is with the courier, and for active couriers (people change
    banks). A change on an approved account mails the courier, so a hijacked session cannot
    divert pay unnoticed, and puts the courier's approved, unexported payout batches on hold
    ("account changed") until finance releases them. The IBAN is never logged and never
    leaves this function in clear.
    """
    errors: dict[str, list[str]] = {}
    holder = " ".join(account_holder.split())
    if not holder:
        errors["account_holder"] = ["Give the account holder's name."]
    try:
        checked = check_iban(iban)
    except ValidationError as exc:
        errors["iban"] = exc.messages
    try:
        clean_bic = check_bic(bic)
    except ValidationError as exc:
        errors["bic"] = exc.messages
    if errors:
        raise ValidationFailed("The payout account is not valid.", errors=errors)
    locked = _lock(courier)
    if not (locked.application.is_editable or locked.status == CourierStatus.ACTIVE):
        _require_editable(locked)
    previous = locked.iban_last4
    locked.account_holder = holder[:70]
    locked.iban_encrypted = crypto.encrypt(checked.compact)
    locked.iban_country, locked.iban_last4 = checked.country, checked.last4
    locked.bic = clean_bic
    locked.save(
        update_fields=[
            "account_holder",
            "iban_encrypted",
            "iban_country",
            "iban_last4",
            "bic",
            "updated_at",
        ]
    )
    events.courier_payout_account_changed(courier=locked, actor=actor)
    if previous and locked.application.status == ApplicationStatus.APPROVED:
        notify_after_commit(locked.pk, "payout_account_changed", iban=locked.iban_masked)
    # Approved batches were approved with the old account: they wait for finance to check.
    payout_batches_hold_for_account_change(courier=locked, actor=actor)
    return locked


@transaction.atomic
def courier_accept_terms(
    *, courier: Courier, version: str | None = None, ip_address: str | None = None
) -> TermsAcceptance:
    """Record that the courier accepted the current terms. Accepting again changes nothing."""
    version = version or settings.WORKFORCE_TERMS_VERSION
    if version != settings.WORKFORCE_TERMS_VERSION:
        raise ValidationFailed(
            "These terms are out of date; read the current ones.",
            code=WorkforceErrorCode.TERMS_OUTDATED,
        )
    locked = _lock(courier)
    acceptance = TermsAcceptance.objects.filter(courier=locked, version=version).first()
    if acceptance is None:
        acceptance = TermsAcceptance.objects.create(
            courier=locked, version=version, accepted_at=timezone.now(), ip_address=ip_address
        )
        events.courier_terms_accepted(acceptance=acceptance, actor=locked.user)
    return acceptance


# --- Documents ------------------------------------------------------------------------------


@transaction.atomic
def document_upload(
    *,
    courier: Courier,
    kind: str,
    upload: UploadedFile,
    expires_on: dt.date | None = None,
    actor: User | None = None,
) -> CourierDocument:
    """Store a document after checking its content (PDF or image, ≤ 10 MB) and expiry.

    A new upload of a kind supersedes the previous one. Allowed while the application is with
    the courier, and for approved couriers replacing a document (an expired licence).
    """
    errors: dict[str, list[str]] = {}
    if kind not in DocumentKind.values:
        errors["kind"] = ["Choose the kind of document."]
    try:
        checked = check_document_upload(upload)
    except ValidationError as exc:
        errors["file"] = exc.messages
    today = timezone.localdate()
    if kind in EXPIRING_KINDS and expires_on is None:
        errors["expires_on"] = ["Give the date this document expires."]
    elif expires_on is not None and expires_on < today:
        errors["expires_on"] = ["This document has expired; upload a valid one."]
    if errors:
        raise ValidationFailed("The document was not accepted.", errors=errors)
    locked = _lock(courier)
    if locked.application.status != ApplicationStatus.APPROVED:
        _require_editable(locked)
    now = timezone.now()
    CourierDocument.objects.filter(courier=locked, kind=kind, is_current=True).update(
        is_current=False, superseded_at=now, updated_at=now
    )
    document = CourierDocument(
        courier=locked,
        kind=kind,
        content_type=checked.content_type,
        size_bytes=checked.size_bytes,
        sha256=checked.sha256,
        original_name=(upload.name or "")[-120:],
        expires_on=expires_on,
        uploaded_by=actor,
    )
    document.file.save("upload", upload, save=False)
    document.save()
    events.courier_document_uploaded(courier=locked, document=document, actor=actor)
    logger.info(
        "workforce: document stored",
        extra={"courier_id": locked.pk, "document_id": document.pk, "kind": kind},
    )
    return document


# --- Submission -----------------------------------------------------------------------------


@transaction.atomic
def application_submit(*, courier: Courier, actor: User | None = None) -> CourierApplication:
    """Hand the application in for vetting (draft or changes requested → submitted).

    Every checklist step must be done; otherwise nothing moves and the error lists what is
    missing. Submitting a submitted application is a no-op.
    """
    locked = _lock(courier)
    application = CourierApplication.objects.select_for_update().get(pk=locked.application.pk)
    target = ApplicationStatus.SUBMITTED
    if application.status == target:
        return application
    missing = [item for item in application_checklist(courier=locked) if not item.done]
    if missing and application.is_editable:
        raise ValidationFailed(
            "Some steps are not done yet.",
            code=WorkforceErrorCode.APPLICATION_INCOMPLETE,
            errors={"__all__": [f"{item.label}: {item.detail or 'missing'}" for item in missing]},
        )
    now = timezone.now()
    submitted = transition(
        application,
        table=APPLICATION_TRANSITIONS,
        entity="Application",
        target=target,
        record=lambda row, previous, at: events.application_status_changed(
            courier=locked, from_status=previous, to_status=target, actor=actor, occurred_at=at
        ),
        fields={"status_changed_at": now, "submitted_at": now},
        now=now,
    ).row
    notify_after_commit(locked.pk, "application_received")
    return submitted


# --- Expiry ---------------------------------------------------------------------------------


def documents_flag_expired(*, today: dt.date | None = None, limit: int = 500) -> int:
    """Flag up to ``limit`` current documents that expired before ``today`` and mail their
    couriers to upload a new one. Each document is flagged once (its own transaction)."""
    today = today or timezone.localdate()
    due = list(
        CourierDocument.objects.filter(
            is_current=True, expiry_flagged_at__isnull=True, expires_on__lt=today
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for document_id in due:
        with transaction.atomic():
            document = (
                CourierDocument.objects.select_for_update(of=("self",))
                .select_related("courier")
                .get(pk=document_id)
            )
            if document.expiry_flagged_at is not None or not document.is_current:
                continue
            document.expiry_flagged_at = timezone.now()
            document.save(update_fields=["expiry_flagged_at", "updated_at"])
            events.courier_document_expired(document=document)
            notify_after_commit(
                document.courier_id,
                "document_expired",
                kind=document.get_kind_display(),
                expired_on=document.expires_on.isoformat(),
            )
    if due:
        logger.info("workforce: expired documents flagged", extra={"count": len(due)})
    return len(due)
