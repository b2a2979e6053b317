"""Top-level URLs: the back-office (admin), the API with its schema, and health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from lastmile.core.views import healthz

admin.site.site_header = "Last-mile back-office"
admin.site.site_title = "Last-mile back-office"
admin.site.index_title = "Operations"

api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as its own request (``?script``)
    # rather than inline, so the docs work under a script-src without 'unsafe-inline'.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("fleet/", include("fleet.api.urls")),
    path("driver/", include("lastmile.dispatch.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("courier/offers/", include("lastmile.dispatch.portal.urls")),
    path("courier/", include("workforce.urls")),
    path("dispatch/", include("lastmile.dispatch.urls")),
]
