"""Courier portal URLs of dispatch (offers and "My route"), mounted under /courier/offers/."""

from django.urls import path

from lastmile.dispatch.portal import views

app_name = "dispatch_portal"

urlpatterns = [
    path("", views.offers, name="offers"),
    path("<int:offer_id>/accept/", views.offer_accept, name="offer_accept"),
    path("<int:offer_id>/decline/", views.offer_decline, name="offer_decline"),
    path("route/<int:route_id>/", views.route_detail, name="route"),
    path("route/<int:route_id>/start/", views.route_start_view, name="route_start"),
    path("stops/<int:stop_id>/arrive/", views.stop_arrive_view, name="stop_arrive"),
    path("stops/<int:stop_id>/deliver/", views.stop_deliver_view, name="stop_deliver"),
    path("stops/<int:stop_id>/fail/", views.stop_fail_view, name="stop_fail"),
    path("stops/<int:stop_id>/done/", views.stop_complete_view, name="stop_complete"),
]
