"""Back-office screens for hubs: list, map picker for the position, weekly opening hours."""

from django import forms
from django.contrib import admin

from lastmile.core.admin_actions import ArchiveInsteadOfDeleteAdmin, action_per_row
from lastmile.core.widgets import MapPickerWidget
from lastmile.hubs.models import Hub, OpeningHours, find_overlaps
from lastmile.hubs.selectors import hub_history
from lastmile.hubs.services import hub_archive, hub_delete


class OpeningHoursFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        intervals = [
            (
                form.cleaned_data["weekday"],
                form.cleaned_data["opens_at"],
                form.cleaned_data["closes_at"],
            )
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and {"weekday", "opens_at", "closes_at"} <= form.cleaned_data.keys()
        ]
        problems = find_overlaps(intervals)
        if problems:
            raise forms.ValidationError(problems)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    formset = OpeningHoursFormSet
    extra = 0
    ordering = ["weekday", "opens_at"]


class HubForm(forms.ModelForm):
    class Meta:
        model = Hub
        fields = [
            "name",
            "code",
            "kind",
            "address",
            "latitude",
            "longitude",
            "time_zone",
            "is_active",
        ]
        widgets = {"latitude": MapPickerWidget(longitude_field="longitude")}


@admin.action(description="Archive selected hubs (kept with their history)", permissions=["change"])
@action_per_row("archived")
def archive(request, hub):
    return hub_archive(hub=hub)


@admin.register(Hub)
class HubAdmin(ArchiveInsteadOfDeleteAdmin):
    form = HubForm
    list_display = ["code", "name", "kind", "address", "time_zone", "is_active", "archived_at"]
    list_filter = ["kind", "is_active", "time_zone"]
    search_fields = ["code", "name", "address"]
    readonly_fields = ["archived_at", "created_at", "updated_at"]
    inlines = [OpeningHoursInline]
    actions = [archive]
    fieldsets = [
        (None, {"fields": ["name", "code", "kind", "is_active", "archived_at"]}),
        ("Location", {"fields": ["address", "latitude", "longitude", "time_zone"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def history_of(self, obj: Hub) -> list[str]:
        return hub_history(hub=obj)

    def delete_object(self, request, obj: Hub) -> None:
        hub_delete(hub=obj)
