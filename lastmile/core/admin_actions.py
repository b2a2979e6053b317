"""Admin actions every app's back-office shares: run one service per selected row and report
each result, optionally after asking for the action's input on an intermediate page.

The callables handed in call one service each; these helpers hold no rule of their own. They
loop, catch the domain's refusals and tell the person, row by row, what happened.
"""

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from lastmile.core.errors import ApplicationError, HasHistory

M = TypeVar("M", bound=Model)

#: What Django calls for an admin action: ``action(model_admin, request, queryset)``.
AdminAction = Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Any]], HttpResponse | None]

#: The confirmation page names at most this many of the selected rows; the count covers all.
SHOWN_ON_FORM = 200

FORM_TEMPLATE = "admin/action_form.html"


def error_text(exc: Exception) -> str:
    """What a person reads for a refusal: an ``ApplicationError``'s message followed by its
    per-field messages (a refused form names the field that failed), a ``ValidationError``'s
    messages, or the exception's text."""
    if isinstance(exc, ApplicationError):
        details = [message for messages_ in exc.errors.values() for message in messages_]
        return " ".join([exc.message, *details])
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def run_per_row(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    rows: Iterable[M],
    verb: str,
    apply: Callable[[M], object],
    label: Callable[[M], str] = str,
    *,
    noun: str | None = None,
) -> int:
    """Call ``apply`` on each row, in the order ``rows`` come, and report the outcome.

    The caller orders ``rows`` (admin actions pass a queryset ordered by pk, so the services'
    row locks are taken in pk order). A row whose service refuses (``ApplicationError`` or
    ``ValidationError``) is skipped and the others go on; anything else propagates. Reports
    "N <noun> <verb>." and "N <noun> not <verb>: <label>: <reason>; …" as admin messages,
    ``noun`` defaulting to the model's ``verbose_name_plural``. Returns how many succeeded.
    """
    done, failed = 0, []
    for row in rows:
        try:
            apply(row)
        except (ApplicationError, ValidationError) as exc:
            failed.append(f"{label(row)}: {error_text(exc)}")
        else:
            done += 1
    noun = noun or model_admin.model._meta.verbose_name_plural
    if done:
        model_admin.message_user(request, f"{done} {noun} {verb}.", messages.SUCCESS)
    if failed:
        model_admin.message_user(
            request, f"{len(failed)} {noun} not {verb}: " + "; ".join(failed), messages.ERROR
        )
    return done


def action_per_row(
    verb: str,
    *,
    objects: Callable[[QuerySet[M]], QuerySet[M]] | None = None,
    label: Callable[[M], str] = str,
    noun: str | None = None,
) -> Callable[[Callable[[HttpRequest, M], object]], AdminAction]:
    """Turn ``run(request, obj)`` into an admin action that runs it on each selected row in
    pk order and reports through ``run_per_row``. ``objects`` shapes the rows first (for
    example ``select_related`` for what the service or ``label`` reads). Stack
    ``@admin.action(description=…, permissions=…)`` on top as with any action."""

    def decorator(run: Callable[[HttpRequest, M], object]) -> AdminAction:
        def action(
            model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[M]
        ) -> None:
            rows = objects(queryset) if objects is not None else queryset
            run_per_row(
                model_admin,
                request,
                rows.order_by("pk"),
                verb,
                lambda obj: run(request, obj),
                label,
                noun=noun,
            )

        action.__name__ = run.__name__
        action.__doc__ = run.__doc__
        return action

    return decorator


