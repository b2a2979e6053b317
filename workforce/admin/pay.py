"""Pay in the back-office: rules, the ledger (read-only, corrected by new lines), payouts.

Closing a week, approving, holding, releasing an account hold, exporting and marking paid
are services with their own audit rows; exports are downloads (CSV for accounting, pain.001
XML for the bank) and the XML is kept as a ``PayoutExport`` served only to staff who may
view it.
"""

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from lastmile.core.admin_actions import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    action_per_row,
    action_with_form,
    error_text,
)
from lastmile.core.errors import ApplicationError
from lastmile.core.uploads import download_response
from workforce import services
from workforce.admin.common import ReasonForm
from workforce.exports import payout_csv
from workforce.models import (
    EarningEntry,
    PayoutBatch,
    PayoutBatchEvent,
    PayoutExport,
    PayoutWeek,
    PayRule,
    PeakWindow,
)
from workforce.templatetags.workforce import money

# --- Pay rules ------------------------------------------------------------------------------


class PeakWindowInline(admin.TabularInline):
    model = PeakWindow
    extra = 0


@admin.register(PayRule)
class PayRuleAdmin(admin.ModelAdmin):
    list_display = [
        "hub",
        "courier_kind",
        "valid_from",
        "valid_until",
        "per_stop",
        "per_km",
        "per_hour",
        "min_guarantee",
    ]
    list_filter = ["hub", "courier_kind"]
    list_select_related = ["hub"]
    inlines = [PeakWindowInline]
    fieldsets = [
        (None, {"fields": ["hub", "courier_kind", "currency", "valid_from", "valid_until"]}),
        (
            "Amounts, in cents",
            {
                "fields": [
                    "per_stop_minor",
                    "per_km_minor",
                    "per_hour_minor",
                    "min_guarantee_per_shift_minor",
                ]
            },
        ),
    ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # ledger entries name the rule that priced them; end it with valid_until

    @admin.display(description="Per stop")
    def per_stop(self, rule: PayRule) -> str:
        return money(rule.per_stop_minor, rule.currency)

    @admin.display(description="Per km")
    def per_km(self, rule: PayRule) -> str:
        return money(rule.per_km_minor, rule.currency)

    @admin.display(description="Per hour")
    def per_hour(self, rule: PayRule) -> str:
        return money(rule.per_hour_minor, rule.currency)

    @admin.display(description="Min. per shift")
    def min_guarantee(self, rule: PayRule) -> str:
        return money(rule.min_guarantee_per_shift_minor, rule.currency)


# --- Ledger ---------------------------------------------------------------------------------


class CorrectionForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        help_text="What the entry should have paid, e.g. 4.50",
    )
    reason = forms.CharField(max_length=200)


@admin.action(description="Correct the amount (adds a correction line)…", permissions=["correct"])
@action_with_form(CorrectionForm, "Correct earning entries", "corrected")
def correct_entries(request, entry, data):
    return services.earning_correct(
        entry=entry,
        amount_minor=int(data["amount"] * 100),
        reason=data["reason"],
        actor=request.user,
    )


@admin.register(EarningEntry)
class EarningEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "earned_at",
        "courier",
        "kind",
        "description",
        "amount",
        "source",
        "batch_link",
        "created_at",
    ]
    list_filter = [
        "kind",
        "source_type",
        ("batch", admin.EmptyFieldListFilter),
        "courier__home_hub",
    ]
    search_fields = ["courier__user__email", "courier__user__last_name", "=source_id"]
    date_hierarchy = "earned_at"
    list_select_related = ["courier__user", "batch__week"]
    list_per_page = 100
    actions = [correct_entries]
    readonly_fields = [
        "courier",
        "kind",
        "source_type",
        "source_id",
        "amount",
        "earned_at",
        "description",
        "pay_rule",
        "corrects",
        "batch",
        "created_by",
        "created_at",
    ]
    fields = readonly_fields

    def has_correct_permission(self, request) -> bool:
        return request.user.has_perm("workforce.correct_earningentry")

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, entry: EarningEntry) -> str:
        return money(entry.amount_minor, entry.currency)

    @admin.display(description="Source")
    def source(self, entry: EarningEntry) -> str:
        return f"{entry.get_source_type_display()} #{entry.source_id}"

    @admin.display(description="Payout")
    def batch_link(self, entry: EarningEntry) -> str:
        if entry.batch is None:
            return "open"
        url = reverse("admin:workforce_payoutbatch_change", args=[entry.batch_id])
        return format_html('<a href="{}">{}</a>', url, entry.batch.week)


