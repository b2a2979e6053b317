"""The dispatcher's order screens: the day's orders, one order's timeline, bulk actions, imports.

Every change goes through the order services; actions report per-row results. Orders arrive
from partners (API, file import), so there is no "add order" form here.
"""

import datetime as dt
from functools import partial
from operator import attrgetter

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext

from lastmile.core.admin_actions import ReadOnlyAdmin, ReadOnlyInline, action_with_form
from lastmile.core.errors import ApplicationError
from lastmile.core.uploads import serve_upload
from lastmile.core.widgets import MapPickerWidget
from lastmile.hubs.models import Hub
from lastmile.orders import services
from lastmile.orders.importing import MAX_REPORTED_ERRORS, import_problems_by_row
from lastmile.orders.models import (
    DeliveryAttempt,
    FailureReason,
    Order,
    OrderEvent,
    OrderImport,
    Parcel,
)
from lastmile.partners.models import Partner

# --- List filters ---------------------------------------------------------------------------


class WindowFilter(admin.SimpleListFilter):
    """Part of the day the delivery window starts in (back-office time zone)."""

    title = "delivery window"
    parameter_name = "window"
    PARTS = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}

    def lookups(self, request, model_admin):
        return [
            ("morning", "Morning (before 12:00)"),
            ("afternoon", "Afternoon (12:00–17:00)"),
            ("evening", "Evening (from 17:00)"),
        ]

    def queryset(self, request, queryset):
        if self.value() not in self.PARTS:
            return queryset
        start, end = self.PARTS[self.value()]
        return queryset.filter(window_start__hour__gte=start, window_start__hour__lt=end)


# --- Action forms ---------------------------------------------------------------------------


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Shown on the order's timeline")


class RescheduleForm(forms.Form):
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    window_from = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))
    window_to = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))
    reason = forms.CharField(max_length=255, required=False)

    def clean(self):
        data = super().clean()
        if (
            data.get("window_from")
            and data.get("window_to")
            and data["window_to"] <= data["window_from"]
        ):
            self.add_error("window_to", "The window must end after it starts.")
        return data


