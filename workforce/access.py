"""Who may open the courier portal's pages: the sign-in decorator and the 403 page.

Shared by every courier-facing page, workforce's own (``views.py``) and dispatch's
(``lastmile/dispatch/portal/``), so it lives here rather than in an interface module.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from lastmile.core.errors import NotFound
from workforce import selectors
from workforce.models import Courier, CourierStatus

LOGIN_URL = "workforce:login"


SUSPENDED_MESSAGE = (
    "Your courier account is suspended, so the portal is closed to you for now. "
    "Your hub will contact you; earnings already made are still paid out."
)


def no_access(request: HttpRequest, courier: Courier, *, message: str) -> HttpResponse:
    """The 403 page a courier sees where their status bars them, with why."""
    return render(
        request,
        "workforce/portal/no_access.html",
        {"courier": courier, "message": message},
        status=403,
    )


def courier_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in required, and the user must be a courier (staff without a profile get 404).

    A suspended courier's session is refused (403, with a page saying so) on every page.
    """

    @login_required(login_url=LOGIN_URL)
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            courier = selectors.courier_get_for_user(user=request.user)
        except NotFound:
            raise Http404("No courier profile.") from None
        if courier.status == CourierStatus.SUSPENDED:
            return no_access(request, courier, message=SUSPENDED_MESSAGE)
        return view(request, courier, *args, **kwargs)

    return wrapper
