"""Fleet API routes, under ``/api/v1/fleet/``."""

from django.urls import path

from fleet.api import views

app_name = "fleet"

urlpatterns = [
    path("telematics/pings/", views.PingIngestApi.as_view(), name="telematics-pings"),
    path("vehicles/", views.VehicleListApi.as_view(), name="vehicle-list"),
    path(
        "charging-sessions/",
        views.ChargingSessionCreateApi.as_view(),
        name="charging-session-create",
    ),
    path("charging-plans/", views.ChargingPlanCreateApi.as_view(), name="charging-plan-create"),
    path(
        "charging-plans/<int:plan_id>/",
        views.ChargingPlanDetailApi.as_view(),
        name="charging-plan-detail",
    ),
]
