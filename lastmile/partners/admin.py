from django.contrib import admin

from lastmile.partners.models import Partner


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "default_hub", "contact_email", "is_active"]
    list_filter = ["kind", "is_active", "default_hub"]
    search_fields = ["name", "slug", "contact_name", "contact_email"]
    list_select_related = ["default_hub"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