class FailedAttemptForm(forms.Form):
    reason = forms.ChoiceField(choices=FailureReason.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def clean(self):
        data = super().clean()
        if data.get("reason") == FailureReason.OTHER and not data.get("note", "").strip():
            self.add_error("note", "Describe the reason when it is 'other'.")
        return data


# Orders are named by their reference, and counted as "order(s)", in every action's report;
# rescheduling reads each order's hub (its time zone).
_order_action = partial(
    action_with_form,
    objects=lambda orders: orders.select_related("hub"),
    label=attrgetter("external_reference"),
    noun="order(s)",
)


@admin.action(description="Cancel selected orders…", permissions=["change"])
@_order_action(CancelForm, "Cancel orders", "cancelled")
def cancel_orders(request, order, data):
    return services.order_cancel(
        order=order, reason=data["reason"], source="back_office", actor=request.user
    )


@admin.action(
    description="Reschedule selected orders to a date and window…", permissions=["change"]
)
@_order_action(RescheduleForm, "Reschedule orders", "rescheduled")
def reschedule_orders(request, order, data):
    # The form's times are the hub's local times.
    zone = order.hub.zone
    start = dt.datetime.combine(data["day"], data["window_from"], tzinfo=zone)
    end = dt.datetime.combine(data["day"], data["window_to"], tzinfo=zone)
    return services.order_reschedule(
        order=order,
        window_start=start,
        window_end=end,
        reason=data["reason"],
        source="back_office",
        actor=request.user,
    )


@admin.action(description="Record a failed attempt with a reason…", permissions=["change"])
@_order_action(FailedAttemptForm, "Record failed attempt", "marked as failed")
def record_failed_attempt(request, order, data):
    return services.order_fail(
        order=order,
        reason=data["reason"],
        note=data["note"],
        source="back_office",
        actor=request.user,
    )


# --- Inlines --------------------------------------------------------------------------------


class ParcelInline(ReadOnlyInline):
    model = Parcel
    fields = ["barcode", "weight_g", "length_mm", "width_mm", "height_mm", "volume_mm3"]
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    verbose_name = "timeline entry"
    verbose_name_plural = "timeline"
    fields = ["occurred_at", "kind", "from_status", "to_status", "source", "actor", "payload"]
    readonly_fields = fields
    ordering = ["occurred_at", "pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = [
        "number",
        "outcome",
        "failure_reason",
        "failure_note",
        "attempted_at",
        "courier",
        "proof_links",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("courier", "proof")

    @admin.display(description="Proof")
    def proof_links(self, attempt: DeliveryAttempt) -> str:
        proof = getattr(attempt, "proof", None)
        if proof is None:
            return "—"
        parts = [proof.recipient_name] if proof.recipient_name else []
        for kind in ("photo", "signature"):
            if getattr(proof, kind):
                url = reverse("admin:orders_order_proof", args=[attempt.order_id, attempt.pk, kind])
                parts.append(
                    format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, kind)
                )
        return format_html(" · ".join(["{}"] * len(parts)), *parts) if parts else "—"


# --- Order admin ----------------------------------------------------------------------------


class OrderForm(forms.ModelForm):
    class Meta:
        model = Order
        fields = list(services.EDITABLE_FIELDS)
        widgets = {"latitude": MapPickerWidget(longitude_field="longitude")}


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    form = OrderForm
    list_display = [
        "external_reference",
        "partner",
        "hub",
        "status",
        "service_date",
        "window",
        "recipient_name",
        "parcel_count",
        "priority",
    ]
    list_filter = [
        "hub",
        "status",
        "partner",
        "service_date",
        WindowFilter,
        "priority",
        "delivery_option",
    ]
    search_fields = ["external_reference", "=parcels__barcode", "recipient_phone", "recipient_name"]
    search_help_text = "Reference, parcel barcode (exact), phone (+49…) or recipient name"
    date_hierarchy = "service_date"
    list_select_related = ["partner", "hub"]
    list_per_page = 100
    actions = [cancel_orders, reschedule_orders, record_failed_attempt]
    inlines = [ParcelInline, DeliveryAttemptInline, OrderEventInline]
    readonly_fields = [
        "partner",
        "external_reference",
        "hub",
        "status",
        "status_changed_at",
        "window_start",
        "window_end",
        "service_date",
        "delivery_option",
        "cod",
        "attempt_count",
        "delivered_at",
        "cancelled_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["partner", "external_reference", "hub", "status", "status_changed_at"]}),
        ("Recipient", {"fields": ["recipient_name", "recipient_phone", "recipient_email"]}),
        ("Where", {"fields": ["address", "latitude", "longitude", "access_notes"]}),
        (
            "When and how",
            {
                "fields": [
                    "service_date",
                    "window_start",
                    "window_end",
                    "service_s",
                    "priority",
                    "required_skills",
                    "delivery_option",
                    "cod",
                ]
            },
        ),
        (
            "Record",
            {
                "fields": [
                    "attempt_count",
                    "delivered_at",
                    "cancelled_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        # A correlated subquery, not a join: the changelist's counts and date hierarchy then
        # run on the plain order table.
        parcels = (
            Parcel.objects.filter(order=OuterRef("pk"))
            .order_by()
            .values("order")
            .annotate(n=Count("pk"))
        )
        return (
            super()
            .get_queryset(request)
            .select_related("partner", "hub")
            .annotate(parcel_total=Coalesce(Subquery(parcels.values("n")), 0))
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # orders are cancelled, never deleted: their events are the record

    @admin.display(description="Window", ordering="window_start")
    def window(self, order: Order) -> str:
        zone = order.hub.zone
        start, end = (
            timezone.localtime(order.window_start, zone),
            timezone.localtime(order.window_end, zone),
        )
        return f"{start:%H:%M}–{end:%H:%M}"

    @admin.display(description="Parcels", ordering="parcel_total")
    def parcel_count(self, order: Order) -> int:
        return order.parcel_total

    @admin.display(description="Cash on delivery")
    def cod(self, order: Order) -> str:
        if order.cod_amount_minor is None:
            return "—"
        return f"{order.cod_amount_minor / 100:.2f} {order.cod_currency}"

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in services.EDITABLE_FIELDS
        }
        services.order_update(order=obj, changes=changes, source="back_office", actor=request.user)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import": request.user.has_perm("orders.import_orders"),
        }
        return super().changelist_view(request, extra_context)

    # --- Extra views: imports and proofs -------------------------------------------------

    def get_urls(self):
        custom = [
            path(
                "import/", self.admin_site.admin_view(self.import_view), name="orders_order_import"
            ),
            path(
                "import/<int:import_id>/",
                self.admin_site.admin_view(self.import_preview_view),
                name="orders_order_import_preview",
            ),
            path(
                "<int:order_id>/proof/<int:attempt_id>/<str:kind>/",
                self.admin_site.admin_view(self.proof_view),
                name="orders_order_proof",
            ),
        ]
        return custom + super().get_urls()

    def _require_import_permission(self, request: HttpRequest) -> None:
        if not request.user.has_perm("orders.import_orders"):
            raise PermissionDenied

    def import_view(self, request: HttpRequest) -> HttpResponse:
        self._require_import_permission(request)
        form = OrderImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                order_import, _ = services.order_import_preview(
                    partner=form.cleaned_data["partner"],
                    hub=form.cleaned_data["hub"],
                    upload=form.cleaned_data["file"],
                    uploaded_by=request.user,
                )
            except ApplicationError as exc:
                form.add_error("file", exc.errors.get("file", [exc.message]))
            else:
                return HttpResponseRedirect(
                    reverse("admin:orders_order_import_preview", args=[order_import.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import orders",
            "form": form,
            "opts": self.model._meta,
            "recent": OrderImport.objects.select_related("partner", "hub", "uploaded_by")[:10],
        }
        return TemplateResponse(request, "admin/orders/order/import.html", context)

    def import_preview_view(self, request: HttpRequest, import_id: int) -> HttpResponse:
        self._require_import_permission(request)
        order_import = get_object_or_404(
            OrderImport.objects.select_related("partner", "hub"), pk=import_id
        )
        if request.method == "POST":
            if "confirm" in request.POST:
                try:
                    order_import = services.order_import_confirm(
                        order_import=order_import,
                        actor=request.user,
                        accept_warnings=request.POST.get("accept_warnings") == "on",
                    )
                except ApplicationError as exc:
                    self.message_user(
                        request,
                        gettext("Nothing was imported: %(reason)s") % {"reason": exc.message},
                        messages.ERROR,
                    )
                else:
                    self.message_user(
                        request,
                        gettext(
                            "%(created)s order(s) imported; %(existing)s already existed; "
                            "%(errors)s row(s) with errors skipped."
                        )
                        % {
                            "created": order_import.created_order_count,
                            "existing": order_import.existing_order_count,
                            "errors": order_import.error_row_count,
                        },
                        messages.SUCCESS,
                    )
            elif "discard" in request.POST:
                services.order_import_discard(order_import=order_import)
                self.message_user(
                    request, gettext("Import discarded; nothing was written."), messages.INFO
                )
            return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import preview: %(file)s") % {"file": order_import.file_name},
            "order_import": order_import,
            "problem_rows": import_problems_by_row(
                errors=order_import.errors, warnings=order_import.warnings
            ),
            "errors_truncated": len(order_import.errors) >= MAX_REPORTED_ERRORS,
            "warnings_truncated": len(order_import.warnings) >= MAX_REPORTED_ERRORS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/orders/order/import_preview.html", context)

    def proof_view(
        self, request: HttpRequest, order_id: int, attempt_id: int, kind: str
    ) -> FileResponse:
        """Serve a proof image to staff who may view the order; uploads are not public.

        ``serve_upload`` decides the type from the stored bytes: an image inline, anything
        else (a proof stored before images were named by their content) as a download.
        """
        if not self.has_view_permission(request) or kind not in ("photo", "signature"):
            raise PermissionDenied
        attempt = get_object_or_404(
            DeliveryAttempt.objects.select_related("proof"), pk=attempt_id, order_id=order_id
        )
        image = getattr(getattr(attempt, "proof", None), kind, None)
        if not image:
            raise Http404("No such proof.")
        return serve_upload(image, download_name=f"proof-{attempt.pk}-{kind}")


class OrderImportForm(forms.Form):
    partner = forms.ModelChoiceField(queryset=Partner.objects.filter(is_active=True))
    hub = forms.ModelChoiceField(queryset=Hub.objects.filter(is_active=True))
    file = forms.FileField(
        help_text="CSV (UTF-8) or XLSX; one row per parcel; the header names the columns"
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        return upload


@admin.register(OrderImport)
class OrderImportAdmin(ReadOnlyAdmin):
    list_display = [
        "file_name",
        "partner",
        "hub",
        "status",
        "row_count",
        "error_row_count",
        "created_order_count",
        "uploaded_by",
        "created_at",
    ]
    list_filter = ["status", "partner", "hub"]
    list_select_related = ["partner", "hub", "uploaded_by"]
    search_fields = ["file_name", "file_sha256"]
    date_hierarchy = "created_at"
