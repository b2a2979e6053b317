"""Driver API routes, under ``/api/v1/driver/``."""

from django.urls import path

from lastmile.dispatch import api

app_name = "driver"

urlpatterns = [
    path("offers/", api.DriverOfferListApi.as_view(), name="offer-list"),
    path("offers/<int:offer_id>/accept/", api.DriverOfferAcceptApi.as_view(), name="offer-accept"),
    path(
        "offers/<int:offer_id>/decline/", api.DriverOfferDeclineApi.as_view(), name="offer-decline"
    ),
    path("routes/", api.DriverRouteListApi.as_view(), name="route-list"),
    path("routes/<int:route_id>/", api.DriverRouteDetailApi.as_view(), name="route-detail"),
    path("routes/<int:route_id>/start/", api.DriverRouteStartApi.as_view(), name="route-start"),
    path("stops/<int:stop_id>/arrive/", api.DriverStopArriveApi.as_view(), name="stop-arrive"),
    path("stops/<int:stop_id>/deliver/", api.DriverStopDeliverApi.as_view(), name="stop-deliver"),
    path("stops/<int:stop_id>/fail/", api.DriverStopFailApi.as_view(), name="stop-fail"),
    path(
        "stops/<int:stop_id>/complete/", api.DriverStopCompleteApi.as_view(), name="stop-complete"
    ),
]
