"""Courier portal URLs of dispatch, mounted under /courier/offers/."""

from django.urls import path

from lastmile.dispatch import portal

app_name = "dispatch_portal"

urlpatterns = [
    path("", portal.offers, name="offers"),
    path("<int:offer_id>/accept/", portal.offer_accept, name="offer_accept"),
    path("<int:offer_id>/decline/", portal.offer_decline, name="offer_decline"),
]
