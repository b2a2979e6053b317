"""The hub manager's charging screens: tariffs, sites and chargers, sessions, and plans with a
timeline per charger."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Max, Min
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from fleet import services
from fleet.admin.timeline import timeline_context
from fleet.models import (
    Charger,
    ChargingPlan,
    ChargingSession,
    ChargingSite,
    Tariff,
    TariffRate,
)
from fleet.selectors import charging_plan_get
from lastmile.core.admin_actions import ReadOnlyAdmin, error_text
from lastmile.core.errors import ApplicationError


def _money(minor: int, currency: str) -> str:
    return f"{minor / 100:,.2f} {currency}"


# --- Tariffs --------------------------------------------------------------------------------


class TariffRateFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        hours = [
            form.cleaned_data["hour"]
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and "hour" in form.cleaned_data
        ]
        if sorted(hours) != list(range(24)):
            missing = sorted(set(range(24)) - set(hours))
            doubled = sorted({h for h in hours if hours.count(h) > 1})
            problems = []
            if missing:
                problems.append(f"no price for hour(s) {', '.join(map(str, missing))}")
            if doubled:
                problems.append(f"hour(s) {', '.join(map(str, doubled))} twice")
            raise forms.ValidationError(
                f"A tariff needs one price per hour 0-23: {'; '.join(problems)}."
            )


class TariffRateInline(admin.TabularInline):
    model = TariffRate
    formset = TariffRateFormSet
    extra = 0
    max_num = 24
    ordering = ["hour"]


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ["name", "currency", "cheapest", "dearest", "site_count"]
    search_fields = ["name"]
    inlines = [TariffRateInline]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                low=Min("rates__price_minor_per_mwh"),
                high=Max("rates__price_minor_per_mwh"),
                sites_n=Count("sites", distinct=True),
            )
        )

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if obj.pk is None and request.method == "GET":
            kwargs["initial"] = [{"hour": hour} for hour in range(24)]
        return kwargs

    def get_inline_instances(self, request, obj=None):
        instances = super().get_inline_instances(request, obj)
        for inline in instances:
            inline.extra = 24 if obj is None else 0
        return instances

    @admin.display(description="Cheapest /kWh", ordering="low")
    def cheapest(self, tariff: Tariff) -> str:
        return "—" if tariff.low is None else f"{tariff.low / 100_000:.3f}"

    @admin.display(description="Dearest /kWh", ordering="high")
    def dearest(self, tariff: Tariff) -> str:
        return "—" if tariff.high is None else f"{tariff.high / 100_000:.3f}"

    @admin.display(description="Sites", ordering="sites_n")
    def site_count(self, tariff: Tariff) -> int:
        return tariff.sites_n


# --- Sites and chargers ---------------------------------------------------------------------


class ChargerInline(admin.TabularInline):
    model = Charger
    extra = 0
    fields = ["code", "current", "connector", "max_power_w", "status"]
    show_change_link = True

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # decommission instead: sessions and plans refer to it


@admin.action(description="Plan charging for the coming night")
def plan_charging(model_admin, request, queryset):
    for site in queryset.select_related("hub").order_by("pk"):
        try:
            plan = services.charging_plan_request(
                hub=site.hub, source="back_office", actor=request.user
            )
        except ApplicationError as exc:
            model_admin.message_user(request, f"{site.hub.code}: {error_text(exc)}", messages.ERROR)
            continue
        url = reverse("admin:fleet_chargingplan_change", args=[plan.pk])
        model_admin.message_user(
            request,
            format_html(
                '{}: <a href="{}">plan {}</a> requested for {} vehicle(s); it is being solved.',
                site.hub.code,
                url,
                plan.pk,
                plan.vehicle_count,
            ),
            messages.SUCCESS,
        )


plan_charging.allowed_permissions = ("plan_charging",)


@admin.register(ChargingSite)
class ChargingSiteAdmin(admin.ModelAdmin):
    list_display = [
        "hub",
        "power_cap",
        "tariff",
        "charger_count",
        "default_arrival_time",
        "default_ready_time",
    ]
    list_select_related = ["hub", "tariff"]
    search_fields = ["hub__code", "hub__name"]
    inlines = [ChargerInline]
    actions = [plan_charging]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(chargers_n=Count("chargers"))

    def has_plan_charging_permission(self, request) -> bool:
        return request.user.has_perm("fleet.plan_charging")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Power cap", ordering="power_cap_w")
    def power_cap(self, site: ChargingSite) -> str:
        return f"{site.power_cap_w / 1000:g} kW"

    @admin.display(description="Chargers", ordering="chargers_n")
    def charger_count(self, site: ChargingSite) -> int:
        return site.chargers_n


@admin.register(Charger)
class ChargerAdmin(admin.ModelAdmin):
    list_display = ["code", "hub", "current", "connector", "power", "status"]
    list_filter = ["site__hub", "current", "connector", "status"]
    search_fields = ["code", "site__hub__code"]
    list_select_related = ["site__hub"]
    readonly_fields = ["created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Hub", ordering="site__hub__code")
    def hub(self, charger: Charger) -> str:
        return charger.site.hub.code

    @admin.display(description="Power", ordering="max_power_w")
    def power(self, charger: Charger) -> str:
        return f"{charger.max_power_w / 1000:g} kW"


# --- Sessions -------------------------------------------------------------------------------


class ChargingSessionForm(forms.ModelForm):
    """Records through the service inside ``clean`` so that every refusal (implausible
    energy, overlap, wrong plug) lands on the form instead of failing the save."""

    class Meta:
        model = ChargingSession
        fields = [
            "vehicle",
            "charger",
            "started_at",
            "ended_at",
            "energy_wh",
            "start_soc_pct",
            "end_soc_pct",
        ]

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean(self):
        data = super().clean()
        required = ("vehicle", "charger", "started_at", "ended_at", "energy_wh")
        if self.errors or any(data.get(name) is None for name in required):
            return data
        try:
            session, _ = services.charging_session_record(
                vehicle=data["vehicle"],
                charger=data["charger"],
                started_at=data["started_at"],
                ended_at=data["ended_at"],
                energy_wh=data["energy_wh"],
                start_soc_pct=data.get("start_soc_pct"),
                end_soc_pct=data.get("end_soc_pct"),
                source="back_office",
                actor=self.actor,
            )
        except ApplicationError as exc:
            for field, problems in exc.errors.items():
                for problem in problems:
                    self.add_error(field if field in self.fields else None, problem)
            if not exc.errors:
                self.add_error(None, exc.message)
        else:
            self.instance = session
        return data


@admin.register(ChargingSession)
class ChargingSessionAdmin(admin.ModelAdmin):
    form = ChargingSessionForm
    list_display = [
        "vehicle",
        "charger",
        "hub",
        "started_at",
        "duration",
        "energy_kwh",
        "soc_change",
        "cost",
        "source",
    ]
    list_filter = ["charger__site__hub", "source", "charger__current"]
    search_fields = ["=vehicle__code", "charger__code"]
    list_select_related = ["vehicle", "charger__site__hub"]
    date_hierarchy = "started_at"
    readonly_fields = ["cost_minor", "currency", "source", "recorded_by", "created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class WithActor(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, actor=request.user, **inner)

        return WithActor

    def save_model(self, request, obj, form, change):
        pass  # the form's clean() recorded it through the service

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a metered session is a fact; record a correction as a new one

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Hub", ordering="charger__site__hub__code")
    def hub(self, session: ChargingSession) -> str:
        return session.charger.site.hub.code

    @admin.display(description="Duration")
    def duration(self, session: ChargingSession) -> str:
        minutes = int((session.ended_at - session.started_at).total_seconds() // 60)
        return f"{minutes // 60} h {minutes % 60:02d} min"

    @admin.display(description="Energy", ordering="energy_wh")
    def energy_kwh(self, session: ChargingSession) -> str:
        return f"{session.energy_wh / 1000:.1f} kWh"

    @admin.display(description="SoC")
    def soc_change(self, session: ChargingSession) -> str:
        if session.start_soc_pct is None or session.end_soc_pct is None:
            return "—"
        return f"{session.start_soc_pct:g} → {session.end_soc_pct:g} %"

    @admin.display(description="Cost", ordering="cost_minor")
    def cost(self, session: ChargingSession) -> str:
        return _money(session.cost_minor, session.currency)


# --- Plans ----------------------------------------------------------------------------------


@admin.register(ChargingPlan)
class ChargingPlanAdmin(ReadOnlyAdmin):
    """Plans are requested from a charging site (action) or the API, never added here."""

    list_display = [
        "id",
        "hub",
        "night",
        "status",
        "vehicle_count",
        "short_vehicle_count",
        "energy_kwh",
        "cost",
        "naive_cost",
        "saving",
        "peak",
        "naive_peak",
        "cap",
    ]
    list_filter = ["hub", "status"]
    search_fields = ["hub__code"]
    list_select_related = ["hub"]
    date_hierarchy = "horizon_start"
    fieldsets = [
        (None, {"fields": ["hub", "status", "night", "message"]}),
        (
            "Figures",
            {
                "fields": [
                    ("energy_kwh", "grid_kwh"),
                    ("cost", "naive_cost", "saving"),
                    ("peak", "naive_peak", "cap"),
                    ("short_vehicle_count", "shortfall_wh"),
                    ("solver", "solver_status", "solve_ms"),
                ]
            },
        ),
        ("Timeline per charger", {"fields": ["timeline"]}),
        ("Vehicles", {"fields": ["vehicle_table"]}),
        ("Record", {"fields": ["source", "requested_by", "created_at", "solved_at"]}),
    ]
    readonly_fields = [
        "hub",
        "status",
        "night",
        "message",
        "energy_kwh",
        "grid_kwh",
        "cost",
        "naive_cost",
        "saving",
        "peak",
        "naive_peak",
        "cap",
        "short_vehicle_count",
        "shortfall_wh",
        "solver",
        "solver_status",
        "solve_ms",
        "timeline",
        "vehicle_table",
        "source",
        "requested_by",
        "created_at",
        "solved_at",
    ]

    @admin.display(description="Night", ordering="horizon_start")
    def night(self, plan: ChargingPlan) -> str:
        zone = plan.hub.zone
        start = timezone.localtime(plan.horizon_start, zone)
        end = timezone.localtime(plan.horizon_end, zone)
        return f"{start:%a %d %b %H:%M} → {end:%a %H:%M}"

    @admin.display(description="Energy", ordering="energy_wh")
    def energy_kwh(self, plan: ChargingPlan) -> str:
        return f"{plan.energy_wh / 1000:,.1f} kWh"

    @admin.display(description="From grid")
    def grid_kwh(self, plan: ChargingPlan) -> str:
        return f"{plan.grid_energy_wh / 1000:,.1f} kWh"

    @admin.display(description="Cost", ordering="cost_minor")
    def cost(self, plan: ChargingPlan) -> str:
        return _money(plan.cost_minor, plan.currency)

    @admin.display(description="Naive cost")
    def naive_cost(self, plan: ChargingPlan) -> str:
        return _money(plan.naive_cost_minor, plan.currency)

    @admin.display(description="Saving")
    def saving(self, plan: ChargingPlan) -> str:
        if not plan.naive_cost_minor or plan.status == "pending":
            return "—"
        return f"{100 * (plan.naive_cost_minor - plan.cost_minor) / plan.naive_cost_minor:.0f} %"

    @admin.display(description="Peak", ordering="peak_w")
    def peak(self, plan: ChargingPlan) -> str:
        return f"{plan.peak_w / 1000:.1f} kW"

    @admin.display(description="Naive peak")
    def naive_peak(self, plan: ChargingPlan) -> str:
        over = plan.naive_peak_w > plan.power_cap_w
        return format_html(
            '<span style="color:{}">{} kW</span>',
            "#c62828" if over else "inherit",
            f"{plan.naive_peak_w / 1000:.1f}",
        )

    @admin.display(description="Cap")
    def cap(self, plan: ChargingPlan) -> str:
        return f"{plan.power_cap_w / 1000:g} kW"

    @admin.display(description="Timeline")
    def timeline(self, plan: ChargingPlan) -> str:
        if plan.status == "pending":
            return "Being solved — reload in a moment."
        full = charging_plan_get(plan_id=plan.pk)
        plan._fleet_full = full  # the vehicle table below reuses the same rows
        return render_to_string(
            "admin/fleet/chargingplan/timeline.html", {"t": timeline_context(full)}
        )

    @admin.display(description="Vehicles")
    def vehicle_table(self, plan: ChargingPlan) -> str:
        full = getattr(plan, "_fleet_full", None) or charging_plan_get(plan_id=plan.pk)
        zone = plan.hub.zone
        rows = list(full.vehicles.all())
        for row in rows:
            row.available_from_local = timezone.localtime(row.available_from, zone)
            row.ready_by_local = timezone.localtime(row.ready_by, zone)
            row.need_kwh = f"{row.need_wh / 1000:.1f}"
            row.planned_kwh = f"{row.planned_wh / 1000:.1f}"
            row.cost = _money(row.cost_minor, plan.currency)
        return render_to_string("admin/fleet/chargingplan/vehicles.html", {"rows": rows})
