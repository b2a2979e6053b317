"""The dispatch board: one server-rendered page and the small JSON endpoints its script calls.

Views parse the request, call one selector or service and render. JSON errors use the API's
problem+json shape (``type``, ``title``, ``status``, ``detail``, ``code``, ``errors``) so
the page shows a domain error's own message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from lastmile.core.api import PROBLEM_BASE
from lastmile.core.errors import ApplicationError, ErrorCode, ValidationFailed
from lastmile.dispatch.models import ReplanTrigger, Route
from lastmile.dispatch.selectors import (
    board_data,
    board_hub_get,
    board_hubs,
    plan_get_for_board,
    plan_progress,
    replan_get_for_board,
    replan_summary,
    route_get_for_board,
    stop_get_for_board,
)
from lastmile.dispatch.services import (
    plan_cancel,
    plan_publish,
    plan_request,
    replan_request,
    stop_move,
)
from lastmile.hubs.models import Hub

VIEW_PERMISSION = "dispatch.view_plan"
PLAN_PERMISSION = "dispatch.request_plan"
CANCEL_PERMISSION = "dispatch.cancel_plan"
# No separate permission exists yet for publishing or editing a plan; whoever may request a
# run may publish and rearrange it.
PUBLISH_PERMISSION = "dispatch.request_plan"
MOVE_PERMISSION = "dispatch.request_plan"
REPLAN_PERMISSION = "dispatch.request_plan"

JsonView = Callable[..., JsonResponse]


def problem_response(
    *, status: int, title: str, detail: str, code: str, errors: Any = None
) -> JsonResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or {},
    }
    return JsonResponse(body, status=status, content_type="application/problem+json")


def board_api(*, permission: str, method: str) -> Callable[[JsonView], JsonView]:
    """Login, permission and method checks with JSON answers, and domain errors as problems."""

    def decorate(view: JsonView) -> JsonView:
        @wraps(view)
        @never_cache
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            if not request.user.is_authenticated:
                return problem_response(
                    status=401,
                    title="Not signed in",
                    detail="Sign in again to use the dispatch board.",
                    code=ErrorCode.NOT_AUTHENTICATED,
                )
            if not request.user.has_perm(permission):
                return problem_response(
                    status=403,
                    title="Not allowed",
                    detail="You do not have permission to do that.",
                    code=ErrorCode.PERMISSION_DENIED,
                )
            if request.method != method:
                return problem_response(
                    status=405,
                    title="Method not allowed",
                    detail=f"Use {method}.",
                    code=ErrorCode.METHOD_NOT_ALLOWED,
                )
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as exc:
                return problem_response(
                    status=exc.status,
                    title=exc.title,
                    detail=exc.message,
                    code=exc.code,
                    errors=exc.errors,
                )

        return wrapper

    return decorate


def _hub_and_date(params: Any) -> tuple[Hub, dt.date]:
    """``hub`` (a code; default the first hub) and ``date`` (default tomorrow at the hub)."""
    hub = board_hub_get(code=(params.get("hub") or "").strip() or None)
    raw = (params.get("date") or "").strip()
    if not raw:
        return hub, timezone.localdate(timezone=hub.zone) + dt.timedelta(days=1)
    try:
        return hub, dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            f"'{raw}' is not a date; use YYYY-MM-DD.", errors={"date": ["Use YYYY-MM-DD."]}
        ) from None


@never_cache
@require_GET
@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def board(request: HttpRequest) -> HttpResponse:
    try:
        hub, service_date = _hub_and_date(request.GET)
    except ApplicationError as exc:
        return render(
            request,
            "dispatch/board_error.html",
            {**admin.site.each_context(request), "title": "Dispatch board", "error": exc},
            status=exc.status,
        )
    user = request.user
    config = {
        "hub": {"code": hub.code, "lat": float(hub.latitude), "lng": float(hub.longitude)},
        "date": service_date.isoformat(),
        "tiles_url": settings.MAP_TILES_URL,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
        "urls": {
            "data": reverse("dispatch:board_data"),
            "plan": reverse("dispatch:board_plan"),
            "progress": reverse("dispatch:board_progress", args=[0]),
            "cancel": reverse("dispatch:board_cancel", args=[0]),
            "publish": reverse("dispatch:board_publish", args=[0]),
            "move": reverse("dispatch:board_move", args=[0]),
            "replan": reverse("dispatch:board_replan", args=[0]),
        },
        "perms": {
            "plan": user.has_perm(PLAN_PERMISSION),
            "cancel": user.has_perm(CANCEL_PERMISSION),
            "publish": user.has_perm(PUBLISH_PERMISSION),
            "move": user.has_perm(MOVE_PERMISSION),
            "replan": user.has_perm(REPLAN_PERMISSION),
        },
    }
    context = {
        **admin.site.each_context(request),
        # The map needs the width more than the admin's app list does.
        "is_nav_sidebar_enabled": False,
        "title": f"Dispatch board · {hub.code} · {service_date:%a %d %b %Y}",
        "hubs": board_hubs(),
        "hub": hub,
        "service_date": service_date,
        "config": config,
    }
    return render(request, "dispatch/board.html", context)


@board_api(permission=VIEW_PERMISSION, method="GET")
def board_data_view(request: HttpRequest) -> JsonResponse:
    hub, service_date = _hub_and_date(request.GET)
    return JsonResponse(board_data(hub=hub, service_date=service_date))


@board_api(permission=PLAN_PERMISSION, method="POST")
def board_plan(request: HttpRequest) -> JsonResponse:
    hub, service_date = _hub_and_date(request.POST)
    plan = plan_request(hub=hub, service_date=service_date, actor=request.user)
    # Re-read: with in-process tasks the run has already finished by now.
    fresh = plan_get_for_board(plan_id=plan.pk)
    progress = plan_progress(fresh)
    return JsonResponse({"plan": progress, "joined": plan.joined}, status=202)


@board_api(permission=VIEW_PERMISSION, method="GET")
def board_progress(request: HttpRequest, plan_id: int) -> JsonResponse:
    return JsonResponse({"plan": plan_progress(plan_get_for_board(plan_id=plan_id))})


@board_api(permission=CANCEL_PERMISSION, method="POST")
def board_cancel(request: HttpRequest, plan_id: int) -> JsonResponse:
    plan = plan_cancel(
        plan=plan_get_for_board(plan_id=plan_id),
        actor=request.user,
        reason="cancelled on the dispatch board",
    )
    return JsonResponse({"plan": plan_progress(plan)})


@board_api(permission=PUBLISH_PERMISSION, method="POST")
def board_publish(request: HttpRequest, plan_id: int) -> JsonResponse:
    plan = plan_publish(plan=plan_get_for_board(plan_id=plan_id), actor=request.user)
    return JsonResponse({"plan": plan_progress(plan)})


def _route_totals(route: Route) -> dict[str, int]:
    return {
        "id": route.pk,
        "distance_m": route.distance_m,
        "duration_s": route.duration_s,
        "energy_wh": route.energy_wh,
        "load_parcels": route.load_parcels,
    }


@board_api(permission=MOVE_PERMISSION, method="POST")
def board_move(request: HttpRequest, stop_id: int) -> JsonResponse:
    raw = (request.POST.get("target") or "").strip()
    if not raw.isdigit():
        raise ValidationFailed(
            "Choose the route to move the stop to.", errors={"target": ["Required."]}
        )
    stop = stop_get_for_board(stop_id=stop_id)
    target = route_get_for_board(route_id=int(raw))
    source, target = stop_move(stop=stop, target=target, actor=request.user)
    return JsonResponse({"from_route": _route_totals(source), "to_route": _route_totals(target)})


@board_api(permission=REPLAN_PERMISSION, method="POST")
def board_replan(request: HttpRequest, plan_id: int) -> JsonResponse:
    """Re-plan a published day now (no debounce); with in-process tasks it has run already."""
    plan = plan_get_for_board(plan_id=plan_id)
    replan = replan_request(
        plan=plan, trigger=ReplanTrigger.MANUAL, actor=request.user, debounce=False
    )
    # Re-read: with in-process tasks the re-plan has run by now.
    fresh = replan_get_for_board(replan_id=replan.pk)
    return JsonResponse(
        {"replan": replan_summary(fresh, plan.hub.zone), "joined": replan.joined}, status=202
    )
