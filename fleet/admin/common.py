"""Pieces the fleet's admin screens share: read-only inlines, bounded counts and the map's
settings. Actions come from ``lastmile.core.admin_actions``."""

from django.conf import settings
from django.core.paginator import Paginator
from django.utils.functional import cached_property


class BoundedCountPaginator(Paginator):
    """Counts at most ``LIMIT`` rows: exact for small tables, and a list of millions of pings
    does not pay for ``COUNT(*)`` over the whole table on every page view."""

    LIMIT = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.LIMIT].count()


def map_settings() -> dict:
    return {
        "tiles_url": settings.MAP_TILES_URL,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
        "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
    }
