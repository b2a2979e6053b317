"""The earnings ledger: completed stops and shifts priced by pay rule, corrections, ratings.

Exactly once: every entry names its source event and ``(source_type, source_id, kind)`` is
unique, so pricing the same stop twice — a retried task, two workers at once — inserts one
row (the second insert is ignored by the constraint, not by a check that could race).
"""

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import Conflict, ValidationFailed
from lastmile.hubs.models import Hub
from lastmile.orders.models import DeliveryAttempt
from workforce.errors import WorkforceErrorCode
from workforce.models import (
    Courier,
    DeliveryRating,
    EarningEntry,
    EarningKind,
    EarningSource,
    PayRule,
    Shift,
)
from workforce.selectors import pay_rule_for, unpaid_attempts

logger = logging.getLogger(__name__)

BULK_SIZE = 500


def peak_multiplier_pct(rule: PayRule, local: dt.datetime) -> int:
    """The highest peak multiplier of ``rule`` covering the hub-local moment (100: none)."""
    moment = local.time()
    return max(
        (
            peak.multiplier_pct
            for peak in rule.peaks.all()
            if peak.weekday == local.weekday() and peak.starts_at <= moment < peak.ends_at
        ),
        default=100,
    )


def _scaled(amount_minor: int, pct: int) -> int:
    # Round half up on whole cents: integer arithmetic, no float drift.
    return (amount_minor * pct + 50) // 100


def hours_amount_minor(rule: PayRule, *, start: dt.datetime, end: dt.datetime, zone) -> int:
    """Pay for the time between ``start`` and ``end`` at the rule's hourly rate, each minute
    at the peak multiplier in force then (hub-local)."""
    if not rule.per_hour_minor or end <= start:
        return 0
    weighted_s = 0  # seconds × percent
    cursor = start
    while cursor < end:
        step_end = min(cursor + dt.timedelta(minutes=1), end)
        pct = peak_multiplier_pct(rule, timezone.localtime(cursor, zone))
        weighted_s += int((step_end - cursor).total_seconds()) * pct
        cursor = step_end
    return (rule.per_hour_minor * weighted_s + 180_000) // 360_000


def stop_amount_minor(rule: PayRule, local: dt.datetime) -> int:
    """What one delivery attempt at the hub-local moment ``local`` earns by ``rule``."""
    return _scaled(rule.per_stop_minor, peak_multiplier_pct(rule, local))


def distance_amount_minor(rule: PayRule, distance_m: int) -> int:
    """Pay for ``distance_m`` metres at the rule's rate per km, rounded half up to a cent."""
    return (rule.per_km_minor * distance_m + 500) // 1000


def guarantee_top_up_minor(rule: PayRule, earned_minor: int) -> int:
    """What tops a shift that earned ``earned_minor`` up to the rule's minimum (0: none)."""
    return max(0, rule.min_guarantee_per_shift_minor - earned_minor)


@dataclass(frozen=True)
class PayEstimate:
    """What a piece of work would earn by the pay rule in force, part by part."""

    currency: str
    stop_count: int
    stops_minor: int
    hours_minor: int
    distance_minor: int
    guarantee_minor: int

    @property
    def total_minor(self) -> int:
        return self.stops_minor + self.hours_minor + self.distance_minor + self.guarantee_minor


def earnings_estimate(
    *,
    courier: Courier,
    hub: Hub,
    start: dt.datetime,
    end: dt.datetime,
    distance_m: int,
    stop_times: Sequence[dt.datetime],
) -> PayEstimate | None:
    """What ``courier`` would earn for work at ``hub`` from ``start`` to ``end``: a stop at
    each of ``stop_times`` and ``distance_m`` driven. None when no pay rule is in force.

    Priced by the ledger's own functions, so an offer never promises what the ledger would
    not pay: each stop as an attempt at that moment (peaks included), and the time, distance
    and minimum guarantee as a completed shift covering the work. Reads the rule; writes
    nothing.
    """
    zone = hub.zone
    day = timezone.localtime(start, zone).date()
    rule = pay_rule_for(hub_id=hub.pk, courier_kind=courier.kind, day=day)
    if rule is None:
        return None
    stops = sum(stop_amount_minor(rule, timezone.localtime(at, zone)) for at in stop_times)
    hours = hours_amount_minor(rule, start=start, end=end, zone=zone)
    distance = distance_amount_minor(rule, distance_m) if distance_m else 0
    return PayEstimate(
        currency=rule.currency,
        stop_count=len(stop_times),
        stops_minor=stops,
        hours_minor=hours,
        distance_minor=distance,
        guarantee_minor=guarantee_top_up_minor(rule, stops + hours + distance),
    )


