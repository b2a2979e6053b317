"""A latitude input with a Leaflet map beside it: drag the pin or click to set the position.

Leaflet itself comes from django-leaflet's static files; tiles from ``MAP_TILES_URL``. With
no tile server reachable the pin and the inputs still work.
"""

from django import forms
from django.conf import settings


class MapPickerWidget(forms.NumberInput):
    """Renders the latitude input plus a map bound to it and to the longitude input."""

    template_name = "core/widgets/map_picker.html"

    def __init__(self, *, longitude_field: str = "longitude", attrs: dict | None = None) -> None:
        super().__init__(attrs={"step": "0.000001", **(attrs or {})})
        self.longitude_field = longitude_field

    class Media:
        css = {"all": ("leaflet/leaflet.css",)}
        js = ("leaflet/leaflet.js", "core/js/map_picker.js")

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        prefix = name[: -len("latitude")] if name.endswith("latitude") else ""
        context["map"] = {
            "lng_input_id": f"id_{prefix}{self.longitude_field}",
            "tiles_url": settings.MAP_TILES_URL,
            "attribution": settings.MAP_TILES_ATTRIBUTION,
            "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
        }
        return context