def action_with_form(
    form_class: type[forms.Form],
    title: str,
    verb: str,
    *,
    objects: Callable[[QuerySet[M]], QuerySet[M]] | None = None,
    label: Callable[[M], str] = str,
    noun: str | None = None,
) -> Callable[[Callable[[HttpRequest, M, dict[str, Any]], object]], AdminAction]:
    """Turn ``run(request, obj, cleaned_data)`` into an admin action that first asks for
    ``form_class``'s input on an intermediate page, then runs per row like ``action_per_row``.

    The page (``admin/action_form.html``) is titled ``title``, names the selected rows with
    ``label`` and shows the form with its errors until it is valid. ``objects`` shapes the
    queryset the page shows and the action runs on (``select_related`` for what ``label`` or
    the service reads). Stack ``@admin.action(description=…, permissions=…)`` on top.
    """

    def decorator(run: Callable[[HttpRequest, M, dict[str, Any]], object]) -> AdminAction:
        def action(
            model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[M]
        ) -> HttpResponse | None:
            rows = objects(queryset) if objects is not None else queryset
            applying = "apply" in request.POST
            form = form_class(request.POST if applying else None)
            if applying and form.is_valid():
                run_per_row(
                    model_admin,
                    request,
                    rows.order_by("pk"),
                    verb,
                    lambda obj: run(request, obj, form.cleaned_data),
                    label,
                    noun=noun,
                )
                return None
            context = {
                **model_admin.admin_site.each_context(request),
                "title": title,
                "form": form,
                # Django's own fieldset markup: errors, labels and help text tied to the field.
                "adminform": helpers.AdminForm(
                    form, [(None, {"fields": list(form.fields)})], {}, model_admin=model_admin
                ),
                "labels": [label(obj) for obj in rows[:SHOWN_ON_FORM]],
                "count": rows.count(),
                "action": action.__name__,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across") == "1",
                "opts": model_admin.model._meta,
            }
            return TemplateResponse(request, FORM_TEMPLATE, context)

        action.__name__ = run.__name__
        action.__doc__ = run.__doc__
        return action

    return decorator


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent for reading only: timelines, parcels, audit trails."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """A screen over rows that services, tasks or the portal write: nobody adds, edits or
    deletes them here (ledgers, audit trails and imports are corrected by new rows)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ArchiveInsteadOfDeleteAdmin(admin.ModelAdmin):
    """A screen over rows that are archived, not deleted, once anything refers to them.

    Deleting a row with history is refused before the confirmation page, with a message that
    names the history and says to archive it; a row without history (one just created by
    mistake) is deleted through the app's delete service, whose own refusal is shown the same
    way. The bulk delete action is withdrawn: each screen offers an "Archive" action instead.
    Subclasses give ``history_of`` (a selector), ``delete_object`` (the delete service) and
    ``instead`` (what the message tells the person to do).
    """

    instead = "archive it"
    # What every subclass must define: without them a screen could delete history unchecked.
    required_hooks = ("history_of", "delete_object")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [name for name in cls.required_hooks if not callable(getattr(cls, name, None))]
        if missing:
            raise TypeError(f"{cls.__name__} must define {', '.join(missing)}.")

    history_of: Callable[[Any], list[str]]
    delete_object: Callable[[HttpRequest, Any], None]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_delete_permission(request, obj):
            history = self.history_of(obj)
            if history:
                return self._refuse(
                    request, obj, HasHistory.refusing(obj, history, instead=self.instead)
                )
        try:
            return super().delete_view(request, object_id, extra_context)
        except ApplicationError as exc:
            # The service refused (history written meanwhile); the delete was rolled back.
            return self._refuse(request, obj, exc)

    def get_deleted_objects(self, objs, request):
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A row without history may still hold its own rows (opening hours, a creation event
        # that refuses deletes elsewhere): the delete service removes them with the row, and
        # the permission to delete the row is what counts, so the page must not refuse.
        if not any(self.history_of(obj) for obj in objs):
            perms_needed, protected = set(), []
        return to_delete, model_count, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_object(request, obj)

    def _refuse(self, request: HttpRequest, obj: Any, exc: ApplicationError) -> HttpResponse:
        self.message_user(request, error_text(exc), messages.ERROR)
        opts = self.model._meta
        if obj is not None and self.has_view_or_change_permission(request, obj):
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[obj.pk],
                current_app=self.admin_site.name,
            )
        else:
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_changelist",
                current_app=self.admin_site.name,
            )
        return HttpResponseRedirect(url)
