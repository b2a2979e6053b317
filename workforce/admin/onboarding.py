"""Vetting and couriers in the back-office: the application queue, couriers, documents, coverage.

Decisions are transitions through the vetting services (audited, courier mailed after
commit); nothing here edits a status directly. Document files open through the protected
portal view, which checks the viewer.
"""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
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
from lastmile.hubs.models import Hub
from workforce import selectors, services
from workforce.admin.common import ReasonForm
from workforce.models import (
    AvailabilitySlot,
    Courier,
    CourierApplication,
    CourierDocument,
    CourierEvent,
    CoverageNeed,
    DeliveryRating,
    Shift,
)

# --- Application queue ----------------------------------------------------------------------


@admin.action(description="Start review of selected applications", permissions=["change"])
@action_per_row("taken into review")
def start_review(request, application):
    return services.application_start_review(application=application, reviewer=request.user)


@admin.action(description="Approve selected applications", permissions=["change"])
@action_per_row("approved")
def approve(request, application):
    return services.application_approve(application=application, reviewer=request.user)


@admin.action(description="Request changes (with a note)…", permissions=["change"])
@action_with_form(ReasonForm, "Request changes", "sent back for changes")
def request_changes(request, application, data):
    return services.application_request_changes(
        application=application, reviewer=request.user, reason=data["reason"]
    )


@admin.action(description="Reject (with a reason)…", permissions=["change"])
@action_with_form(ReasonForm, "Reject applications", "rejected")
def reject(request, application, data):
    return services.application_reject(
        application=application, reviewer=request.user, reason=data["reason"]
    )


class DocumentInline(ReadOnlyInline):
    model = CourierDocument
    fk_name = "courier"
    fields = ["kind", "expires_on", "content_type", "size_bytes", "is_current", "preview"]
    readonly_fields = fields
    ordering = ["-is_current", "kind", "-created_at"]

    @admin.display(description="File")
    def preview(self, document: CourierDocument) -> str:
        return document_preview(document)


def document_preview(document: CourierDocument) -> str:
    url = reverse("workforce:document_file", args=[document.pk])
    if document.is_image:
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="{}" '
            'style="max-width:240px;max-height:160px;border:1px solid #ccc"></a>',
            url,
            url,
            document.get_kind_display(),
        )
    return format_html('<a href="{}">Download PDF</a>', url)


