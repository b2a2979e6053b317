"""Pieces the workforce admin screens share: the reason form, read-only screens and inlines.
Actions come from ``lastmile.core.admin_actions``."""

from django import forms
from django.contrib import admin


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shown to the courier and kept in the audit trail",
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """A screen over rows that services, the portal or tasks write: nobody adds, edits or
    deletes them here (ledgers and audit rows are corrected by new rows, never in place)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
