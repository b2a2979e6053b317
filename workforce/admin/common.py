"""Pieces the workforce admin screens share: per-row action results, actions with a form."""

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from lastmile.core.errors import ApplicationError


def error_text(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        details = [m for messages_ in exc.errors.values() for m in messages_]
        return " ".join([exc.message, *details]) if details else exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def run_per_row(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    rows: Iterable[Model],
    verb: str,
    apply: Callable[[Any], object],
) -> int:
    """Apply to each row; report how many succeeded and, row by row, why others did not."""
    done, failed = 0, []
    for row in rows:
        try:
            apply(row)
        except (ApplicationError, ValidationError) as exc:
            failed.append(f"{row}: {error_text(exc)}")
        else:
            done += 1
    noun = model_admin.model._meta.verbose_name_plural
    if done:
        model_admin.message_user(request, f"{done} {noun} {verb}.", messages.SUCCESS)
    if failed:
        model_admin.message_user(
            request, f"{len(failed)} {noun} not {verb}: " + "; ".join(failed), messages.ERROR
        )
    return done


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shown to the courier and kept in the audit trail",
    )


def action_with_form(form_class: type[forms.Form], title: str, verb: str):
    """Wrap an admin action so it first asks for its input on an intermediate page."""

    def decorator(run: Callable[[HttpRequest, Any, dict], object]):
        def action(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
            form = form_class(request.POST if "apply" in request.POST else None)
            if "apply" in request.POST and form.is_valid():
                run_per_row(
                    model_admin,
                    request,
                    queryset.order_by("pk"),
                    verb,
                    lambda row: run(request, row, form.cleaned_data),
                )
                return None
            opts = model_admin.model._meta
            context = {
                **model_admin.admin_site.each_context(request),
                "title": title,
                "form": form,
                "rows": list(queryset[:50]),
                "count": queryset.count(),
                "action": action.__name__,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "opts": opts,
                "changelist_url": f"admin:{opts.app_label}_{opts.model_name}_changelist",
            }
            return TemplateResponse(request, "admin/workforce/action_form.html", context)

        action.__name__ = run.__name__
        return action

    return decorator


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