class _RuleCache:
    """Pay rules looked up once per (hub, kind, day) during a run."""

    def __init__(self) -> None:
        self._rules: dict[tuple[int, str, dt.date], PayRule | None] = {}

    def get(self, hub_id: int, kind: str, day: dt.date) -> PayRule | None:
        key = (hub_id, kind, day)
        if key not in self._rules:
            self._rules[key] = pay_rule_for(hub_id=hub_id, courier_kind=kind, day=day)
        return self._rules[key]


def _stop_entry(
    attempt: DeliveryAttempt, courier: Courier, rules: _RuleCache
) -> EarningEntry | None:
    hub = attempt.order.hub
    local = timezone.localtime(attempt.attempted_at, hub.zone)
    rule = rules.get(hub.pk, courier.kind, local.date())
    if rule is None:
        return None
    pct = peak_multiplier_pct(rule, local)
    description = f"{attempt.get_outcome_display()} · {attempt.order.external_reference}"
    if pct > 100:
        description += f" · peak ×{pct / 100:.2f}"
    return EarningEntry(
        courier=courier,
        kind=EarningKind.STOP,
        source_type=EarningSource.DELIVERY_ATTEMPT,
        source_id=attempt.pk,
        amount_minor=stop_amount_minor(rule, local),
        currency=rule.currency,
        earned_at=attempt.attempted_at,
        description=description[:255],
        pay_rule=rule,
    )


def earnings_accrue_stops(
    *, courier: Courier | None = None, until: dt.datetime | None = None
) -> int:
    """Price every delivery attempt made by a courier that is not in the ledger yet.

    Reads the orders app's attempts (``DeliveryAttempt.courier`` names the courier's user),
    so whatever records stops through the attempt services — the back-office today, dispatch
    and the courier app later — is paid without change here. Attempts with no pay rule in
    force are left for a later run (and logged). Returns how many entries were written
    (a concurrent run may have written some of them; the constraint keeps one).
    """
    attempts = unpaid_attempts().select_related("order__hub")
    if courier is not None:
        attempts = attempts.filter(courier_id=courier.user_id)
    if until is not None:
        attempts = attempts.filter(attempted_at__lte=until)
    rules, entries, unpriced = _RuleCache(), [], 0
    for attempt in attempts.iterator(chunk_size=BULK_SIZE):
        entry = _stop_entry(attempt, attempt.courier.courier, rules)
        if entry is None:
            unpriced += 1
        else:
            entries.append(entry)
    with transaction.atomic():
        EarningEntry.objects.bulk_create(entries, batch_size=BULK_SIZE, ignore_conflicts=True)
    if unpriced:
        logger.warning("workforce: attempts without a pay rule", extra={"count": unpriced})
    return len(entries)


@transaction.atomic
def shift_earnings_record(*, shift: Shift) -> list[EarningEntry]:
    """Price a completed shift: hours, distance, and the top-up to the shift's guarantee.

    The guarantee compares with everything the shift earned — its hours and distance and the
    stops made between clock-in and clock-out. Recording a shift twice inserts nothing new.
    """
    courier = shift.courier
    zone = shift.hub.zone
    started_at, ended_at = shift.started_at, shift.ended_at
    if started_at is None or ended_at is None:
        return []
    rule = pay_rule_for(
        hub_id=shift.hub_id,
        courier_kind=courier.kind,
        day=timezone.localtime(started_at, zone).date(),
    )
    if rule is None:
        logger.warning("workforce: shift without a pay rule", extra={"shift_id": shift.pk})
        return []

    def entry(kind: str, amount: int, description: str) -> EarningEntry:
        return EarningEntry(
            courier=courier,
            kind=kind,
            source_type=EarningSource.SHIFT,
            source_id=shift.pk,
            amount_minor=amount,
            currency=rule.currency,
            earned_at=ended_at,
            description=description,
            pay_rule=rule,
        )

    entries = []
    hours = hours_amount_minor(rule, start=started_at, end=ended_at, zone=zone)
    if hours:
        entries.append(entry(EarningKind.HOURS, hours, f"{(shift.worked_s or 0) / 3600:.2f} h"))
    if rule.per_km_minor and shift.distance_m:
        distance = distance_amount_minor(rule, shift.distance_m)
        entries.append(entry(EarningKind.DISTANCE, distance, f"{shift.distance_m / 1000:.1f} km"))
    stops = (
        EarningEntry.objects.filter(
            courier=courier,
            kind=EarningKind.STOP,
            earned_at__gte=started_at,
            earned_at__lte=ended_at,
        ).aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )
    top_up = guarantee_top_up_minor(rule, stops + sum(e.amount_minor for e in entries))
    if top_up:
        entries.append(
            entry(
                EarningKind.GUARANTEE,
                top_up,
                f"Minimum {rule.min_guarantee_per_shift_minor / 100:.2f} per shift",
            )
        )
    EarningEntry.objects.bulk_create(entries, ignore_conflicts=True)
    return entries


