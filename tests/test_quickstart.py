"""The README's quick start, minus the install: migrate, seed the demo, serve, sign in.

Runs the same commands ``make demo`` runs, in subprocesses, on a fresh SQLite file with no
broker, so a broken demo is caught by ``make test``.
"""

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_env(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="lastmile.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    )
    return env


def _manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_demo_serves_the_login_page_and_the_demo_login_works(demo_env):
    # given: the demo's set-up steps
    assert _manage(demo_env, "migrate", "--noinput").returncode == 0
    seeded = _manage(demo_env, "seed_demo")
    assert seeded.returncode == 0, seeded.stderr
    assert "Login (dispatcher): dispatcher / lastmile-demo" in seeded.stdout

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=demo_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        deadline = time.monotonic() + 60
        while True:
            try:
                login_page = opener.open(f"{base}/admin/login/", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

        # when: the printed dispatcher login is used
        assert login_page.status == 200
        token = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.read().decode()
        ).group(1)
        form = urllib.parse.urlencode(
            {
                "username": "dispatcher",
                "password": "lastmile-demo",
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            }
        ).encode()
        request = urllib.request.Request(
            f"{base}/admin/login/?next=/admin/", data=form, headers={"Referer": base}
        )
        landing = opener.open(request, timeout=10)

        # then: the dispatcher lands on the back-office index, and health is green
        assert landing.status == 200
        assert landing.url.endswith("/admin/")
        assert "Log out" in landing.read().decode()
        assert opener.open(f"{base}/healthz", timeout=5).status == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
