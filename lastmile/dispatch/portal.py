"""Courier-facing pages of dispatch: the route offers a crowd courier may accept or decline.

They live in the courier portal (``/courier/offers/``) and reuse its sign-in and layout;
every lookup is scoped to the signed-in courier, so another courier's offer is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lastmile.core.errors import ApplicationError, NotFound
from lastmile.dispatch.selectors import offers_open_for
from lastmile.dispatch.services import route_offer_accept, route_offer_decline
from workforce.models import Courier
from workforce.views import courier_view


@courier_view
def offers(request: HttpRequest, courier: Courier) -> HttpResponse:
    context = {"courier": courier, "offers": offers_open_for(courier=courier)}
    return render(request, "dispatch/portal/offers.html", context)


def _answer(request: HttpRequest, courier: Courier, offer_id: int, *, accept: bool) -> HttpResponse:
    try:
        if accept:
            route_offer_accept(offer_id=offer_id, courier=courier)
            messages.success(request, "The route is yours. It shows under your day.")
        else:
            route_offer_decline(offer_id=offer_id, courier=courier)
            messages.info(request, "Declined. We will ask someone else.")
    except NotFound:
        raise Http404("No such offer.") from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dispatch_portal:offers")


@require_POST
@courier_view
def offer_accept(request: HttpRequest, courier: Courier, offer_id: int) -> HttpResponse:
    return _answer(request, courier, offer_id, accept=True)


@require_POST
@courier_view
def offer_decline(request: HttpRequest, courier: Courier, offer_id: int) -> HttpResponse:
    return _answer(request, courier, offer_id, accept=False)
