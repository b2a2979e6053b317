"""API rate limits per credential: a courier's user on the driver API, a device on ingest.

DRF throttles keep their history in the default cache (Redis when ``REDIS_URL`` is set, so
every web process counts together). Rates are ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``,
read at each request so a settings change applies without a restart of the class. The
429 answer carries ``Retry-After`` and the problem+json body of ``core.api``.
"""

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # DRF copies the rates onto the class at import; read the live settings instead.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class CourierRateThrottle(_SettingsRateThrottle):
    """Per signed-in user (the courier), whatever device or address they call from."""

    scope = "driver"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not request.user.is_authenticated:
            return None  # refused by the view's permission before any work is done
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class DeviceRateThrottle(_SettingsRateThrottle):
    """Per authenticated telematics device (its token names it; a rotated token counts on)."""

    scope = "telematics"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        device = request.auth
        pk = getattr(device, "pk", None)
        if pk is None:
            return None  # no device credential: the view's permission refuses the request
        ident = f"{device._meta.label_lower}:{pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
