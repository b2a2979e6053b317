"""Courier portal URLs of dispatch (offers and "My route"), mounted under /courier/offers/."""

from django.urls import path

from lastmile.dispatch import portal

app_name = "dispatch_portal"

urlpatterns = [
    path("", portal.offers, name="offers"),
    path("<int:offer_id>/accept/", portal.offer_accept, name="offer_accept"),
    path("<int:offer_id>/decline/", portal.offer_decline, name="offer_decline"),
    path("route/<int:route_id>/", portal.route_detail, name="route"),
    path("route/<int:route_id>/start/", portal.route_start_view, name="route_start"),
    path("stops/<int:stop_id>/arrive/", portal.stop_arrive_view, name="stop_arrive"),
    path("stops/<int:stop_id>/deliver/", portal.stop_deliver_view, name="stop_deliver"),
    path("stops/<int:stop_id>/fail/", portal.stop_fail_view, name="stop_fail"),
    path("stops/<int:stop_id>/done/", portal.stop_complete_view, name="stop_complete"),
]
