"""Run ``manage.py`` in a child process with production variables, as a server would start.

Settings are read once at import, so what production refuses or accepts is only seen in a
fresh process with its own environment.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "backoffice.example.com",
    "DATABASE_URL": "postgres://lastmile@db.internal:5432/lastmile",
    "REDIS_URL": "redis://redis.internal:6379/0",
    # Production runs behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    "USE_X_FORWARDED_HEADERS": "1",
    # IBANs are encrypted with explicit keys in production (the check refuses without them).
    "WORKFORCE_FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``manage.py *args`` with this machine's variables less ours, plus ``env``."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "DATABASE_URL", "REDIS_URL", "USE_X_FORWARDED_HEADERS", "WORKFORCE_")
        )
    }
    base["DJANGO_SETTINGS_MODULE"] = "lastmile.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
