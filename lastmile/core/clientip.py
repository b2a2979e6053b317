"""The client's IP address, trusting ``X-Forwarded-For`` only when a setting says so.

Login lockouts (django-axes), the portal's rate limits and the terms acceptance record all
need the address of the person, not of our proxy. A header is something any client can send,
so it is read only with ``USE_X_FORWARDED_HEADERS`` on, and then only the entry our own
proxies appended (``TRUSTED_PROXY_COUNT`` from the right), never the client's own entries.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from, or ``None`` when it cannot be told.

    Without ``USE_X_FORWARDED_HEADERS``: ``REMOTE_ADDR``. With it, the entry of
    ``X-Forwarded-For`` written by the outermost of our ``TRUSTED_PROXY_COUNT`` proxies (each
    appends the address it saw); a missing or malformed header falls back to ``REMOTE_ADDR``.
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR"))
    if not settings.USE_X_FORWARDED_HEADERS:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if not forwarded:
        return remote
    # Entries left of what our proxies appended are the client's to choose: never read them.
    count = max(1, settings.TRUSTED_PROXY_COUNT)
    entry = forwarded[-count] if len(forwarded) >= count else forwarded[0]
    return _valid_ip(entry) or remote