@admin.register(CourierApplication)
class CourierApplicationAdmin(admin.ModelAdmin):
    change_form_template = "admin/workforce/courierapplication/change_form.html"
    list_display = [
        "courier_name",
        "email",
        "kind",
        "home_hub",
        "vehicle",
        "status",
        "submitted_at",
        "document_count",
        "reviewer",
    ]
    list_filter = ["status", "courier__kind", "courier__home_hub", "courier__vehicle"]
    search_fields = [
        "courier__user__email",
        "courier__user__first_name",
        "courier__user__last_name",
        "=courier__user__phone",
    ]
    search_help_text = "Email, first or last name, phone (exact)"
    date_hierarchy = "submitted_at"
    list_select_related = ["courier__user", "courier__home_hub", "reviewer"]
    ordering = ["submitted_at", "pk"]  # the queue: oldest submission first
    list_per_page = 100
    actions = [start_review, approve, request_changes, reject]
    readonly_fields = [
        "courier",
        "status",
        "status_changed_at",
        "submitted_at",
        "reviewer",
        "decided_at",
        "decision_note",
        "created_at",
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                current_documents=Count(
                    "courier__documents", filter=Q(courier__documents__is_current=True)
                )
            )
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Courier", ordering="courier__user__last_name")
    def courier_name(self, application: CourierApplication) -> str:
        return str(application.courier)

    @admin.display(description="Email", ordering="courier__user__email")
    def email(self, application: CourierApplication) -> str:
        return application.courier.user.email

    @admin.display(description="Kind", ordering="courier__kind")
    def kind(self, application: CourierApplication) -> str:
        return application.courier.get_kind_display()

    @admin.display(description="Home hub", ordering="courier__home_hub__code")
    def home_hub(self, application: CourierApplication) -> str:
        return application.courier.home_hub.code if application.courier.home_hub else "—"

    @admin.display(description="Vehicle", ordering="courier__vehicle")
    def vehicle(self, application: CourierApplication) -> str:
        return application.courier.get_vehicle_display() or "—"

    @admin.display(description="Documents", ordering="current_documents")
    def document_count(self, application: CourierApplication) -> int:
        return application.current_documents

    def change_view(self, request, object_id, form_url="", extra_context=None):
        application = get_object_or_404(
            CourierApplication.objects.select_related("courier__user", "courier__home_hub"),
            pk=object_id,
        )
        courier = application.courier
        extra_context = {
            **(extra_context or {}),
            "application": application,
            "courier": courier,
            "checklist": selectors.application_checklist(courier=courier),
            "documents": [
                (doc, document_preview(doc)) for doc in selectors.current_documents(courier=courier)
            ],
            "timeline": selectors.courier_timeline(courier=courier),
            "reason_form": ReasonForm(),
            "can_decide": self.has_change_permission(request, application),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "decide_url": reverse(
                "admin:workforce_courierapplication_decide", args=[application.pk]
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="workforce_courierapplication_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """One decision from the application page: start review, approve, changes, reject."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        application = get_object_or_404(CourierApplication, pk=pk)
        decision = request.POST.get("decision", "")
        reason = request.POST.get("reason", "")
        moves = {
            "start_review": lambda: services.application_start_review(
                application=application, reviewer=request.user
            ),
            "approve": lambda: services.application_approve(
                application=application, reviewer=request.user
            ),
            "request_changes": lambda: services.application_request_changes(
                application=application, reviewer=request.user, reason=reason
            ),
            "reject": lambda: services.application_reject(
                application=application, reviewer=request.user, reason=reason
            ),
        }
        if decision not in moves:
            self.message_user(request, "Choose a decision.", messages.ERROR)
        else:
            try:
                moves[decision]()
            except ApplicationError as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
            else:
                application.refresh_from_db(fields=["status"])
                self.message_user(
                    request,
                    f"Application is now {application.get_status_display().lower()}.",
                    messages.SUCCESS,
                )
        return HttpResponseRedirect(reverse("admin:workforce_courierapplication_change", args=[pk]))


# --- Couriers -------------------------------------------------------------------------------


@admin.action(description="Suspend (with a reason)…", permissions=["change"])
@action_with_form(ReasonForm, "Suspend couriers", "suspended")
def suspend_couriers(request, courier, data):
    return services.courier_suspend(courier=courier, actor=request.user, reason=data["reason"])


@admin.action(description="Offboard (with a reason)…", permissions=["change"])
@action_with_form(ReasonForm, "Offboard couriers", "offboarded")
def offboard_couriers(request, courier, data):
    return services.courier_offboard(courier=courier, actor=request.user, reason=data["reason"])


@admin.action(description="Reactivate selected couriers", permissions=["change"])
@action_per_row("reactivated")
def reactivate_couriers(request, courier):
    return services.courier_reactivate(courier=courier, actor=request.user)


class CourierEventInline(ReadOnlyInline):
    model = CourierEvent
    verbose_name = "timeline entry"
    verbose_name_plural = "timeline"
    fields = ["occurred_at", "kind", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields
    ordering = ["occurred_at", "pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Courier)
class CourierAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "email",
        "kind",
        "status",
        "home_hub",
        "vehicle",
        "on_time",
        "first_attempt",
        "stops_per_hour",
        "rating",
    ]
    list_filter = ["status", "kind", "home_hub", "vehicle"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "=user__phone"]
    list_select_related = ["user", "home_hub"]
    list_per_page = 100
    actions = [suspend_couriers, reactivate_couriers, offboard_couriers]
    inlines = [DocumentInline, CourierEventInline]
    readonly_fields = [
        "user",
        "kind",
        "status",
        "status_changed_at",
        "home_hub",
        "vehicle",
        "skills",
        "email_verified_at",
        "date_of_birth",
        "address",
        "work_eligibility",
        "nationality",
        "account_holder",
        "payout_account",
        "performance",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["user", "kind", "status", "status_changed_at", "email_verified_at"]}),
        ("Work", {"fields": ["home_hub", "vehicle", "skills", "performance"]}),
        ("Personal", {"fields": ["date_of_birth", "address", "work_eligibility", "nationality"]}),
        ("Payout", {"fields": ["account_holder", "payout_account"]}),
        ("Record", {"fields": ["created_at"]}),
    ]

    def get_queryset(self, request):
        return selectors.couriers_with_performance(super().get_queryset(request))

    def has_add_permission(self, request) -> bool:
        return False  # couriers sign up themselves in the portal

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # offboard instead: earnings and events reference the courier

    @admin.display(description="Email", ordering="user__email")
    def email(self, courier: Courier) -> str:
        return courier.user.email

    @admin.display(description="Address")
    def address(self, courier: Courier) -> str:
        return f"{courier.street_address}, {courier.postcode} {courier.city} {courier.country}"

    @admin.display(description="Payout account (IBAN)")
    def payout_account(self, courier: Courier) -> str:
        return courier.iban_masked or "—"

    @admin.display(description="On time", ordering="perf_on_time")
    def on_time(self, courier: Courier) -> str:
        rate = selectors.performance_of(courier).on_time_rate
        return "—" if rate is None else f"{rate:.0f} %"

    @admin.display(description="1st attempt", ordering="perf_first_successes")
    def first_attempt(self, courier: Courier) -> str:
        rate = selectors.performance_of(courier).first_attempt_success_rate
        return "—" if rate is None else f"{rate:.0f} %"

    @admin.display(description="Stops/h")
    def stops_per_hour(self, courier: Courier) -> str:
        value = selectors.performance_of(courier).stops_per_hour
        return "—" if value is None else f"{value:.1f}"

    @admin.display(description="Rating", ordering="perf_rating_avg")
    def rating(self, courier: Courier) -> str:
        value = selectors.performance_of(courier).rating_avg
        return "—" if value is None else f"{value:.2f} ★"

    @admin.display(description="Last 28 days")
    def performance(self, courier: Courier) -> str:
        perf = selectors.performance_of(courier)
        return (
            f"{perf.stops} stops ({perf.deliveries} delivered) in {perf.worked_s / 3600:.1f} h; "
            f"on time {perf.on_time_rate if perf.on_time_rate is not None else '—'} %, "
            f"first attempt {perf.first_attempt_success_rate if perf.first_attempt_success_rate is not None else '—'} %, "
            f"{perf.stops_per_hour if perf.stops_per_hour is not None else '—'} stops/h, "
            f"rating {perf.rating_avg if perf.rating_avg is not None else '—'} ({perf.rating_count})"
        )


@admin.register(CourierDocument)
class CourierDocumentAdmin(ReadOnlyAdmin):
    list_display = [
        "courier",
        "kind",
        "expires_on",
        "is_current",
        "expiry_flagged_at",
        "created_at",
        "file_link",
    ]
    list_filter = ["kind", "is_current", ("expiry_flagged_at", admin.EmptyFieldListFilter)]
    search_fields = ["courier__user__email", "courier__user__last_name"]
    date_hierarchy = "expires_on"
    list_select_related = ["courier__user"]
    readonly_fields = [
        "courier",
        "kind",
        "content_type",
        "size_bytes",
        "sha256",
        "expires_on",
        "is_current",
        "superseded_at",
        "expiry_flagged_at",
        "uploaded_by",
        "created_at",
        "file_link",
    ]
    fields = readonly_fields

    @admin.display(description="File")
    def file_link(self, document: CourierDocument) -> str:
        return document_preview(document)


# --- Availability, coverage, shifts, ratings ---------------------------------------------------


class CoverageForm(forms.Form):
    hub = forms.ModelChoiceField(queryset=Hub.objects.filter(is_active=True))
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


@admin.register(AvailabilitySlot)
class AvailabilitySlotAdmin(ReadOnlyAdmin):
    """Couriers declare their own availability in the portal; this screen only reads it."""

    change_list_template = "admin/workforce/availabilityslot/change_list.html"
    list_display = ["day", "starts_at", "ends_at", "hub", "courier"]
    list_filter = ["hub", "day"]
    search_fields = ["courier__user__email", "courier__user__last_name"]
    date_hierarchy = "day"
    list_select_related = ["hub", "courier__user"]

    def get_urls(self):
        return [
            path(
                "coverage/",
                self.admin_site.admin_view(self.coverage_view),
                name="workforce_availabilityslot_coverage",
            ),
            *super().get_urls(),
        ]

    def coverage_view(self, request: HttpRequest) -> HttpResponse:
        """Courier-hours available per hour of a hub's day against the configured need."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        first_hub = Hub.objects.filter(is_active=True).order_by("code").first()
        form = CoverageForm(
            request.GET or None,
            initial={"hub": first_hub, "day": timezone.localdate() + dt.timedelta(days=1)},
        )
        hub, day = first_hub, timezone.localdate() + dt.timedelta(days=1)
        if request.GET and form.is_valid():
            hub, day = form.cleaned_data["hub"], form.cleaned_data["day"]
        hours = selectors.hub_coverage(hub=hub, day=day) if hub else []
        peak = max([float(h.available) for h in hours] + [h.needed for h in hours] + [1])
        rows = [
            {
                "hour": h,
                "available_pct": round(100 * float(h.available) / peak),
                "needed_pct": round(100 * h.needed / peak),
            }
            for h in hours
            if h.available or h.needed
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Coverage {hub.code if hub else ''} {day:%a %d %b %Y}",
            "form": form,
            "rows": rows,
            "hub": hub,
            "day": day,
            "couriers": selectors.courier_availability_for(hub=hub, day=day) if hub else [],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/workforce/coverage.html", context)


@admin.register(CoverageNeed)
class CoverageNeedAdmin(admin.ModelAdmin):
    list_display = ["hub", "weekday", "starts_at", "ends_at", "couriers"]
    list_editable = ["couriers"]
    list_filter = ["hub", "weekday"]
    list_select_related = ["hub"]


class ShiftForm(forms.ModelForm):
    class Meta:
        model = Shift
        fields = ["courier", "hub", "planned_start", "planned_end"]


@admin.action(description="Mark selected shifts started (now)", permissions=["change"])
@action_per_row("started")
def start_shifts(request, shift):
    return services.shift_start(shift=shift, actor=request.user)


class CompleteShiftForm(forms.Form):
    distance_km = forms.DecimalField(
        min_value=0, max_digits=7, decimal_places=1, required=False, help_text="Driven, if known"
    )


@admin.action(description="Complete selected shifts (now)…", permissions=["change"])
@action_with_form(CompleteShiftForm, "Complete shifts", "completed")
def complete_shifts(request, shift, data):
    km = data.get("distance_km")
    return services.shift_complete(
        shift=shift, distance_m=int(km * 1000) if km is not None else None, actor=request.user
    )


@admin.action(description="Cancel selected shifts", permissions=["change"])
@action_per_row("cancelled")
def cancel_shifts(request, shift):
    return services.shift_cancel(shift=shift, actor=request.user)


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    form = ShiftForm
    list_display = [
        "courier",
        "hub",
        "planned_start",
        "planned_end",
        "status",
        "started_at",
        "ended_at",
        "worked_s",
        "distance_m",
    ]
    list_filter = ["status", "hub"]
    search_fields = ["courier__user__email", "courier__user__last_name"]
    date_hierarchy = "planned_start"
    list_select_related = ["courier__user", "hub"]
    actions = [start_shifts, complete_shifts, cancel_shifts]
    autocomplete_fields = []

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "courier",
            "hub",
            "planned_start",
            "planned_end",
            "status",
            "started_at",
            "ended_at",
            "worked_s",
            "distance_m",
        ]

    def get_fields(self, request, obj=None):
        return ShiftForm.Meta.fields if obj is None else self.get_readonly_fields(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        shift = services.shift_schedule(
            courier=form.cleaned_data["courier"],
            hub=form.cleaned_data["hub"],
            planned_start=form.cleaned_data["planned_start"],
            planned_end=form.cleaned_data["planned_end"],
            actor=request.user,
        )
        obj.pk = shift.pk

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "courier" in form.base_fields:
            form.base_fields["courier"].queryset = Courier.objects.filter(
                status="active"
            ).select_related("user")
        return form


@admin.register(DeliveryRating)
class DeliveryRatingAdmin(ReadOnlyAdmin):
    list_display = ["rated_at", "courier", "stars", "attempt", "comment"]
    list_filter = ["stars"]
    list_select_related = ["courier__user", "attempt"]
    date_hierarchy = "rated_at"
