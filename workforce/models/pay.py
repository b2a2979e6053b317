"""Pay rules, the append-only earnings ledger, weekly payout batches and bank exports.

Money is integer minor units (cents) with a currency. A ledger entry names the event that
earned it (``source_type``, ``source_id``, ``kind``) and that triple is unique, so the same
completed stop can never be paid twice; a correction is a new entry naming the entry it
corrects. A payout batch takes each entry once (``batch`` is set exactly once, at closing).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from lastmile.core.models import EventModel, TimeStampedModel
from lastmile.core.state import validate_table
from workforce.crypto import EncryptedTokenField
from workforce.models.availability import Weekday
from workforce.models.couriers import AppendOnlyModel, Courier, CourierKind

CURRENCY_REGEX = r"^[A-Z]{3}$"


class PayRule(TimeStampedModel):
    """What a courier of a kind earns at a hub, from a date on (the next rule ends it)."""

    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="pay_rules")
    courier_kind = models.CharField(max_length=16, choices=CourierKind.choices)
    currency = models.CharField(max_length=3, default="EUR")
    per_stop_minor = models.PositiveIntegerField(default=0, help_text="Per delivery attempt")
    per_km_minor = models.PositiveIntegerField(default=0, help_text="Per km driven on a shift")
    per_hour_minor = models.PositiveIntegerField(default=0, help_text="Per hour on a shift")
    min_guarantee_per_shift_minor = models.PositiveIntegerField(
        default=0, help_text="A completed shift earns at least this (topped up)"
    )
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True, help_text="Exclusive; empty: open")

    class Meta:
        ordering = ["hub", "courier_kind", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["hub", "courier_kind", "valid_from"], name="workforce_payrule_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="workforce_payrule_valid_range",
                violation_error_message="A rule must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=CURRENCY_REGEX), name="workforce_payrule_currency"
            ),
            models.CheckConstraint(
                condition=Q(courier_kind__in=CourierKind.values),
                name="workforce_payrule_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hub.code} {self.get_courier_kind_display()} from {self.valid_from}"


class PeakWindow(models.Model):
    """Work inside this weekly window (hub-local time) is paid at ``multiplier_pct`` percent."""

    # Part of the rule's definition; a rule that priced earnings is protected by them.
    rule = models.ForeignKey(PayRule, on_delete=models.CASCADE, related_name="peaks")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()
    multiplier_pct = models.PositiveSmallIntegerField(help_text="125 pays 1.25×")

    class Meta:
        ordering = ["rule", "weekday", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="workforce_peak_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(multiplier_pct__gte=100, multiplier_pct__lte=300),
                name="workforce_peak_multiplier_range",
                violation_error_message="A peak multiplier is between 100 % and 300 %.",
            ),
            models.UniqueConstraint(
                fields=["rule", "weekday", "starts_at"], name="workforce_peak_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_weekday_display()} {self.starts_at:%H:%M}–{self.ends_at:%H:%M} "
            f"×{self.multiplier_pct / 100:.2f}"
        )


class PayoutWeek(TimeStampedModel):
    """A pay week (Monday to Sunday in the back-office zone) that has been closed, once."""

    week_start = models.DateField(unique=True, help_text="The Monday")
    closed_at = models.DateTimeField()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    batch_count = models.PositiveIntegerField(default=0)
    total_minor = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-week_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(week_start__iso_week_day=1), name="workforce_week_starts_monday"
            )
        ]

    def __str__(self) -> str:
        iso = self.week_start.isocalendar()
        return f"Week {iso.year}-W{iso.week:02d}"


class PayoutStatus(models.TextChoices):
    CLOSED = "closed", "Closed"  # its entries and total are fixed; waits for approval
    ON_HOLD = "on_hold", "On hold"  # a manager stopped it (query, missing account)
    APPROVED = "approved", "Approved"  # a manager approved it, and the account it goes to
    # Approved, but the courier changed their payout account since: finance checks the new
    # account with the courier and releases it (back to approved, to the new account).
    ACCOUNT_CHANGED = "account_changed", "Held: account changed"
    EXPORTED = "exported", "Exported"  # in a SEPA file handed to the bank
    PAID = "paid", "Paid"  # the bank confirmed the transfer (final)


PS = PayoutStatus
PAYOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    PS.CLOSED: frozenset({PS.APPROVED, PS.ON_HOLD}),
    PS.ON_HOLD: frozenset({PS.APPROVED}),
    PS.APPROVED: frozenset({PS.EXPORTED, PS.ON_HOLD, PS.ACCOUNT_CHANGED}),
    PS.ACCOUNT_CHANGED: frozenset({PS.APPROVED, PS.ON_HOLD}),
    # exported → approved: the bank refused the file; the batch goes into the next one.
    PS.EXPORTED: frozenset({PS.PAID, PS.APPROVED}),
    PS.PAID: frozenset(),
}
validate_table(PAYOUT_TRANSITIONS, set(PS.values))


class PayoutExport(TimeStampedModel):
    """A SEPA credit transfer file (pain.001.001.03) generated for approved batches."""

    message_id = models.CharField(max_length=35, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    file = models.FileField(upload_to="workforce/payouts/%Y/%m/", max_length=255)
    transaction_count = models.PositiveIntegerField()
    control_sum_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    requested_execution_date = models.DateField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(transaction_count__gt=0) & Q(control_sum_minor__gt=0),
                name="workforce_export_not_empty",
            )
        ]

    def __str__(self) -> str:
        return self.message_id


class PayoutBatch(TimeStampedModel):
    """What one courier is paid for one week: the ledger entries it took, and their total."""

    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="payout_batches")
    week = models.ForeignKey(PayoutWeek, on_delete=models.PROTECT, related_name="batches")
    currency = models.CharField(max_length=3)
    total_minor = models.BigIntegerField()
    entry_count = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=PayoutStatus.choices, default=PS.CLOSED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    end_to_end_id = models.CharField(max_length=35, unique=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # The account the batch is paid to, copied from the courier when it is approved (and when
    # an account hold is released): the SEPA file pays this, never the courier's current one.
    payee_name = models.CharField(max_length=70, blank=True)
    payee_iban_encrypted = EncryptedTokenField(blank=True, editable=False)
    payee_iban_country = models.CharField(max_length=2, blank=True, editable=False)
    payee_iban_last4 = models.CharField(max_length=4, blank=True, editable=False)
    payee_bic = models.CharField(max_length=11, blank=True)
    hold_reason = models.CharField(
        max_length=255, blank=True, help_text="Why the batch is held (on hold, account changed)"
    )
    export = models.ForeignKey(
        PayoutExport, on_delete=models.PROTECT, null=True, blank=True, related_name="batches"
    )
    exported_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week__week_start", "courier", "pk"]
        verbose_name_plural = "payout batches"
        constraints = [
            models.UniqueConstraint(
                fields=["courier", "week"], name="workforce_payout_one_per_courier_week"
            ),
            models.CheckConstraint(
                condition=Q(total_minor__gt=0) & Q(entry_count__gt=0),
                name="workforce_payout_positive",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PayoutStatus.values), name="workforce_payout_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=CURRENCY_REGEX), name="workforce_payout_currency"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[PS.EXPORTED, PS.PAID]) | Q(export__isnull=False),
                name="workforce_payout_exported_has_file",
            ),
        ]
        indexes = [models.Index(fields=["status", "week"], name="workforce_payout_status_week")]
        permissions = [
            ("close_payout_week", "Can close a payout week"),
            ("export_payoutbatch", "Can approve and export payout batches"),
        ]

    def __str__(self) -> str:
        return f"{self.week} · {self.courier}"

    @property
    def payee_iban_masked(self) -> str:
        """The approved account as every screen shows it: country and last four only."""
        if not self.payee_iban_last4:
            return ""
        return f"{self.payee_iban_country}•• •••• •••• •••• {self.payee_iban_last4}"


class PayoutBatchEvent(EventModel):
    """The batch's audit trail: every status move, who made it, when."""

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="events")
    # Every row of a batch's trail is a status move: the table has no kind and no payload.
    kind = None
    payload = None
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["batch", "occurred_at", "pk"]
        indexes = [models.Index(fields=["batch", "occurred_at"], name="workforce_payout_timeline")]

    def __str__(self) -> str:
        return f"{self.from_status or '—'}→{self.to_status}"


