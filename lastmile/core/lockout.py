"""What a locked-out sign-in sees: the login form again, saying when to try again (HTTP 429).

django-axes counts failed sign-ins per username and IP address (``AXES_*`` settings) on the
back-office's ``/admin/login/`` and the courier portal's login alike; past the limit it calls
:func:`lockout_response` (``AXES_LOCKOUT_CALLABLE``) instead of letting the view's answer
through. An admin unlocks by deleting the attempt in the admin's "Access attempts" or with
``manage.py axes_reset_username`` / ``axes_reset_ip_username``.
"""

import datetime as dt
import math
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.utils import timezone


def locked_until(request: HttpRequest, credentials: dict[str, Any] | None) -> dt.datetime:
    """When the lockout of this username and address ends: last failure + cool-off."""
    cool_off = get_cool_off(request) or dt.timedelta(0)
    handler = AxesProxyHandler.get_implementation()
    last = None
    if hasattr(handler, "get_user_attempts"):
        # Failures made while locked out are not recorded (AXES_RESET_COOL_OFF_ON_FAILURE_
        # DURING_LOCKOUT off), so the newest attempt time stays the one the clock runs from.
        for attempts in handler.get_user_attempts(request, credentials):
            newest = attempts.aggregate(newest=Max("attempt_time"))["newest"]
            if newest is not None and (last is None or newest > last):
                last = newest
    return (last or timezone.now()) + cool_off


def lockout_message(until: dt.datetime) -> str:
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    return (
        "Too many failed sign-in attempts. Signing in is blocked until "
        f"{timezone.localtime(until):%H:%M} (in about {minutes} minute"
        f"{'s' if minutes != 1 else ''}). Ask an administrator if you need access sooner."
    )


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429 with ``Retry-After``: the same login page, its form showing only the lockout.

    The form's own "wrong password" error is replaced: the password may well have been right,
    and saying so either way would help whoever is guessing.
    """
    until = locked_until(request, credentials)
    message = lockout_message(until)
    retry_after = max(1, math.ceil((until - timezone.now()).total_seconds()))
    context = getattr(original_response, "context_data", None) or {}
    form = context.get("form")
    if isinstance(original_response, SimpleTemplateResponse) and form is not None:
        form.errors.clear()
        form.add_error(None, message)
        response: HttpResponse = TemplateResponse(
            request, original_response.template_name, context, status=429
        )
        response.render()
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response
