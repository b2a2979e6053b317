"""Back-office responses carry a Content-Security-Policy that forbids inline script."""

import pytest
from django.conf import settings

from lastmile.accounts.roles import Role
from lastmile.settings import _tile_source
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory

pytestmark = pytest.mark.django_db


def _directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        ("/admin/login/", False),
        ("/courier/login/", False),
        ("/courier/signup/", False),
        ("/admin/", True),
        ("/admin/hubs/hub/add/", True),
        ("/dispatch/board/", True),
        ("/api/v1/docs/", True),
        ("/api/v1/docs/?script=", True),
    ],
)
def test_back_office_pages_forbid_inline_script(client, path, signed_in):
    # given
    HubFactory()
    if signed_in:
        client.force_login(StaffFactory(is_superuser=True, role=Role.DISPATCHER))

    # when
    response = client.get(path)

    # then
    assert response.status_code == 200
    policy = _directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]


def test_map_tiles_are_allowed_from_the_configured_tile_server(client):
    # when
    response = client.get("/admin/login/")

    # then
    assert _tile_source(settings.MAP_TILES_URL) in _directives(response)["img-src"]


@pytest.mark.parametrize(
    ("tiles_url", "source"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tiles.example.com/v1/{z}/{x}/{y}@2x.png", "https://*.tiles.example.com"),
        ("http://tiles.internal:8080/{z}/{x}/{y}.png", "http://tiles.internal:8080"),
        ("/tiles/{z}/{x}/{y}.png", "'self'"),
    ],
)
def test_the_tile_source_is_the_tile_urls_origin(tiles_url, source):
    assert _tile_source(tiles_url) == source


def test_the_api_docs_start_swagger_ui_from_a_script_file_not_inline(client):
    # when
    page = client.get("/api/v1/docs/")
    script = client.get("/api/v1/docs/?script=")

    # then: the page loads its start-up script by URL; that URL answers JavaScript
    html = page.content.decode()
    assert '<script src="/api/v1/docs/?script="></script>' in html
    assert "<script>" not in html
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
