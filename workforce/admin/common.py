"""Pieces the workforce admin screens share: the reason form, read-only screens and inlines.
Actions come from ``lastmile.core.admin_actions``."""

from django import forms


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shown to the courier and kept in the audit trail",
    )
