"""The dispatcher's plan screens: runs per hub and day with progress, and a ready plan's routes
and unassigned orders. Read-only: plans change only through the actions, which call services.
"""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from lastmile.core.admin_actions import ReadOnlyAdmin, ReadOnlyInline
from lastmile.core.errors import ApplicationError
from lastmile.dispatch.models import Plan, PlanEvent, Replan, Route, Stop, UnassignedOrder
from lastmile.dispatch.services import plan_cancel, plan_request


class RouteInline(ReadOnlyInline):
    model = Route
    show_change_link = True
    fields = readonly_fields = (
        "vehicle",
        "courier",
        "status",
        "planned_start",
        "planned_end",
        "distance_km",
        "duration_min",
        "energy_wh",
        "load_parcels",
        "load_weight_g",
        "trips",
        "stop_count",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Route]:
        return (
            super()
            .get_queryset(request)
            .select_related("vehicle", "courier__user")
            .annotate(stop_count=Count("stops"))
        )

    @admin.display(description="distance (km)")
    def distance_km(self, route: Route) -> str:
        return f"{route.distance_m / 1000:.1f}"

    @admin.display(description="duration (min)")
    def duration_min(self, route: Route) -> int:
        return round(route.duration_s / 60)

    @admin.display(description="stops")
    def stop_count(self, route: Route) -> int:
        return route.stop_count


class UnassignedInline(ReadOnlyInline):
    model = UnassignedOrder
    verbose_name_plural = "unassigned orders"
    fields = readonly_fields = ("order", "reason", "detail", "fix")

    def get_queryset(self, request: HttpRequest) -> QuerySet[UnassignedOrder]:
        return super().get_queryset(request).select_related("order")


class PlanEventInline(ReadOnlyInline):
    model = PlanEvent
    verbose_name_plural = "timeline"
    fields = readonly_fields = (
        "occurred_at",
        "kind",
        "from_status",
        "to_status",
        "actor",
        "payload",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[PlanEvent]:
        return super().get_queryset(request).select_related("actor")


class ReplanInline(ReadOnlyInline):
    """The day's re-plans: why each ran and what it changed, newest first."""

    model = Replan
    verbose_name_plural = "re-plans during the day"
    ordering = ("-created_at",)
    fields = readonly_fields = (
        "created_at",
        "status",
        "why",
        "changes",
        "solve_time_s",
        "error",
    )

    @admin.display(description="triggers")
    def why(self, replan: Replan) -> str:
        return ", ".join(str(t.get("kind", "")) for t in replan.triggers)

    @admin.display(description="what changed")
    def changes(self, replan: Replan) -> str:
        diff = replan.diff or {}
        names = ("added", "moved", "dropped", "unassigned", "new_routes")
        return ", ".join(f"{len(diff[n])} {n.replace('_', ' ')}" for n in names if diff.get(n))


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = (
        "hub",
        "service_date",
        "status",
        "progress",
        "vehicles_used",
        "routed_count",
        "unassigned_count",
        "distance_km",
        "feasible",
        "created_at",
    )
    list_filter = ("status", "hub", "service_date", "feasible")
    list_select_related = ("hub",)
    date_hierarchy = "service_date"
    search_fields = ("hub__code", "hub__name")
    ordering = ("-service_date", "hub__code", "-created_at")
    actions = ("plan_again", "cancel")
    inlines = (RouteInline, UnassignedInline, ReplanInline, PlanEventInline)
    fieldsets = (
        (None, {"fields": ("hub", "service_date", "status", "progress", "error", "requested_by")}),
        (
            "Result",
            {
                "fields": (
                    "backend",
                    "time_limit_s",
                    "solve_time_s",
                    "objective",
                    "distance_km",
                    "duration_s",
                    "energy_wh",
                    "vehicles_used",
                    "vehicles_available",
                    "routed_count",
                    "unassigned_count",
                    "feasible",
                    "violations_count",
                    "stats",
                )
            },
        ),
        (
            "Times",
            {
                "fields": (
                    "created_at",
                    "started_at",
                    "ready_at",
                    "published_at",
                    "failed_at",
                    "cancelled_at",
                    "celery_task_id",
                )
            },
        ),
    )

    @admin.display(description="progress")
    def progress(self, plan: Plan) -> str:
        return f"{plan.get_progress_phase_display()} · {plan.progress_pct} %"

    @admin.display(description="distance (km)", ordering="distance_m")
    def distance_km(self, plan: Plan) -> str:
        return "" if plan.distance_m is None else f"{plan.distance_m / 1000:.1f}"

    # --- Actions: one service call per selected plan, one message per row --------------------

    def has_request_plan_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dispatch.request_plan")

    def has_cancel_plan_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dispatch.cancel_plan")

    def _per_row(
        self, request: HttpRequest, plans: QuerySet[Plan], call: Callable[[Plan], str]
    ) -> None:
        for plan in plans.select_related("hub").order_by("pk"):
            try:
                self.message_user(request, f"{plan}: {call(plan)}", messages.SUCCESS)
            except ApplicationError as exc:
                self.message_user(request, f"{plan}: {exc.message}", messages.ERROR)

    @admin.action(description="Plan again (same hub and day)", permissions=["request_plan"])
    def plan_again(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        def again(plan: Plan) -> str:
            new = plan_request(hub=plan.hub, service_date=plan.service_date, actor=request.user)
            if new.joined:
                return f"joined the run already going (plan {new.pk}, {new.get_status_display()})."
            return f"planning requested (plan {new.pk})."

        self._per_row(request, queryset, again)

    @admin.action(description="Cancel", permissions=["cancel_plan"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        def cancel_one(plan: Plan) -> str:
            plan_cancel(plan=plan, actor=request.user, reason="cancelled in the back-office")
            return "cancelled."

        self._per_row(request, queryset, cancel_one)


class StopInline(ReadOnlyInline):
    model = Stop
    fields = readonly_fields = (
        "sequence",
        "trip",
        "kind",
        "order",
        "status",
        "planned_arrival",
        "planned_departure",
        "window_start",
        "window_end",
        "eta",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stop]:
        return super().get_queryset(request).select_related("order")


@admin.register(Route)
class RouteAdmin(ReadOnlyAdmin):
    list_display = (
        "vehicle",
        "plan",
        "status",
        "planned_start",
        "planned_end",
        "distance_m",
        "load_parcels",
    )
    list_filter = ("status", "plan__hub", "plan__service_date")
    list_select_related = ("vehicle", "plan__hub")
    search_fields = ("vehicle__code",)
    inlines = (StopInline,)
