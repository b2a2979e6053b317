"""Pieces the fleet's admin screens share: read-only inlines, bounded counts, actions that
ask for input first and report per row, and the map's settings."""

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

from lastmile.core.errors import ApplicationError


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class BoundedCountPaginator(Paginator):
    """Counts at most ``LIMIT`` rows: exact for small tables, and a list of millions of pings
    does not pay for ``COUNT(*)`` over the whole table on every page view."""

    LIMIT = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.LIMIT].count()


def map_settings() -> dict:
    return {
        "tiles_url": settings.MAP_TILES_URL,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
        "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
    }


def error_text(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def run_per_row(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    verb: str,
    apply: Callable[[Model], object],
    label: Callable[[Model], str] = str,
) -> None:
    """Apply ``apply`` to each selected row (pk order) and report successes and failures."""
    done, failed = 0, []
    for obj in queryset.order_by("pk"):
        try:
            apply(obj)
        except (ApplicationError, ValidationError) as exc:
            failed.append(f"{label(obj)}: {error_text(exc)}")
        else:
            done += 1
    noun = model_admin.model._meta.verbose_name_plural
    if done:
        model_admin.message_user(request, f"{done} {noun} {verb}.", messages.SUCCESS)
    if failed:
        model_admin.message_user(
            request, f"{len(failed)} {noun} not {verb}: " + "; ".join(failed), messages.ERROR
        )


def action_with_form(form_class: type[forms.Form], title: str, verb: str):
    """Turn ``run(request, obj, cleaned_data)`` into an admin action that first asks for the
    form's input on an intermediate page, then runs per row."""

    def decorator(run: Callable[[HttpRequest, Model, dict], object]):
        def action(model_admin, request, queryset):
            form = form_class(request.POST if "apply" in request.POST else None)
            if "apply" in request.POST and form.is_valid():
                run_per_row(
                    model_admin,
                    request,
                    queryset,
                    verb,
                    lambda obj: run(request, obj, form.cleaned_data),
                )
                return None
            context = {
                **model_admin.admin_site.each_context(request),
                "title": title,
                "form": form,
                "objects": queryset[:200],
                "count": queryset.count(),
                "action": action.__name__,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "opts": model_admin.model._meta,
            }
            return TemplateResponse(request, "admin/fleet/action_form.html", context)

        action.__name__ = run.__name__
        return action

    return decorator