# --- Payout batches ---------------------------------------------------------------------------


def _csv_rows(batches: QuerySet[PayoutBatch]):
    entries = (
        EarningEntry.objects.filter(batch__in=batches)
        .select_related("batch__week", "batch__courier__user")
        .order_by("batch_id", "earned_at", "pk")
    )
    for entry in entries.iterator(chunk_size=1000):
        batch = entry.batch
        yield {
            "batch": batch.pk,
            "week_start": batch.week.week_start.isoformat(),
            "courier": str(batch.courier),
            "courier_email": batch.courier.user.email,
            "iban": batch.payee_iban_masked or batch.courier.iban_masked,
            "status": batch.status,
            "end_to_end_id": batch.end_to_end_id,
            "entry": entry.pk,
            "earned_at": entry.earned_at.isoformat(),
            "kind": entry.kind,
            "source_type": entry.source_type,
            "source_id": entry.source_id,
            "description": entry.description,
            "amount_minor": entry.amount_minor,
            "currency": entry.currency,
        }


@admin.action(description="Download selected as CSV (one line per entry)", permissions=["view"])
def export_csv(model_admin, request, queryset):
    return download_response(
        payout_csv(_csv_rows(queryset)),
        content_type="text/csv; charset=utf-8",
        filename=f"payouts-{timezone.localdate():%Y%m%d}.csv",
    )


def _with_week_and_courier(batches: QuerySet[PayoutBatch]) -> QuerySet[PayoutBatch]:
    return batches.select_related("week", "courier__user")  # what a batch's name reads


@admin.action(description="Approve selected batches for payment", permissions=["export"])
@action_per_row("approved", objects=_with_week_and_courier)
def approve_batches(request, batch):
    return services.payout_batch_approve(batch=batch, actor=request.user)


@admin.action(description="Hold (with a reason)…", permissions=["export"])
@action_with_form(ReasonForm, "Hold payout batches", "held", objects=_with_week_and_courier)
def hold_batches(request, batch, data):
    return services.payout_batch_hold(batch=batch, actor=request.user, reason=data["reason"])


@admin.action(
    description="Release the account hold (the new account is checked)", permissions=["export"]
)
@action_per_row("released", objects=_with_week_and_courier)
def release_account_hold(request, batch):
    return services.payout_batch_release_account_hold(batch=batch, actor=request.user)


