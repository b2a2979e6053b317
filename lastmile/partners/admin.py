"""Back-office screen for partners: archived, never deleted, once they have orders."""

from django.contrib import admin

from lastmile.core.admin_actions import ArchiveInsteadOfDeleteAdmin, action_per_row
from lastmile.hubs.models import Hub
from lastmile.partners.models import Partner
from lastmile.partners.selectors import partner_history
from lastmile.partners.services import partner_archive, partner_delete


@admin.action(
    description="Archive selected partners (kept with their history)", permissions=["change"]
)
@action_per_row("archived")
def archive(request, partner):
    return partner_archive(partner=partner)


@admin.register(Partner)
class PartnerAdmin(ArchiveInsteadOfDeleteAdmin):
    list_display = [
        "name",
        "slug",
        "kind",
        "default_hub",
        "contact_email",
        "is_active",
        "archived_at",
    ]
    list_filter = ["kind", "is_active", "default_hub"]
    search_fields = ["name", "slug", "contact_name", "contact_email"]
    list_select_related = ["default_hub"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["archived_at", "created_at", "updated_at"]
    actions = [archive]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "default_hub":
            # New orders go to the default hub: only an active hub can take them.
            kwargs["queryset"] = Hub.objects.filter(is_active=True).order_by("code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def history_of(self, obj: Partner) -> list[str]:
        return partner_history(partner=obj)

    def delete_object(self, request, obj: Partner) -> None:
        partner_delete(partner=obj)
