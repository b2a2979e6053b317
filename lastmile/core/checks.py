"""System checks for deployment settings that Django's own ``check --deploy`` cannot judge."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Tags, Warning, register

W001 = Warning(
    "SECURE_SSL_REDIRECT is on but X-Forwarded-Proto is not trusted "
    "(USE_X_FORWARDED_HEADERS is off).",
    hint=(
        "Behind a reverse proxy that terminates TLS every request reaches the app as plain "
        "HTTP and is redirected forever: set USE_X_FORWARDED_HEADERS=1 there (the proxy must "
        "overwrite X-Forwarded-Proto). If the app terminates TLS itself, silence core.W001."
    ),
    id="core.W001",
)


@register(Tags.security, deploy=True)
def check_ssl_redirect_behind_proxy(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[Warning]:
    """Warn when HTTPS is enforced but the proxy's scheme header is not honoured."""
    if settings.SECURE_SSL_REDIRECT and not settings.SECURE_PROXY_SSL_HEADER:
        return [W001]
    return []