@admin.action(
    description="Download a SEPA transfer file (pain.001) for the selected approved batches",
    permissions=["export"],
)
def export_sepa(model_admin, request, queryset):
    try:
        export = services.payout_export_sepa(
            batch_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
    except ApplicationError as exc:
        model_admin.message_user(request, error_text(exc), messages.ERROR)
        return None
    return _export_response(export)


@admin.action(description="Mark selected exported batches as paid", permissions=["export"])
@action_per_row("marked paid", objects=_with_week_and_courier)
def mark_paid(request, batch):
    return services.payout_batch_mark_paid(batch=batch, actor=request.user)


def _export_response(export: PayoutExport) -> HttpResponseBase:
    return download_response(
        export.file.open("rb"),
        content_type="application/xml",
        filename=f"{export.message_id}.xml",
    )


class EntryInline(ReadOnlyInline):
    model = EarningEntry
    fk_name = "batch"
    fields = [
        "earned_at",
        "kind",
        "description",
        "amount_minor",
        "currency",
        "source_type",
        "source_id",
    ]
    readonly_fields = fields
    ordering = ["earned_at", "pk"]


class BatchEventInline(ReadOnlyInline):
    model = PayoutBatchEvent
    verbose_name_plural = "audit trail"
    fields = ["occurred_at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class CloseWeekForm(forms.Form):
    week = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Any day of the week to close; it must have ended",
    )


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    """Batches move only through the actions below, each a service with its audit row."""

    change_list_template = "admin/workforce/payoutbatch/change_list.html"
    list_display = [
        "week",
        "courier",
        "total",
        "entry_count",
        "status",
        "iban",
        "hold_reason",
        "approved_by",
        "end_to_end_id",
        "exported_at",
    ]
    list_filter = ["status", "week", "courier__kind", "courier__home_hub"]
    search_fields = ["courier__user__email", "courier__user__last_name", "=end_to_end_id"]
    list_select_related = ["week", "courier__user", "approved_by"]
    list_per_page = 100
    actions = [
        approve_batches,
        hold_batches,
        release_account_hold,
        export_sepa,
        export_csv,
        mark_paid,
    ]
    inlines = [EntryInline, BatchEventInline]
    readonly_fields = [
        "courier",
        "week",
        "total",
        "entry_count",
        "status",
        "status_changed_at",
        "hold_reason",
        "end_to_end_id",
        "approved_by",
        "approved_at",
        "payee_name",
        "payee_account",
        "payee_bic",
        "export",
        "exported_at",
        "paid_at",
    ]
    fields = readonly_fields

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("workforce.export_payoutbatch")

    @admin.display(description="Total", ordering="total_minor")
    def total(self, batch: PayoutBatch) -> str:
        return money(batch.total_minor, batch.currency)

    @admin.display(description="Account")
    def iban(self, batch: PayoutBatch) -> str:
        """The account approved with the batch, or the courier's until it is approved."""
        return batch.payee_iban_masked or batch.courier.iban_masked or "missing"

    @admin.display(description="Approved account")
    def payee_account(self, batch: PayoutBatch) -> str:
        return batch.payee_iban_masked or "—"

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_close_week": request.user.has_perm("workforce.close_payout_week"),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path(
                "close-week/",
                self.admin_site.admin_view(self.close_week_view),
                name="workforce_payoutbatch_close_week",
            ),
            *super().get_urls(),
        ]

    def close_week_view(self, request: HttpRequest) -> HttpResponse:
        """Close a pay week by hand (the weekly task does it on Mondays); safe to repeat."""
        if not request.user.has_perm("workforce.close_payout_week"):
            raise PermissionDenied
        form = CloseWeekForm(request.POST or None, initial={"week": services.last_completed_week()})
        if request.method == "POST" and form.is_valid():
            day: dt.date = form.cleaned_data["week"]
            monday = day - dt.timedelta(days=day.weekday())
            try:
                _, week_end = services.week_bounds(monday)
                services.earnings_accrue_stops(until=week_end)
                result = services.payout_week_close(week_start=monday, actor=request.user)
            except ApplicationError as exc:
                form.add_error("week", error_text(exc))
            else:
                if result.already_closed:
                    text = f"{result.week} was already closed; nothing new was created."
                else:
                    total = sum(b.total_minor for b in result.created)
                    text = f"{result.week} closed: {len(result.created)} batch(es), {money(total)}."
                self.message_user(request, text, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:workforce_payoutbatch_changelist")
                    + f"?week__id__exact={result.week.pk}"
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Close a pay week",
            "form": form,
            "opts": self.model._meta,
            "weeks": PayoutWeek.objects.all()[:8],
        }
        return TemplateResponse(request, "admin/workforce/close_week.html", context)


@admin.register(PayoutWeek)
class PayoutWeekAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "week_start", "closed_at", "closed_by", "batch_count", "total"]
    list_select_related = ["closed_by"]

    @admin.display(description="Total", ordering="total_minor")
    def total(self, week: PayoutWeek) -> str:
        return money(week.total_minor)


@admin.register(PayoutExport)
class PayoutExportAdmin(ReadOnlyAdmin):
    list_display = [
        "message_id",
        "created_at",
        "created_by",
        "transaction_count",
        "control_sum",
        "requested_execution_date",
        "download",
    ]
    list_select_related = ["created_by"]
    readonly_fields = [
        "message_id",
        "created_at",
        "created_by",
        "transaction_count",
        "control_sum",
        "requested_execution_date",
        "download",
    ]
    fields = readonly_fields

    @admin.display(description="Control sum", ordering="control_sum_minor")
    def control_sum(self, export: PayoutExport) -> str:
        return money(export.control_sum_minor, export.currency)

    @admin.display(description="File")
    def download(self, export: PayoutExport) -> str:
        url = reverse("admin:workforce_payoutexport_download", args=[export.pk])
        return format_html('<a href="{}">{}.xml</a>', url, export.message_id)

    def get_urls(self):
        return [
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="workforce_payoutexport_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        """The bank file again, for staff who may view exports (it holds full IBANs)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return _export_response(get_object_or_404(PayoutExport, pk=pk))
