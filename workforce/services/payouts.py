"""Weekly payout batches, exactly once, their approval, and the SEPA file for the bank.

Closing a week is idempotent at two levels: the week's row (``PayoutWeek.week_start`` is
unique, so a second closer waits for the first and then finds the week closed) and the batch
(unique per courier and week). Each courier's unbatched entries are locked before they are
summed and the batch takes exactly the rows it summed, so an entry is paid once; an entry
written after its week closed is swept into the next week's batch.
"""

import datetime as dt
import logging
import secrets
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import (
    ApplicationError,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from lastmile.core.state import check_transition, transition
from workforce import crypto, events
from workforce.banking import check_bic, check_iban
from workforce.errors import WorkforceErrorCode
from workforce.exports import Debtor, Transfer, build_pain001
from workforce.models import (
    PAYOUT_TRANSITIONS,
    Courier,
    EarningEntry,
    PayoutBatch,
    PayoutExport,
    PayoutStatus,
    PayoutWeek,
)

PS = PayoutStatus

logger = logging.getLogger(__name__)


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def week_bounds(week_start: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Monday 00:00 to the next Monday 00:00 in the back-office zone (aware)."""
    start = dt.datetime.combine(week_start, dt.time(0), tzinfo=_zone())
    return start, dt.datetime.combine(week_start + dt.timedelta(days=7), dt.time(0), tzinfo=_zone())


def last_completed_week(now: dt.datetime | None = None) -> dt.date:
    """The Monday of the last week that has fully ended."""
    today = timezone.localtime(now or timezone.now(), _zone()).date()
    return today - dt.timedelta(days=today.weekday() + 7)


# The beat closes last week on Mondays at 03:00 (settings); a week still open an hour after
# that lost its run (a broker restart, a worker killed mid-close rolled it back).
OVERDUE_AFTER = dt.timedelta(hours=4)


def payout_week_overdue(now: dt.datetime | None = None) -> dt.date | None:
    """The Monday of the last ended week if its Monday close never happened, else ``None``."""
    now = now or timezone.now()
    monday = last_completed_week(now)
    _, end = week_bounds(monday)
    if now < end + OVERDUE_AFTER or PayoutWeek.objects.filter(week_start=monday).exists():
        return None
    return monday


@dataclass
class WeekCloseResult:
    week: PayoutWeek
    created: list[PayoutBatch] = field(default_factory=list)
    already_closed: bool = False
    carried_over: list[int] = field(default_factory=list)  # couriers whose balance was ≤ 0


def _close_courier(
    week: PayoutWeek, courier_id: int, *, until: dt.datetime, actor: User | None
) -> PayoutBatch | None:
    currency = settings.WORKFORCE_PAYOUT_CURRENCY
    entries = list(
        EarningEntry.objects.select_for_update()
        .filter(courier_id=courier_id, batch__isnull=True, earned_at__lt=until, currency=currency)
        .order_by("pk")
        .values_list("pk", "amount_minor")
    )
    total = sum(amount for _, amount in entries)
    if not entries or total <= 0:
        return None  # nothing, or corrections exceed earnings: carried over to next week
    batch = PayoutBatch.objects.create(
        courier_id=courier_id,
        week=week,
        currency=currency,
        total_minor=total,
        entry_count=len(entries),
        status=PayoutStatus.CLOSED,
        status_changed_at=timezone.now(),
        end_to_end_id=f"LM-{week.week_start:%Y%m%d}-{courier_id}",
    )
    taken = EarningEntry.objects.filter(
        pk__in=[pk for pk, _ in entries], batch__isnull=True
    ).update(batch=batch)
    if taken != len(entries):
        # The rows were locked above; anything else is a bug, and the batch must not be wrong.
        raise RuntimeError(f"payout batch {batch.pk}: took {taken} of {len(entries)} entries")
    events.payout_batch_status_changed(batch=batch, to_status=PayoutStatus.CLOSED, actor=actor)
    return batch


@transaction.atomic
def payout_week_close(
    *, week_start: dt.date, actor: User | None = None, now: dt.datetime | None = None
) -> WeekCloseResult:
    """Close a pay week: one batch per courier with a positive unpaid balance up to its end.

    The week must have ended. Every entry earned before the week's end and not yet in a
    batch is taken — including late entries of earlier weeks. Closing a closed week returns
    its batches and creates nothing.
    """
    if week_start.weekday() != 0:
        raise ValidationFailed("A pay week starts on a Monday.", errors={"week": ["Not a Monday."]})
    _, end = week_bounds(week_start)
    now = now or timezone.now()
    if end > now:
        raise ValidationFailed(
            "This week has not ended yet.",
            code=WorkforceErrorCode.WEEK_NOT_OVER,
            errors={"week": ["Not over."]},
        )
    week, created = PayoutWeek.objects.get_or_create(
        week_start=week_start, defaults={"closed_at": now, "closed_by": actor}
    )
    if not created:
        return WeekCloseResult(week=week, created=[], already_closed=True)
    result = WeekCloseResult(week=week)
    courier_ids = (
        EarningEntry.objects.filter(batch__isnull=True, earned_at__lt=end)
        .order_by("courier_id")
        .values_list("courier_id", flat=True)
        .distinct()
    )
    for courier_id in list(courier_ids):  # pk order: row locks always taken in the same order
        batch = _close_courier(week, courier_id, until=end, actor=actor)
        if batch is None:
            result.carried_over.append(courier_id)
        else:
            result.created.append(batch)
    week.batch_count = len(result.created)
    week.total_minor = sum(batch.total_minor for batch in result.created)
    week.save(update_fields=["batch_count", "total_minor", "updated_at"])
    logger.info(
        "workforce: payout week closed",
        extra={
            "week_start": week_start.isoformat(),
            "batches": week.batch_count,
            "total_minor": week.total_minor,
        },
    )
    return result


# --- Batch moves ----------------------------------------------------------------------------

# Stands for "the moment of the move" in a batch's timestamp fields.
_NOW = object()


def _move_batch(
    batch: PayoutBatch,
    *,
    target: str,
    actor: User | None,
    note: str = "",
    fields: dict | None = None,
) -> PayoutBatch:
    """Move ``batch`` with ``fields`` (``_NOW`` for the move's moment); the fresh row."""
    now = timezone.now()
    return transition(
        batch,
        table=PAYOUT_TRANSITIONS,
        entity="Payout",
        target=target,
        record=lambda row, previous, at: events.payout_batch_status_changed(
            batch=row,
            from_status=previous,
            to_status=target,
            actor=actor,
            note=note,
            occurred_at=at,
        ),
        fields={
            "status_changed_at": now,
            **{name: now if value is _NOW else value for name, value in (fields or {}).items()},
        },
        now=now,
    ).row


def _refuse_from(batch: PayoutBatch, *states: str, target: str) -> None:
    # Two services lead to "approved"; each owns some of the table's sources.
    current = PayoutBatch.objects.values_list("status", flat=True).get(pk=batch.pk)
    if current in states:
        raise InvalidTransition(entity="Payout", current=current, target=target)


class PayoutAccountChanged(InvalidTransition):
    """An export was asked for a batch held because its courier's account changed."""

    code = WorkforceErrorCode.PAYOUT_ACCOUNT_CHANGED

    def __init__(self, *, batch: PayoutBatch) -> None:
        super().__init__(
            entity=f"Payout {batch.end_to_end_id}", current=batch.status, target=PS.EXPORTED
        )
        self.message = (
            f"{batch} is held: the courier's payout account changed after approval. Check "
            "the new account and release the hold before exporting. Nothing was exported."
        )
        self.args = (self.message,)


def _lock_courier(courier_id: int) -> Courier:
    # Approving, releasing and changing an account all lock the courier before the batches,
    # so a change of account and an approval cannot pass each other unseen.
    return Courier.objects.select_for_update().get(pk=courier_id)


def _payee_fields(courier: Courier) -> dict:
    """The courier's current payout account as the batch's snapshot (under the newest key)."""
    if not courier.iban_encrypted:
        raise ValidationFailed(
            "The courier has no payout account; hold the batch until they add one.",
            code=WorkforceErrorCode.PAYOUT_ACCOUNT_MISSING,
        )
    try:
        token = crypto.rotate(courier.iban_encrypted)
    except crypto.InvalidToken:
        raise ValidationFailed(
            "The courier's IBAN cannot be decrypted with the configured keys "
            "(WORKFORCE_FIELD_ENCRYPTION_KEYS lacks the key it was stored with); restore that "
            "key or ask the courier to enter the IBAN again.",
            code=WorkforceErrorCode.PAYOUT_ACCOUNT_UNREADABLE,
        ) from None
    return {
        "payee_name": courier.account_holder or str(courier),
        "payee_iban_encrypted": token,
        "payee_iban_country": courier.iban_country,
        "payee_iban_last4": courier.iban_last4,
        "payee_bic": courier.bic,
    }


def _payee_differs(batch: PayoutBatch, courier: Courier) -> bool:
    """Does the courier's current account differ from the one approved on the batch?"""
    if (batch.payee_name, batch.payee_bic) != (courier.account_holder or str(courier), courier.bic):
        return True
    if not (batch.payee_iban_encrypted and courier.iban_encrypted):
        return batch.payee_iban_encrypted != courier.iban_encrypted
    try:
        return crypto.decrypt(batch.payee_iban_encrypted) != crypto.decrypt(courier.iban_encrypted)
    except crypto.InvalidToken:
        return True  # what cannot be compared is treated as changed: a person looks at it


def _status(batch: PayoutBatch) -> str:
    return PayoutBatch.objects.values_list("status", flat=True).get(pk=batch.pk)


@transaction.atomic
def payout_batch_approve(*, batch: PayoutBatch, actor: User) -> PayoutBatch:
    """A manager approves a closed (or held) batch for payment, and with it the account it is
    paid to: the courier's payout account is copied onto the batch, which the SEPA export
    pays. Refused when the courier has no readable account. A batch held because its
    account changed is released with :func:`payout_batch_release_account_hold`."""
    courier = _lock_courier(batch.courier_id)
    _refuse_from(batch, PS.EXPORTED, PS.ACCOUNT_CHANGED, target=PayoutStatus.APPROVED)
    if _status(batch) == PayoutStatus.APPROVED:
        return PayoutBatch.objects.get(pk=batch.pk)  # approving twice changes nothing
    return _move_batch(
        batch,
        target=PayoutStatus.APPROVED,
        actor=actor,
        fields={
            "approved_by": actor,
            "approved_at": _NOW,
            "hold_reason": "",
            **_payee_fields(courier),
        },
    )


@transaction.atomic
def payout_batch_hold(*, batch: PayoutBatch, actor: User, reason: str) -> PayoutBatch:
    """Stop a batch from being paid until it is approved again (a query, a missing account)."""
    if not reason.strip():
        raise ValidationFailed("Say why it is held.", errors={"reason": ["Give a reason."]})
    return _move_batch(
        batch,
        target=PayoutStatus.ON_HOLD,
        actor=actor,
        note=reason.strip(),
        fields={"hold_reason": reason.strip()[:255]},
    )


def payout_batches_hold_for_account_change(
    *, courier: Courier, actor: User | None
) -> list[PayoutBatch]:
    """Hold the courier's approved, unexported batches whose approved account differs from
    the courier's current one (approved → account changed, with the reason on the batch and
    its event), so a changed IBAN never silently redirects an approved payment.

    Runs inside the caller's transaction, which has locked ``courier`` and saved its new
    account. Returns the batches it held.
    """
    approved = (
        PayoutBatch.objects.select_for_update()
        .filter(courier=courier, status=PayoutStatus.APPROVED)
        .order_by("pk")
    )
    reason = (
        f"The courier changed their payout account after approval (now "
        f"{courier.iban_masked or 'none'}); check it with them, then release the hold."
    )
    held = []
    for batch in approved:
        if _payee_differs(batch, courier):
            held.append(
                _move_batch(
                    batch,
                    target=PayoutStatus.ACCOUNT_CHANGED,
                    actor=actor,
                    note=reason,
                    fields={"hold_reason": reason[:255]},
                )
            )
    if held:
        logger.info(
            "workforce: payouts held after an account change",
            extra={"courier_id": courier.pk, "batch_ids": [b.pk for b in held]},
        )
    return held


@transaction.atomic
def payout_batch_release_account_hold(*, batch: PayoutBatch, actor: User) -> PayoutBatch:
    """Finance has checked the courier's new account: the batch is approved again, to the
    account the courier has now (copied onto the batch), with ``actor`` as its approver."""
    courier = _lock_courier(batch.courier_id)
    _refuse_from(batch, PS.CLOSED, PS.ON_HOLD, PS.EXPORTED, PS.PAID, target=PayoutStatus.APPROVED)
    if _status(batch) == PayoutStatus.APPROVED:
        return PayoutBatch.objects.get(pk=batch.pk)
    payee = _payee_fields(courier)
    return _move_batch(
        batch,
        target=PayoutStatus.APPROVED,
        actor=actor,
        note=f"Account checked and released: {courier.iban_masked}",
        fields={"approved_by": actor, "approved_at": _NOW, "hold_reason": "", **payee},
    )


@transaction.atomic
def payout_batch_mark_paid(*, batch: PayoutBatch, actor: User) -> PayoutBatch:
    """The bank confirmed the transfer (exported → paid)."""
    return _move_batch(batch, target=PayoutStatus.PAID, actor=actor, fields={"paid_at": _NOW})


@transaction.atomic
def payout_batch_return_to_approved(*, batch: PayoutBatch, actor: User, reason: str) -> PayoutBatch:
    """The bank refused the file: the batch goes back to approved, for the next export — or
    on to "account changed" when the courier's account changed since it was approved."""
    courier = _lock_courier(batch.courier_id)
    _refuse_from(batch, PS.CLOSED, PS.ON_HOLD, PS.ACCOUNT_CHANGED, target=PayoutStatus.APPROVED)
    if not reason.strip():
        raise ValidationFailed("Say what the bank answered.", errors={"reason": ["Required."]})
    batch = _move_batch(batch, target=PayoutStatus.APPROVED, actor=actor, note=reason.strip())
    held = payout_batches_hold_for_account_change(courier=courier, actor=actor)
    return next((b for b in held if b.pk == batch.pk), batch)


# --- SEPA export ----------------------------------------------------------------------------


def sepa_debtor() -> Debtor:
    """The paying account from settings, validated; a clear error when it is not configured."""
    name = settings.WORKFORCE_SEPA_DEBTOR_NAME.strip()
    try:
        iban = check_iban(settings.WORKFORCE_SEPA_DEBTOR_IBAN).compact
        bic = check_bic(settings.WORKFORCE_SEPA_DEBTOR_BIC)
    except ValidationError:
        iban, bic = "", ""
    if not (name and iban and bic):
        raise ApplicationError(
            "The paying account is not configured: set WORKFORCE_SEPA_DEBTOR_NAME, "
            "WORKFORCE_SEPA_DEBTOR_IBAN and WORKFORCE_SEPA_DEBTOR_BIC.",
            code=WorkforceErrorCode.SEPA_DEBTOR_MISSING,
        )
    return Debtor(name=name, iban=iban, bic=bic)


def _next_business_day(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@transaction.atomic
def payout_export_sepa(
    *,
    batch_ids: list[int],
    actor: User | None,
    execution_date: dt.date | None = None,
) -> PayoutExport:
    """Write one pain.001.001.03 file paying the approved batches, and mark them exported.

    Each batch is paid to the account approved with it (its payee snapshot), never the
    courier's current one. Refused, writing nothing and naming the batches, when a batch is
    not approved (a batch held for an account change says so), when ``actor`` approved one
    of them and ``WORKFORCE_PAYOUT_FOUR_EYES`` is on, or when an approved account is missing
    or cannot be decrypted. The file is kept (outside the web root) as the record of what
    was sent.
    """
    debtor = sepa_debtor()
    batches = list(
        PayoutBatch.objects.select_for_update(of=("self",))
        .select_related("courier__user", "week")
        .filter(pk__in=batch_ids)
        .order_by("pk")
    )
    if not batches:
        raise ValidationFailed("Choose at least one batch.", code=WorkforceErrorCode.NO_BATCHES)
    for batch in batches:
        if batch.status == PayoutStatus.ACCOUNT_CHANGED:
            raise PayoutAccountChanged(batch=batch)
        # Only approved batches may be paid: anything else is a refused move of its machine.
        check_transition(
            PAYOUT_TRANSITIONS,
            entity=f"Payout {batch.end_to_end_id}",
            current=batch.status,
            target=PayoutStatus.EXPORTED,
        )
        if batch.status != PayoutStatus.APPROVED:
            raise InvalidTransition(
                entity=f"Payout {batch.end_to_end_id}",
                current=batch.status,
                target=PayoutStatus.EXPORTED,
            )
    if settings.WORKFORCE_PAYOUT_FOUR_EYES and actor is not None:
        own = [str(batch) for batch in batches if batch.approved_by_id == actor.pk]
        if own:
            raise PermissionDenied(
                "Four eyes: you approved "
                + ("this batch" if len(own) == 1 else f"{len(own)} of these batches")
                + " yourself, so another finance user must export it. Nothing was exported.",
                code=WorkforceErrorCode.PAYOUT_FOUR_EYES,
                errors={"__all__": own},
            )
    transfers, problems = [], []
    for batch in batches:
        try:
            transfers.append(_transfer(batch))
        except _PayeeProblem as exc:
            problems.append(f"{batch}: {exc}")
    if problems:
        raise ValidationFailed(
            "Nothing was exported.",
            code=WorkforceErrorCode.EXPORT_REFUSED,
            errors={"__all__": problems},
        )
    now = timezone.now()
    message_id = f"LM{now:%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"
    execution_date = execution_date or _next_business_day(
        timezone.localdate() + dt.timedelta(days=1)
    )
    content = build_pain001(
        message_id=message_id,
        created_at=now,
        execution_date=execution_date,
        debtor=debtor,
        transfers=transfers,
    )
    export = PayoutExport(
        message_id=message_id,
        created_by=actor,
        transaction_count=len(transfers),
        control_sum_minor=sum(t.amount_minor for t in transfers),
        currency=settings.WORKFORCE_PAYOUT_CURRENCY,
        requested_execution_date=execution_date,
    )
    export.file.save(f"{message_id}.xml", ContentFile(content), save=False)
    export.save()
    for batch in batches:
        _move_batch(
            batch,
            target=PayoutStatus.EXPORTED,
            actor=actor,
            note=message_id,
            fields={"export": export, "exported_at": _NOW},
        )
    logger.info(
        "workforce: SEPA file written",
        extra={
            "message_id": message_id,
            "transactions": export.transaction_count,
            "control_sum_minor": export.control_sum_minor,
        },
    )
    return export


class _PayeeProblem(Exception):
    pass


def _transfer(batch: PayoutBatch) -> Transfer:
    """The batch's transfer, to the account approved on it (not the courier's current one)."""
    if not batch.payee_iban_encrypted:
        raise _PayeeProblem("no payout account was approved with it; hold it and approve again")
    try:
        iban = crypto.decrypt(batch.payee_iban_encrypted)
    except crypto.InvalidToken:
        raise _PayeeProblem(
            "its approved IBAN cannot be decrypted with the configured keys "
            "(WORKFORCE_FIELD_ENCRYPTION_KEYS lacks the key it was stored with)"
        ) from None
    iso = batch.week.week_start.isocalendar()
    return Transfer(
        end_to_end_id=batch.end_to_end_id,
        amount_minor=batch.total_minor,
        currency=batch.currency,
        creditor_name=batch.payee_name or str(batch.courier),
        creditor_iban=iban,
        creditor_bic=batch.payee_bic,
        remittance=f"Lastmile payout {iso.year}-W{iso.week:02d} {batch.end_to_end_id}",
    )


def payout_batch_total_check(batch: PayoutBatch) -> bool:
    """Does the batch's stored total equal the sum of its entries? (for audits and tests)"""
    summed = batch.entries.aggregate(total=Sum("amount_minor"))["total"] or 0
    return summed == batch.total_minor
