"""Encryption of sensitive fields (couriers' IBANs) with Fernet (AES-128-CBC + HMAC-SHA256).

Keys come from ``WORKFORCE_FIELD_ENCRYPTION_KEYS`` (newest first, so keys can rotate: old
tokens still decrypt, new ones use the first key). Without keys one is derived from
``SECRET_KEY`` with HKDF, which keeps the demo working with no configuration.
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt"]


def _derived_key(secret: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"lastmile.workforce.field-encryption",
        info=b"fernet-key-v1",
    )
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...], secret: str) -> MultiFernet:
    try:
        fernets = [Fernet(key) for key in keys] if keys else [Fernet(_derived_key(secret))]
    except ValueError as exc:
        raise ImproperlyConfigured(
            "WORKFORCE_FIELD_ENCRYPTION_KEYS must hold Fernet keys (Fernet.generate_key())."
        ) from exc
    return MultiFernet(fernets)


def _current() -> MultiFernet:
    return _cipher(tuple(settings.WORKFORCE_FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(value: str) -> str:
    return _current().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The clear text of ``token``; raises ``InvalidToken`` when no key opens it."""
    return _current().decrypt(token.encode()).decode()
