"""Rate limits for forms that send mail or create accounts, per client IP and per address.

Counters live in the default cache (Redis when ``REDIS_URL`` is set) through
django-ratelimit's fixed windows. A form asks :func:`rate_limit_check` once per submission;
a refusal carries how long until the window ends, for the form's message and ``Retry-After``.
"""

import math
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_ratelimit.core import get_usage

from lastmile.core.clientip import client_ip


@dataclass(frozen=True)
class RateLimited:
    """A refused submission: who was counted (``"ip"`` or ``"address"``) and the wait."""

    scope: str
    retry_after_s: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after_s / 60))
        return (
            "Too many requests. Please wait about "
            f"{minutes} minute{'s' if minutes != 1 else ''} and try again."
        )

    def apply(self, response: HttpResponse) -> HttpResponse:
        response.status_code = 429
        response["Retry-After"] = str(self.retry_after_s)
        return response


def _normalise_address(address: str) -> str:
    return address.strip().lower()


def rate_limit_check(
    request: HttpRequest, *, group: str, address: str | None = None
) -> RateLimited | None:
    """Count this submission against ``group`` per IP, and per address when one is given.

    Rates come from ``PORTAL_RATE_PER_IP`` and ``PORTAL_RATE_PER_ADDRESS`` (``"10/h"``); an
    address is compared case-insensitively, so ``Ada@…`` and ``ada@…`` share a counter.
    Returns ``None`` while under both limits.
    """
    checks = [("ip", settings.PORTAL_RATE_PER_IP, client_ip(request) or "unknown")]
    if address:
        checks.append(("address", settings.PORTAL_RATE_PER_ADDRESS, _normalise_address(address)))
    refused = None
    for scope, rate, value in checks:
        usage = get_usage(
            request,
            group=f"{group}:{scope}",
            key=lambda _group, _request, value=value: value,
            rate=rate,
            increment=True,
        )
        if usage is not None and usage["should_limit"] and refused is None:
            refused = RateLimited(scope=scope, retry_after_s=max(1, usage["time_left"]))
    return refused
