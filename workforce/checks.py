"""System checks of the workforce's configuration, run by ``manage.py check``, ``migrate`` and
``runserver`` (registered always, so a production deploy stops at ``migrate``)."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from workforce import crypto


@register(Tags.security)
def check_field_encryption_keys(app_configs=None, **kwargs) -> list[CheckMessage]:
    """With ``DEBUG`` off, IBANs must be encrypted with keys of their own (``E001``), and every
    configured key must be a Fernet key (``E002``, checked in debug too)."""
    keys = list(settings.WORKFORCE_FIELD_ENCRYPTION_KEYS)
    errors: list[CheckMessage] = []
    bad = crypto.invalid_keys(keys)
    if bad:
        errors.append(
            Error(
                "WORKFORCE_FIELD_ENCRYPTION_KEYS holds something that is not a Fernet key "
                f"(position {', '.join(str(p + 1) for p in bad)}).",
                hint="Each key is 32 url-safe base64-encoded bytes: "
                "python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="workforce.E002",
            )
        )
    if not keys and not settings.DEBUG:
        errors.append(
            Error(
                "WORKFORCE_FIELD_ENCRYPTION_KEYS is empty while DEBUG is off: couriers' IBANs "
                "would be encrypted with a key derived from SECRET_KEY, and rotating the "
                "secret key would make them unreadable.",
                hint="Set WORKFORCE_FIELD_ENCRYPTION_KEYS to one or more Fernet keys (newest "
                "first). IBANs stored under the derived key stay readable; move them to the "
                "new key with `manage.py rotate_field_keys`.",
                id="workforce.E001",
            )
        )
    return errors
