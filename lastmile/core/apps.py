from importlib import import_module

from django.apps import AppConfig, apps
from django.contrib.admin.apps import SimpleAdminConfig
from django.utils.module_loading import module_has_submodule

# django-leaflet's admin module imports GeoDjango, which needs the GDAL system library. We
# keep positions as plain latitude/longitude (no GIS), use only Leaflet's assets and template
# tags from that package, and so never load its admin.
ADMIN_DISCOVERY_SKIPS = frozenset({"leaflet"})


class CoreConfig(AppConfig):
    # This module holds two configs; ``default`` makes "lastmile.core" load this one.
    default = True
    name = "lastmile.core"
    label = "core"
    verbose_name = "Operations core"

    def ready(self) -> None:
        from lastmile.core import checks  # noqa: F401  (registers the deploy checks)


class BackOfficeAdminConfig(SimpleAdminConfig):
    """Django's admin, discovering every app's ``admin`` module except the skipped ones."""

    def ready(self) -> None:
        super().ready()
        for app_config in apps.get_app_configs():
            if app_config.name in ADMIN_DISCOVERY_SKIPS:
                continue
            if module_has_submodule(app_config.module, "admin"):
                import_module(f"{app_config.name}.admin")
