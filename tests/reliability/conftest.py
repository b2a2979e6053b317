"""Real processes for the reliability tests: a redis-server of their own and Celery workers.

Each test gets its own ``redis-server`` on a free loopback port (never the shared one: tests
flush and restart it) and starts workers as subprocesses, the way production runs them, so a
``kill -9`` is a real lost worker. Workers read the test database pytest-django created and
short lease and solver settings from their environment.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from lastmile import celery_app
from tests.conftest import REQUIRE_SERVICES
from tests.fleet.factories import CargoBikeTypeFactory, VehicleFactory
from tests.hubs.factories import HubFactory, OpeningHoursFactory
from tests.orders.factories import OrderFactory

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# A lease this short expires a few seconds after a worker dies; renewed once a second.
LEASE_S = 3
# Long enough to be killed mid-solve, short enough for the whole module to stay quick.
SOLVE_S = 4


def wait_for(
    what: str,
    check: Callable[[], bool],
    *,
    timeout_s: float,
    every_s: float = 0.2,
    logs: Callable[[], str] = str,
) -> None:
    """Poll ``check`` until it is true; fail saying ``what`` (and the logs) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{logs()}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on a loopback port, without persistence: a restart loses
    every queued message, as a broker restart without AOF does in production."""

    def __init__(self, log_dir: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for("redis-server to answer", self._answers, timeout_s=10, every_s=0.1)

    def _answers(self) -> bool:
        try:
            return self.client().ping()
        except (redis.RedisError, OSError):
            return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class Workers:
    """Celery workers as real subprocesses on the test database and the test's Redis."""

    def __init__(self, broker_url: str, log_dir: Path) -> None:
        self.broker_url = broker_url
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def env(self) -> dict[str, str]:
        db = django_settings.DATABASES["default"]
        url = (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "lastmile.test_settings",
            "DJANGO_DEBUG": "1",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": url,
            "REDIS_URL": self.broker_url,
            "TASK_LEASE_S": str(LEASE_S),
            "DISPATCH_TIME_LIMIT_S": str(SOLVE_S),
            "DISPATCH_OSRM_URL": "",
        }

    def start(self) -> subprocess.Popen:
        name = f"reliability-{uuid.uuid4().hex[:8]}"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "lastmile",
                "worker",
                "-Q",
                "planning,default",
                "-P",
                "solo",
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=(self.log_dir / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """``kill -9``: the worker gets no chance to fail, reject or acknowledge anything."""
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        """Cold shutdown (SIGQUIT): the test is over, nothing they hold matters any more."""
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGQUIT)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


@contextmanager
def _broker(url: str) -> Iterator[None]:
    """This process sends its tasks to ``url`` (its cached connection pools are dropped)."""

    def reset() -> None:
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    before = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    reset()
    try:
        yield
    finally:
        celery_app.conf.broker_url = before
        reset()


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    if not os.path.exists(REDIS_SERVER):
        missing = f"redis-server not found at {REDIS_SERVER}"
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {missing}")
        pytest.skip(missing)
    server = RedisServer(tmp_path)
    server.start()
    try:
        with _broker(server.url):
            yield server
    finally:
        server.stop()


@pytest.fixture
def workers(own_redis, tmp_path, settings) -> Iterator[Workers]:
    assert celery_app.conf.task_always_eager is False
    # The sweepers run in this process: the same short lease, and no wait before resending.
    settings.TASK_LEASE_S = LEASE_S
    settings.TASK_RESEND_AFTER_S = 1
    settings.TASK_MAX_ATTEMPTS = 3
    pool = Workers(own_redis.url, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()


def hub_day(day: dt.date, orders: int = 12):
    """A hub open all week 07:00-20:00, two vans and a cargo bike, ``orders`` orders on ``day``."""
    hub = HubFactory(latitude="52.500000", longitude="13.420000")
    for weekday in range(7):
        OpeningHoursFactory(hub=hub, weekday=weekday, opens_at=dt.time(7), closes_at=dt.time(20))
    VehicleFactory(home_hub=hub)
    VehicleFactory(home_hub=hub)
    VehicleFactory(home_hub=hub, vehicle_type=CargoBikeTypeFactory())
    for n in range(orders):
        OrderFactory(
            hub=hub,
            window_start=dt.datetime.combine(day, dt.time(9 + n % 6), tzinfo=hub.zone),
            window_end=dt.datetime.combine(day, dt.time(12 + n % 6), tzinfo=hub.zone),
            parcels=1 + n % 2,
        )
    return hub


@pytest.fixture
def tomorrow() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=1)
