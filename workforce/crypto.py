"""Encryption of sensitive fields (couriers' IBANs) with Fernet (AES-128-CBC + HMAC-SHA256).

Keys come from ``WORKFORCE_FIELD_ENCRYPTION_KEYS``, newest first: the first key encrypts,
every key decrypts (``MultiFernet``), so a new key can be put in front and the old ones kept
until ``manage.py rotate_field_keys`` has re-encrypted every stored value with the newest.

Keys derived from ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` (HKDF) are read too, while
``WORKFORCE_FIELD_ENCRYPTION_DERIVED_FALLBACK`` is on: values written before explicit keys
were set stay readable until they are rotated. Without explicit keys the key derived from
``SECRET_KEY`` also encrypts — only acceptable with ``DEBUG`` on (the demo and tests); the
``workforce.E001`` system check refuses it otherwise.

Columns holding tokens are :class:`EncryptedTokenField`, which is how the rotate command
finds every one of them.
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

__all__ = [
    "EncryptedTokenField",
    "InvalidToken",
    "decrypt",
    "encrypt",
    "invalid_keys",
    "is_current",
    "rotate",
]


class EncryptedTokenField(models.TextField):
    """A text column holding a Fernet token from :func:`encrypt` (or ``""``), never clear text.

    Services encrypt before they write; ``rotate_field_keys`` re-encrypts every column of this
    class with the newest key.
    """


def _derived_key(secret: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"lastmile.workforce.field-encryption",
        info=b"fernet-key-v1",
    )
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


def invalid_keys(keys: list[str] | tuple[str, ...]) -> list[int]:
    """Positions (0-based) of the entries that are not Fernet keys, for the system check."""
    bad = []
    for position, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            bad.append(position)
    return bad


@lru_cache(maxsize=8)
def _ciphers(
    keys: tuple[str, ...], secrets: tuple[str, ...], derived_fallback: bool
) -> tuple[MultiFernet, Fernet]:
    if invalid_keys(keys):
        raise ImproperlyConfigured(
            "WORKFORCE_FIELD_ENCRYPTION_KEYS must hold Fernet keys (Fernet.generate_key())."
        )
    explicit = [Fernet(key) for key in keys]
    derived = [Fernet(_derived_key(secret)) for secret in secrets if secret]
    if not explicit:
        fernets = derived  # the first derived key (from SECRET_KEY) encrypts
    elif derived_fallback:
        fernets = [*explicit, *derived]  # derived keys only read what was written before
    else:
        fernets = explicit
    return MultiFernet(fernets), fernets[0]


def _current() -> tuple[MultiFernet, Fernet]:
    return _ciphers(
        tuple(settings.WORKFORCE_FIELD_ENCRYPTION_KEYS),
        (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS),
        settings.WORKFORCE_FIELD_ENCRYPTION_DERIVED_FALLBACK,
    )


def encrypt(value: str) -> str:
    """A token of ``value`` under the newest key."""
    return _current()[0].encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The clear text of ``token``; raises ``InvalidToken`` when no key opens it."""
    return _current()[0].decrypt(token.encode()).decode()


def is_current(token: str) -> bool:
    """Is ``token`` already encrypted with the newest key (nothing for a rotation to do)?"""
    try:
        _current()[1].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """``token`` re-encrypted with the newest key; raises ``InvalidToken`` when no key opens it."""
    return _current()[0].rotate(token.encode()).decode()