@transaction.atomic
def earning_correct(
    *, entry: EarningEntry, amount_minor: int, reason: str, actor: User | None
) -> EarningEntry:
    """Set what ``entry`` should have paid, by appending a correction for the difference.

    The original stays as it was. The correction names the latest entry of the chain (the
    original or its last correction), which the unique source constraint allows once, so two
    managers correcting the same line cannot both apply. Its ``earned_at`` is now: it goes
    into the next payout batch, never into one already closed.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Say why the amount changes.", errors={"reason": ["Required."]})
    if amount_minor < 0:
        raise ValidationFailed(
            "An amount cannot be negative.", errors={"amount": ["Must be 0 or more."]}
        )
    original = EarningEntry.objects.select_for_update().get(pk=entry.pk)
    if original.kind == EarningKind.CORRECTION:
        raise ValidationFailed(
            "Correct the original entry, not a correction.",
            code=WorkforceErrorCode.CORRECT_THE_ORIGINAL,
        )
    tail, effective = original, original.amount_minor
    while (following := EarningEntry.objects.filter(corrects=tail).first()) is not None:
        tail, effective = following, effective + following.amount_minor
    delta = amount_minor - effective
    if delta == 0:
        raise ValidationFailed(
            "The entry already pays this amount.", errors={"amount": ["Nothing changes."]}
        )
    correction = EarningEntry(
        courier_id=original.courier_id,
        kind=EarningKind.CORRECTION,
        source_type=EarningSource.EARNING_ENTRY,
        source_id=tail.pk,
        corrects=tail,
        amount_minor=delta,
        currency=original.currency,
        earned_at=timezone.now(),
        description=f"Correction of #{original.pk}: {reason}"[:255],
        created_by=actor,
    )
    try:
        with transaction.atomic():
            correction.save()
    except IntegrityError:
        raise Conflict(
            "Someone corrected this entry at the same time; reload and try again.",
            code=WorkforceErrorCode.CORRECTION_CONFLICT,
        ) from None
    logger.info(
        "workforce: earning corrected",
        extra={"entry_id": original.pk, "correction_id": correction.pk, "delta_minor": delta},
    )
    return correction


@transaction.atomic
def delivery_rating_record(
    *,
    attempt: DeliveryAttempt,
    stars: int,
    comment: str = "",
    rated_at: dt.datetime | None = None,
    actor: User | None = None,
) -> DeliveryRating:
    """A customer rated a delivery; the rating counts for the courier who made the attempt.

    One rating per attempt; only delivered attempts by a courier can be rated.
    """
    if not 1 <= stars <= 5:
        raise ValidationFailed("Rate from 1 to 5 stars.", errors={"stars": ["1 to 5."]})
    courier = Courier.objects.filter(user_id=attempt.courier_id).first()
    if courier is None or attempt.outcome != DeliveryAttempt.Outcome.DELIVERED:
        raise ValidationFailed(
            "Only a courier's delivery can be rated.", code=WorkforceErrorCode.NOT_RATEABLE
        )
    if DeliveryRating.objects.filter(attempt=attempt).exists():
        raise Conflict(
            "This delivery has already been rated.", code=WorkforceErrorCode.ALREADY_RATED
        )
    rating = DeliveryRating(
        attempt=attempt,
        courier=courier,
        stars=stars,
        comment=comment.strip(),
        rated_at=rated_at or timezone.now(),
        recorded_by=actor,
    )
    try:
        with transaction.atomic():
            rating.save()
    except IntegrityError:
        raise Conflict(
            "This delivery has already been rated.", code=WorkforceErrorCode.ALREADY_RATED
        ) from None
    return rating
