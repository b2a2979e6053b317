"""Device tokens: ``lmd_<prefix>_<secret>``, shown once, stored as a SHA-256 hash.

The prefix (12 hex characters) finds the device row; the hash is compared in constant time.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCHEME = "lmd"
PREFIX_LENGTH = 12


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the plaintext: give it to the device, never store it
    prefix: str
    token_hash: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token() -> IssuedToken:
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    token = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    return IssuedToken(token=token, prefix=prefix, token_hash=hash_token(token))


def token_prefix(token: str) -> str | None:
    """The lookup prefix of a well-formed token, else ``None`` (never a database lookup)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != SCHEME or len(parts[1]) != PREFIX_LENGTH or not parts[2]:
        return None
    return parts[1]


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)
