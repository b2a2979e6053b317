"""Courier-facing pages of dispatch: the route offers a crowd courier may accept or decline,
and "My route": the stops in order, with Arrive / Delivered / Failed buttons.

They live in the courier portal (``/courier/offers/``) and reuse its sign-in and layout;
every lookup is scoped to the signed-in courier, so another courier's offer is a 404. Only
an active, approved courier gets in: anyone else sees a 403 page saying why. A refused
answer to an offer (taken, expired, already busy that day) shows the offers page again with
the reason and the error's status (409).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from lastmile.core.errors import ApplicationError, NotFound
from lastmile.dispatch.models import ORDER_STOP_KINDS, RouteStatus, Stop, StopStatus
from lastmile.dispatch.selectors import (
    offers_with_pay_for,
    route_get_for_courier,
    route_stops,
    routes_for_courier,
    stop_get_for_courier,
)
from lastmile.dispatch.services import (
    courier_active_refusal,
    route_offer_accept,
    route_offer_decline,
    route_start,
    stop_arrive,
    stop_complete,
    stop_deliver,
    stop_fail,
)
from lastmile.orders.models import FailureReason
from workforce.access import courier_view, no_access
from workforce.models import Courier


def driver_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``courier_view``, and the courier must be active and approved (else a 403 page)."""

    @courier_view
    @wraps(view)
    def wrapper(request: HttpRequest, courier: Courier, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = courier_active_refusal(courier)
        if refusal is not None:
            return no_access(request, courier, message=refusal.message)
        return view(request, courier, *args, **kwargs)

    return wrapper


def _offers_page(
    request: HttpRequest, courier: Courier, *, error: ApplicationError | None = None
) -> HttpResponse:
    context = {
        "courier": courier,
        "offers": offers_with_pay_for(courier=courier),
        "my_routes": routes_for_courier(courier=courier),
        "error": error,
    }
    status = error.status if error is not None else 200
    return render(request, "dispatch/portal/offers.html", context, status=status)


@driver_view
def offers(request: HttpRequest, courier: Courier) -> HttpResponse:
    return _offers_page(request, courier)


def _answer(request: HttpRequest, courier: Courier, offer_id: int, *, accept: bool) -> HttpResponse:
    try:
        if accept:
            route_offer_accept(offer_id=offer_id, courier=courier)
            messages.success(request, _t("The route is yours. It shows under your day."))
        else:
            route_offer_decline(offer_id=offer_id, courier=courier)
            messages.info(request, _t("Declined. We will ask someone else."))
    except NotFound:
        raise Http404("No such offer.") from None
    except ApplicationError as exc:
        return _offers_page(request, courier, error=exc)
    return redirect("dispatch_portal:offers")


@require_POST
@driver_view
def offer_accept(request: HttpRequest, courier: Courier, offer_id: int) -> HttpResponse:
    return _answer(request, courier, offer_id, accept=True)


@require_POST
@driver_view
def offer_decline(request: HttpRequest, courier: Courier, offer_id: int) -> HttpResponse:
    return _answer(request, courier, offer_id, accept=False)


# --- My route ------------------------------------------------------------------------------


class DeliverForm(forms.Form):
    recipient_name = forms.CharField(label=_("Received by"), max_length=120)


class FailForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=FailureReason.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


FORM_KINDS = ("deliver", "fail")
OPEN_STATUSES = (StopStatus.PENDING, StopStatus.ARRIVED)


def _prefix(stop_id: int) -> str:
    return f"stop{stop_id}"


def navigation_url(*, latitude: Decimal, longitude: Decimal) -> str:
    """Directions to a stop in the phone's maps app.

    Google's Maps URL rather than a ``geo:`` link: couriers bring their own phones, and this
    one link opens the Maps app on Android and iOS (or the website anywhere else) and starts
    directions to the point, where ``geo:`` does nothing on an iPhone or a desktop. The
    coordinates are the planner's, so the courier is led where the route was planned to go.
    """
    query = urlencode({"api": 1, "destination": f"{latitude},{longitude}"})
    return f"https://www.google.com/maps/dir/?{query}"


def _requested_form(request: HttpRequest) -> tuple[int, str] | None:
    """``?open=deliver-12``: the page without JavaScript opens that stop's form (the link
    behind the Delivered and Failed buttons). Anything else opens nothing."""
    kind, _, stop_id = request.GET.get("open", "").partition("-")
    if kind in FORM_KINDS and stop_id.isdigit():
        return int(stop_id), kind
    return None


def _route_page(
    request: HttpRequest,
    courier: Courier,
    route_id: int,
    *,
    bound: dict[int, dict[str, forms.Form]] | None = None,
    status: int = 200,
) -> HttpResponse:
    """One card per stop: the stops still to do in route order, the next one first and
    open, then the done ones folded away at the end. A bound form with errors (or the form
    asked for without JavaScript) is shown open; every other form waits for its button."""
    try:
        route = route_get_for_courier(courier=courier, route_id=route_id)
    except NotFound:
        raise Http404("No such route.") from None
    bound = bound or {}
    requested = _requested_form(request)
    to_do, done = [], []
    for stop in route_stops(route=route):
        forms_of = bound.get(stop.pk, {})
        shown = next(iter(forms_of), None)
        if shown is None and requested is not None and requested[0] == stop.pk:
            shown = requested[1]
        row = {
            "stop": stop,
            "serves_order": stop.kind in ORDER_STOP_KINDS,
            "open": stop.status in OPEN_STATUSES,
            "shown": shown,
            "nav_url": navigation_url(latitude=stop.latitude, longitude=stop.longitude),
            "deliver": forms_of.get("deliver") or DeliverForm(prefix=_prefix(stop.pk)),
            "fail": forms_of.get("fail") or FailForm(prefix=_prefix(stop.pk)),
        }
        (to_do if row["open"] else done).append(row)
    if to_do:
        to_do[0]["is_next"] = True
    hub = route.plan.hub
    map_config = {
        "tiles_url": settings.MAP_TILES_URL,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
        "hub": {"lat": float(hub.latitude), "lng": float(hub.longitude)},
        # In route order, so the line drawn between them is the way the courier drives.
        "stops": sorted(
            (
                {
                    "n": row["stop"].sequence,
                    "lat": float(row["stop"].latitude),
                    "lng": float(row["stop"].longitude),
                    "done": not row["open"],
                    "next": row.get("is_next", False),
                    "card": f"stop-{row['stop'].pk}",
                }
                for row in (*to_do, *done)
            ),
            key=lambda point: point["n"],
        ),
    }
    context = {
        "courier": courier,
        "route": route,
        "to_do": to_do,
        "done": done,
        "stop_count": len(to_do) + len(done),
        "map_config": map_config,
        "can_start": route.status == RouteStatus.DISPATCHED,
        "in_progress": route.status == RouteStatus.IN_PROGRESS,
    }
    return render(request, "dispatch/portal/route.html", context, status=status)


@driver_view
def route_detail(request: HttpRequest, courier: Courier, route_id: int) -> HttpResponse:
    return _route_page(request, courier, route_id)


@require_POST
@driver_view
def route_start_view(request: HttpRequest, courier: Courier, route_id: int) -> HttpResponse:
    try:
        route = route_get_for_courier(courier=courier, route_id=route_id)
        route_start(route=route, courier=courier)
        messages.success(request, _t("Route started. Drive safely."))
    except NotFound:
        raise Http404("No such route.") from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dispatch_portal:route", route_id=route_id)


def _stop(courier: Courier, stop_id: int) -> Stop:
    try:
        return stop_get_for_courier(courier=courier, stop_id=stop_id)
    except NotFound:
        raise Http404("No such stop.") from None


@require_POST
@driver_view
def stop_arrive_view(request: HttpRequest, courier: Courier, stop_id: int) -> HttpResponse:
    stop = _stop(courier, stop_id)
    try:
        stop_arrive(stop=stop, courier=courier)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dispatch_portal:route", route_id=stop.route_id)


def _stop_form_post(
    request: HttpRequest, courier: Courier, stop_id: int, *, kind: str
) -> HttpResponse:
    stop = _stop(courier, stop_id)
    form_class = DeliverForm if kind == "deliver" else FailForm
    form = form_class(request.POST, prefix=_prefix(stop.pk))
    if form.is_valid():
        try:
            if kind == "deliver":
                stop_deliver(stop=stop, courier=courier, **form.cleaned_data)
                messages.success(request, _t("Stop %(n)s delivered.") % {"n": stop.sequence})
            else:
                stop_fail(stop=stop, courier=courier, **form.cleaned_data)
                messages.info(request, _t("Stop %(n)s recorded as failed.") % {"n": stop.sequence})
            return redirect("dispatch_portal:route", route_id=stop.route_id)
        except ValidationError as exc:
            # The services' field errors (the proof, the note) shown next to the fields.
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
    return _route_page(request, courier, stop.route_id, bound={stop.pk: {kind: form}}, status=400)


@require_POST
@driver_view
def stop_deliver_view(request: HttpRequest, courier: Courier, stop_id: int) -> HttpResponse:
    return _stop_form_post(request, courier, stop_id, kind="deliver")


@require_POST
@driver_view
def stop_fail_view(request: HttpRequest, courier: Courier, stop_id: int) -> HttpResponse:
    return _stop_form_post(request, courier, stop_id, kind="fail")


@require_POST
@driver_view
def stop_complete_view(request: HttpRequest, courier: Courier, stop_id: int) -> HttpResponse:
    """A reload at the hub or a break is done."""
    stop = _stop(courier, stop_id)
    try:
        stop_complete(stop=stop, courier=courier)
        messages.success(request, _t("Stop %(n)s done.") % {"n": stop.sequence})
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dispatch_portal:route", route_id=stop.route_id)
