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


# Every page reports what the Content-Security-Policy blocked, through a binding the test
# side collects: a page that needs an inline script or a foreign host shows up here.
_REPORT_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline code"} ` +
    `(${event.sourceFile || document.location.href}:${event.lineNumber})`
  );
});
"""


def new_context(chromium, csp_violations: list[str], **options):
    """A browser context whose pages append every CSP violation to ``csp_violations``."""
    context = chromium.new_context(**options)
    context.expose_binding(
        "reportCspViolation",
        lambda source, text: csp_violations.append(f"{source['page'].url}: {text}"),
    )
    context.add_init_script(_REPORT_CSP)
    return context


@pytest.fixture
def csp_violations() -> list[str]:
    return []


@pytest.fixture
def page(chromium, settings, live_server, csp_violations) -> Iterator:
    # No tile server in tests: point tiles at the live server, where they 404 quickly.
    settings.MAP_TILES_URL = f"{live_server.url}/no-tiles/{{z}}/{{x}}/{{y}}.png"
    context = new_context(chromium, csp_violations, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    page.wait_for_timeout(100)  # let the last reports arrive
    context.close()
    # Whatever the test checked, the pages it went through must have run under the policy.
    assert csp_violations == []


def admin_login(page, live_server, *, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
