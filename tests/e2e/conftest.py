"""Playwright driving Debian's Chromium against the app served by ``live_server``."""

import os
from collections.abc import Iterator

import pytest

from tests.conftest import CHROMIUM_PATH

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls made by the
# test itself (arranging data) are still synchronous and safe there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, settings, live_server) -> Iterator:
    # No tile server in tests: point tiles at the live server, where they 404 quickly.
    settings.MAP_TILES_URL = f"{live_server.url}/no-tiles/{{z}}/{{x}}/{{y}}.png"
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def admin_login(page, live_server, *, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
