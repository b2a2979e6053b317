"""The courier's timeline (``CourierEvent``) and the payout batches' audit trail
(``PayoutBatchEvent``): one constructor per kind, the only writers of either table.

Services call these inside the transaction of the change they record. Rows name what
changed, never personal values (an IBAN appears masked, details by field name only).
"""

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from lastmile.accounts.models import User
from workforce.models import (
    Courier,
    CourierDocument,
    CourierEvent,
    PayoutBatch,
    PayoutBatchEvent,
    Shift,
    TermsAcceptance,
)


def _record(
    courier: Courier,
    *,
    kind: str,
    actor: User | None = None,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> CourierEvent:
    return CourierEvent.objects.create(
        courier=courier,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        note=note,
        payload=payload or {},
        occurred_at=occurred_at or timezone.now(),
    )


# --- The courier's timeline -----------------------------------------------------------------


def courier_signed_up(*, courier: Courier, actor: User | None) -> CourierEvent:
    """Someone signed up as a courier (the account waits for email verification)."""
    return _record(courier, kind=CourierEvent.Kind.SIGNED_UP, actor=actor)


def courier_email_verified(*, courier: Courier, actor: User | None) -> CourierEvent:
    """The verification link was opened: the account is active."""
    return _record(courier, kind=CourierEvent.Kind.EMAIL_VERIFIED, actor=actor)


def courier_details_updated(
    *, courier: Courier, fields: Iterable[str], actor: User | None = None
) -> CourierEvent:
    """Answers of the application changed; the row names the fields, never their values."""
    return _record(
        courier,
        kind=CourierEvent.Kind.DETAILS_UPDATED,
        actor=actor,
        payload={"fields": sorted(fields)},
    )


def courier_payout_account_changed(*, courier: Courier, actor: User | None = None) -> CourierEvent:
    """The account payouts go to changed (shown masked)."""
    return _record(
        courier,
        kind=CourierEvent.Kind.PAYOUT_ACCOUNT_CHANGED,
        actor=actor,
        payload={"iban": courier.iban_masked},
    )


def courier_document_uploaded(
    *, courier: Courier, document: CourierDocument, actor: User | None = None
) -> CourierEvent:
    """A document was stored (it supersedes any earlier one of its kind)."""
    return _record(
        courier,
        kind=CourierEvent.Kind.DOCUMENT_UPLOADED,
        actor=actor,
        payload={"document": document.pk, "kind": document.kind},
    )


def courier_document_expired(*, document: CourierDocument) -> CourierEvent:
    """A current document passed its expiry date (flagged once, by the daily sweep)."""
    return _record(
        document.courier,
        kind=CourierEvent.Kind.DOCUMENT_EXPIRED,
        payload={"document": document.pk, "kind": document.kind},
    )


def courier_terms_accepted(*, acceptance: TermsAcceptance, actor: User | None) -> CourierEvent:
    """The courier accepted a version of the terms."""
    return _record(
        acceptance.courier,
        kind=CourierEvent.Kind.TERMS_ACCEPTED,
        actor=actor,
        payload={"version": acceptance.version},
    )


def application_status_changed(
    *,
    courier: Courier,
    from_status: str,
    to_status: str,
    actor: User | None = None,
    note: str = "",
    occurred_at: dt.datetime | None = None,
) -> CourierEvent:
    """The courier's application moved (submitted, in review, decided); ``note`` is the
    decision's."""
    return _record(
        courier,
        kind=CourierEvent.Kind.APPLICATION_STATUS,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        note=note,
        occurred_at=occurred_at,
    )


def courier_status_changed(
    *,
    courier: Courier,
    from_status: str,
    to_status: str,
    actor: User | None = None,
    note: str = "",
    occurred_at: dt.datetime | None = None,
) -> CourierEvent:
    """The courier became active, was suspended or offboarded, and why."""
    return _record(
        courier,
        kind=CourierEvent.Kind.COURIER_STATUS,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        note=note,
        occurred_at=occurred_at,
    )


def shift_status_changed(
    *,
    shift: Shift,
    to_status: str,
    from_status: str = "",
    actor: User | None = None,
    occurred_at: dt.datetime | None = None,
) -> CourierEvent:
    """A shift of the courier was scheduled, started, completed or cancelled."""
    return _record(
        shift.courier,
        kind=CourierEvent.Kind.SHIFT_STATUS,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        payload={"shift": shift.pk},
        occurred_at=occurred_at,
    )


# --- Payout batches -------------------------------------------------------------------------


def payout_batch_status_changed(
    *,
    batch: PayoutBatch,
    to_status: str,
    from_status: str = "",
    actor: User | None = None,
    note: str = "",
    occurred_at: dt.datetime | None = None,
) -> PayoutBatchEvent:
    """A batch was closed (no ``from_status``) or moved on: approved, held, exported, paid."""
    return PayoutBatchEvent.objects.create(
        batch=batch,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        note=note,
        occurred_at=occurred_at or timezone.now(),
    )
