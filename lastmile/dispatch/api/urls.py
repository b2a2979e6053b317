"""Driver API routes, under ``/api/v1/driver/``."""

from django.urls import path

from lastmile.dispatch.api import views

app_name = "driver"

urlpatterns = [
    path("offers/", views.DriverOfferListApi.as_view(), name="offer-list"),
    path(
        "offers/<int:offer_id>/accept/", views.DriverOfferAcceptApi.as_view(), name="offer-accept"
    ),
    path(
        "offers/<int:offer_id>/decline/",
        views.DriverOfferDeclineApi.as_view(),
        name="offer-decline",
    ),
    path("routes/", views.DriverRouteListApi.as_view(), name="route-list"),
    path("routes/<int:route_id>/", views.DriverRouteDetailApi.as_view(), name="route-detail"),
    path("routes/<int:route_id>/start/", views.DriverRouteStartApi.as_view(), name="route-start"),
    path("stops/<int:stop_id>/arrive/", views.DriverStopArriveApi.as_view(), name="stop-arrive"),
    path("stops/<int:stop_id>/deliver/", views.DriverStopDeliverApi.as_view(), name="stop-deliver"),
    path("stops/<int:stop_id>/fail/", views.DriverStopFailApi.as_view(), name="stop-fail"),
    path(
        "stops/<int:stop_id>/complete/", views.DriverStopCompleteApi.as_view(), name="stop-complete"
    ),
]
