"""The hub manager's vehicle screens: types, vehicles on a live map, devices, pings, events.

Every change goes through the fleet services; device tokens are rendered once, straight into
the response, and never stored or put in a message cookie.
"""

from django import forms
from django.contrib import admin, messages
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from fleet import services
from fleet.admin.common import BoundedCountPaginator, map_settings
from fleet.models import (
    Device,
    FleetEvent,
    TelematicsPing,
    Vehicle,
    VehicleType,
)
from fleet.selectors import vehicle_history, vehicle_state_or_none
from fleet.templatetags.fleet_admin import vehicle_markers
from lastmile.core.admin_actions import (
    ArchiveInsteadOfDeleteAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    action_per_row,
    action_with_form,
)
from lastmile.core.errors import ApplicationError
from lastmile.core.skills import Skill
from lastmile.hubs.models import Hub

# --- Vehicle types --------------------------------------------------------------------------


@admin.register(VehicleType)
class VehicleTypeAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "profile",
        "payload_kg",
        "volume_m3",
        "capacity_parcels",
        "battery_kwh",
        "consumption_wh_per_km",
        "charging",
        "cost_per_km_minor",
        "cost_per_hour_minor",
    ]
    list_filter = ["kind", "routing_profile"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "routing_profile"]}),
        ("Capacity", {"fields": ["capacity_weight_g", "capacity_volume_cm3", "capacity_parcels"]}),
        (
            "Energy (electric kinds)",
            {
                "fields": [
                    "battery_capacity_wh",
                    "usable_battery_pct",
                    "consumption_wh_per_km",
                    "consumption_loaded_wh_per_km",
                    ("max_ac_power_w", "ac_connector"),
                    ("max_dc_power_w", "dc_connector"),
                ]
            },
        ),
        ("Emissions (combustion)", {"fields": ["co2_g_per_km"]}),
        (
            "Costs",
            {
                "fields": [
                    "cost_per_km_minor",
                    "cost_per_hour_minor",
                    "fixed_cost_minor",
                    "currency",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Profile")
    def profile(self, vt: VehicleType) -> str:
        return vt.profile

    @admin.display(description="Payload kg", ordering="capacity_weight_g")
    def payload_kg(self, vt: VehicleType) -> str:
        return f"{vt.capacity_weight_g / 1000:g}"

    @admin.display(description="Volume m³", ordering="capacity_volume_cm3")
    def volume_m3(self, vt: VehicleType) -> str:
        return f"{vt.capacity_volume_cm3 / 1_000_000:g}"

    @admin.display(description="Battery kWh (usable)", ordering="battery_capacity_wh")
    def battery_kwh(self, vt: VehicleType) -> str:
        if not vt.battery_capacity_wh:
            return "—"
        return f"{vt.battery_capacity_wh / 1000:g} ({vt.usable_battery_wh / 1000:g})"

    @admin.display(description="Charging")
    def charging(self, vt: VehicleType) -> str:
        parts = []
        if vt.max_ac_power_w:
            parts.append(f"AC {vt.max_ac_power_w / 1000:g} kW {vt.get_ac_connector_display()}")
        if vt.max_dc_power_w:
            parts.append(f"DC {vt.max_dc_power_w / 1000:g} kW {vt.get_dc_connector_display()}")
        return " · ".join(parts) or "—"


# --- Vehicles -------------------------------------------------------------------------------


class UpperCaseField(forms.CharField):
    """Fleet numbers and plates are capitals; accept them typed in any case."""

    def to_python(self, value):
        return super().to_python(value).strip().upper()


class VehicleForm(forms.ModelForm):
    skills = forms.MultipleChoiceField(
        choices=Skill.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = Vehicle
        fields = ["code", "registration", "vehicle_type", "home_hub", "skills"]
        field_classes = {"code": UpperCaseField, "registration": UpperCaseField}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "home_hub" not in self.fields:  # read-only for this person
            return
        # Vehicles join active hubs only; one already at an archived hub may stay there.
        hubs = Hub.objects.filter(is_active=True)
        if self.instance.pk is not None:
            hubs = hubs | Hub.objects.filter(pk=self.instance.home_hub_id)
        self.fields["home_hub"].queryset = hubs.order_by("code")


class MaintenanceForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Shown in the vehicle's history")


class RetireForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Its telematics devices are revoked too")


@admin.action(description="Send selected vehicles to maintenance…", permissions=["change"])
@action_with_form(MaintenanceForm, "Send to maintenance", "sent to maintenance")
def send_to_maintenance(request, vehicle, data):
    return services.vehicle_send_to_maintenance(
        vehicle=vehicle, reason=data["reason"], source="back_office", actor=request.user
    )


@admin.action(description="Retire selected vehicles…", permissions=["change"])
@action_with_form(RetireForm, "Retire vehicles", "retired")
def retire(request, vehicle, data):
    return services.vehicle_retire(
        vehicle=vehicle, reason=data["reason"], source="back_office", actor=request.user
    )


@admin.action(description="Return selected vehicles to service", permissions=["change"])
@action_per_row("returned to service")
def return_to_service(request, vehicle):
    return services.vehicle_return_to_service(
        vehicle=vehicle, source="back_office", actor=request.user
    )


class DeviceInline(ReadOnlyInline):
    model = Device
    fields = ["name", "token_prefix", "last_seen_at", "revoked_at"]
    readonly_fields = fields
    show_change_link = True


class FleetEventInline(ReadOnlyInline):
    model = FleetEvent
    fk_name = "vehicle"
    verbose_name = "history entry"
    verbose_name_plural = "history"
    fields = ["occurred_at", "kind", "from_status", "to_status", "source", "actor", "payload"]
    readonly_fields = fields
    ordering = ["-occurred_at", "-pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Vehicle)
class VehicleAdmin(ArchiveInsteadOfDeleteAdmin):
    form = VehicleForm
    list_display = [
        "code",
        "vehicle_type",
        "kind",
        "hub",
        "status",
        "soc",
        "last_seen",
        "speed",
        "registration",
    ]
    list_filter = ["home_hub", "status", "vehicle_type__kind", "vehicle_type"]
    search_fields = ["code", "registration", "vehicle_type__name"]
    search_help_text = "Fleet number, registration or vehicle type"
    list_select_related = ["vehicle_type", "home_hub", "state"]
    list_per_page = 100
    actions = [send_to_maintenance, return_to_service, retire]
    inlines = [DeviceInline, FleetEventInline]
    readonly_fields = ["status", "status_changed_at", "live_state", "created_at", "updated_at"]

    class Media:
        css = {"all": ("leaflet/leaflet.css",)}
        js = ("leaflet/leaflet.js", "fleet/js/vehicle_map.js")

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["code", "registration", "vehicle_type", "home_hub", "skills"]}),
        ]
        if obj is not None:
            fieldsets += [
                ("Status", {"fields": ["status", "status_changed_at"]}),
                ("Live", {"fields": ["live_state"]}),
                ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
            ]
        return fieldsets

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("vehicle_type", "home_hub", "state")

    def get_readonly_fields(self, request, obj=None):
        # The fleet number is painted on the vehicle; it is set once.
        return [*self.readonly_fields, "code"] if obj is not None else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    # Retiring is the vehicle's archive: it keeps its routes, sessions and events.
    instead = services.RETIRE_INSTEAD

    def history_of(self, obj: Vehicle) -> list[str]:
        return vehicle_history(vehicle=obj)

    def delete_object(self, request, obj: Vehicle) -> None:
        services.vehicle_delete(vehicle=obj)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "map": map_settings()})

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.vehicle_create(
                code=obj.code,
                registration=obj.registration,
                vehicle_type=obj.vehicle_type,
                home_hub=obj.home_hub,
                skills=obj.skills,
                source="back_office",
                actor=request.user,
            )
            obj.pk, obj.code = created.pk, created.code
            return
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in services.EDITABLE_FIELDS
        }
        services.vehicle_update(
            vehicle=obj, changes=changes, source="back_office", actor=request.user
        )

    @admin.display(description="Hub", ordering="home_hub__code")
    def hub(self, vehicle: Vehicle) -> str:
        return vehicle.home_hub.code

    @admin.display(description="Kind", ordering="vehicle_type__kind")
    def kind(self, vehicle: Vehicle) -> str:
        return vehicle.vehicle_type.get_kind_display()

    @admin.display(description="State of charge", ordering="state__soc_pct")
    def soc(self, vehicle: Vehicle) -> str:
        state = vehicle_state_or_none(vehicle)
        if state is None or state.soc_pct is None:
            return "—"
        pct = float(state.soc_pct)
        colour = "#c62828" if pct < 20 else "#ef6c00" if pct < 50 else "#2e7d32"
        return format_html(
            '<span class="lm-soc" title="{} %" style="display:inline-block;width:60px;height:10px;'
            'background:#eee;border:1px solid #ccc;vertical-align:middle">'
            '<span style="display:block;height:100%;width:{}%;background:{}"></span></span> {} %',
            state.soc_pct,
            round(pct),
            colour,
            round(pct),
        )

    @admin.display(description="Last seen", ordering="state__recorded_at")
    def last_seen(self, vehicle: Vehicle) -> str:
        state = vehicle_state_or_none(vehicle)
        if state is None or state.recorded_at is None:
            return "never"
        age = timezone.now() - state.recorded_at
        minutes = int(age.total_seconds() // 60)
        if minutes < 1:
            return "just now"
        if minutes < 120:
            return f"{minutes} min ago"
        return timezone.localtime(state.recorded_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="km/h")
    def speed(self, vehicle: Vehicle) -> str:
        state = vehicle_state_or_none(vehicle)
        return "—" if state is None or state.speed_kmh is None else f"{state.speed_kmh:g}"

    @admin.display(description="Last known position")
    def live_state(self, vehicle: Vehicle) -> str:
        state = vehicle_state_or_none(vehicle)
        if state is None or state.latitude is None:
            return "No ping received yet."
        return render_to_string(
            "admin/fleet/_map.html",
            {
                "markers": vehicle_markers([vehicle]),
                "markers_id": "lm-fleet-vehicle-marker",
                "map": map_settings(),
                "height": 280,
            },
        ) + format_html(
            "<p>{}, {} at {} · odometer {} km</p>",
            state.latitude,
            state.longitude,
            timezone.localtime(state.recorded_at).strftime("%Y-%m-%d %H:%M:%S"),
            "—" if state.odometer_m is None else f"{state.odometer_m / 1000:,.1f}",
        )


# --- Devices --------------------------------------------------------------------------------


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("no", "Active"), ("yes", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


def _show_tokens(model_admin, request, issued: list[tuple[Device, str]]) -> TemplateResponse:
    """Render new tokens into this one response: the only time anyone sees them."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Copy the device token now",
        "issued": issued,
        "opts": model_admin.model._meta,
    }
    response = TemplateResponse(request, "admin/fleet/device/token.html", context)
    response["Cache-Control"] = "no-store"
    return response


@admin.action(
    description="Issue a new token for selected devices (old ones stop working)",
    permissions=["change"],
)
def rotate_tokens(model_admin, request, queryset):
    issued, failed = [], []
    for device in queryset.select_related("vehicle").order_by("pk"):
        try:
            token = services.device_rotate_token(
                device=device, source="back_office", actor=request.user
            )
        except ApplicationError as exc:
            failed.append(f"{device}: {exc.message}")
        else:
            issued.append((device, token))
    if failed:
        model_admin.message_user(request, "Not rotated: " + "; ".join(failed), messages.ERROR)
    return _show_tokens(model_admin, request, issued) if issued else None


@admin.action(description="Revoke selected devices", permissions=["change"])
@action_per_row("revoked")
def revoke_devices(request, device):
    return services.device_revoke(device=device, source="back_office", actor=request.user)


class DeviceForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ["vehicle", "name"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    form = DeviceForm
    list_display = ["name", "vehicle", "token_prefix", "active", "last_seen_at", "created_at"]
    list_filter = [RevokedFilter, "vehicle__home_hub"]
    search_fields = ["name", "=token_prefix", "vehicle__code"]
    list_select_related = ["vehicle"]
    actions = [rotate_tokens, revoke_devices]
    readonly_fields = ["token_prefix", "last_seen_at", "revoked_at", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # A device belongs to one vehicle for life: a new vehicle gets a new device (token).
        return [*self.readonly_fields, "vehicle"] if obj is not None else self.readonly_fields

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["vehicle", "name"]
        return ["vehicle", "name", *self.readonly_fields]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: its pings refer to it

    @admin.display(description="Active", boolean=True)
    def active(self, device: Device) -> bool:
        return device.is_active

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "updated_at"])
            return
        device, token = services.device_create(
            vehicle=obj.vehicle, name=obj.name, source="back_office", actor=request.user
        )
        obj.pk = device.pk
        request._fleet_issued_token = (device, token)

    def response_add(self, request, obj, post_url_continue=None):
        issued = getattr(request, "_fleet_issued_token", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        return _show_tokens(self, request, [issued])


# --- Raw pings and the audit trail (read-only) ----------------------------------------------


@admin.register(TelematicsPing)
class TelematicsPingAdmin(ReadOnlyAdmin):
    """Raw pings, read-only; the retention sweep (``fleet.prune_pings``) deletes them."""

    list_display = [
        "vehicle",
        "recorded_at",
        "latitude",
        "longitude",
        "speed_kmh",
        "heading_deg",
        "soc_pct",
        "odometer_m",
        "received_at",
        "device",
    ]
    list_filter = ["vehicle__home_hub"]
    search_fields = ["=vehicle__code"]
    search_help_text = "Exact fleet number"
    list_select_related = ["vehicle", "device"]
    ordering = ["-recorded_at"]
    paginator = BoundedCountPaginator
    show_full_result_count = False
    list_per_page = 100


@admin.register(FleetEvent)
class FleetEventAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "kind",
        "vehicle",
        "charging_plan",
        "from_status",
        "to_status",
        "source",
        "actor",
    ]
    list_filter = ["kind", "source"]
    search_fields = ["=vehicle__code"]
    list_select_related = ["vehicle", "charging_plan__hub", "actor"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-pk"]
