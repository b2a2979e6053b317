"""Shared fixtures, and the gate for tests that need a real service.

Tests marked ``postgres``, ``redis``, ``celery_worker`` or ``browser`` run only where that
service is reachable; elsewhere they are skipped with the reason printed. With
``REQUIRE_SERVICES=1`` (CI) a missing service fails the test instead.
"""

import os
import shutil
from collections.abc import Callable
from functools import cache

import pytest
import redis
from django.conf import settings

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@cache
def _postgres_missing() -> str | None:
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        return "DATABASE_URL does not point at PostgreSQL"
    return None


@cache
def _redis_missing() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"Redis at REDIS_URL is unreachable ({exc.__class__.__name__})"
    finally:
        client.close()
    return None


@cache
def _browser_missing() -> str | None:
    if not os.path.exists(CHROMIUM_PATH):
        return f"Chromium not found at {CHROMIUM_PATH} (apt-get install chromium)"
    return None


SERVICE_CHECKS: dict[str, Callable[[], str | None]] = {
    "postgres": _postgres_missing,
    "redis": _redis_missing,
    "celery_worker": _redis_missing,
    "browser": _browser_missing,
}


def pytest_report_header(config) -> list[str]:
    lines = [f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"]
    for name in ("postgres", "redis", "browser"):
        reason = SERVICE_CHECKS[name]()
        lines.append(f"{name}: {'available' if reason is None else 'missing - ' + reason}")
    lines.append(f"REQUIRE_SERVICES={'1' if REQUIRE_SERVICES else '0'}")
    return lines


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers():
        check = SERVICE_CHECKS.get(marker.name)
        if check is None:
            continue
        reason = check()
        if reason is None:
            continue
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {marker.name} is unavailable: {reason}")
        pytest.skip(f"{marker.name} unavailable: {reason}")


@pytest.fixture(autouse=True)
def _empty_cache():
    # Throttle histories, rate-limit counters and axes' cache live in the default cache: each
    # test starts with none, so one test's requests never throttle another's.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
