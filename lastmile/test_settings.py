"""Settings for the test suite: the real settings, made fast and isolated.

The database and broker still come from ``DATABASE_URL`` / ``REDIS_URL``, so the same suite
runs on SQLite with in-process tasks, or on PostgreSQL and Redis in CI.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from lastmile.settings import *  # noqa: F403
from lastmile.settings import BASE_DIR

# Hashing passwords slowly is a feature in production and only a cost in tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_SSL_REDIRECT = False