class EarningKind(models.TextChoices):
    STOP = "stop", "Stop"  # a delivery attempt
    HOURS = "hours", "Hours"  # time worked on a shift
    DISTANCE = "distance", "Distance"  # km driven on a shift
    GUARANTEE = "guarantee", "Minimum guarantee top-up"  # a shift earned less than its minimum
    CORRECTION = "correction", "Correction"  # changes the amount of an earlier entry


class EarningSource(models.TextChoices):
    DELIVERY_ATTEMPT = "delivery_attempt", "Delivery attempt"
    SHIFT = "shift", "Shift"
    EARNING_ENTRY = "earning_entry", "Earning entry"  # a correction names the entry it corrects


class EarningEntry(AppendOnlyModel):
    """One line of a courier's earnings. Never edited: wrong amounts are corrected by new lines.

    ``batch`` is the only column written after creation, exactly once, by the week closing
    (a conditional UPDATE on ``batch IS NULL``), so an entry is paid in one batch at most.
    """

    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="earnings")
    kind = models.CharField(max_length=16, choices=EarningKind.choices)
    source_type = models.CharField(max_length=24, choices=EarningSource.choices)
    source_id = models.PositiveBigIntegerField()
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    earned_at = models.DateTimeField(help_text="When the work was done; decides the pay week")
    description = models.CharField(max_length=255, blank=True)
    pay_rule = models.ForeignKey(
        PayRule, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    corrects = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="correction"
    )
    batch = models.ForeignKey(
        PayoutBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["courier", "earned_at", "pk"]
        verbose_name_plural = "earning entries"
        constraints = [
            models.UniqueConstraint(
                fields=["source_type", "source_id", "kind"],
                name="workforce_earning_unique_source",
                violation_error_message="This event has already been paid.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=EarningKind.CORRECTION)
                    & Q(corrects__isnull=False)
                    & Q(source_type=EarningSource.EARNING_ENTRY)
                    & ~Q(amount_minor=0)
                )
                | (
                    ~Q(kind=EarningKind.CORRECTION)
                    & Q(corrects__isnull=True)
                    & ~Q(source_type=EarningSource.EARNING_ENTRY)
                    & Q(amount_minor__gte=0)
                ),
                name="workforce_earning_correction_shape",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=CURRENCY_REGEX), name="workforce_earning_currency"
            ),
        ]
        indexes = [
            # Closing a week reads each courier's entries not yet in a batch, up to a moment.
            models.Index(
                fields=["courier", "earned_at"],
                condition=Q(batch__isnull=True),
                name="workforce_earning_unbatched",
            ),
        ]
        permissions = [("correct_earningentry", "Can correct earning entries")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_minor / 100:.2f} {self.currency}"
