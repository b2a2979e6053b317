"""Fixtures of the dispatch tests: short solver runs, in-process tasks, a small hub day."""

import datetime as dt

import pytest

from lastmile import celery_app
from lastmile.hubs.models import Hub
from tests.fleet.factories import CargoBikeTypeFactory, VehicleFactory
from tests.hubs.factories import HubFactory, OpeningHoursFactory
from tests.orders.factories import OrderFactory


@pytest.fixture(autouse=True)
def short_planning(settings):
    # Small time limits keep the suite fast; the engine stops at its limit with the best plan.
    settings.DISPATCH_TIME_LIMIT_S = 1
    settings.DISPATCH_OSRM_URL = ""


@pytest.fixture
def eager_tasks():
    """Tasks run in-process even where REDIS_URL is set (tests that are not about the broker)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def at(hub: Hub, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=hub.zone)


@pytest.fixture
def tomorrow():
    from django.utils import timezone

    return timezone.localdate() + dt.timedelta(days=1)


@pytest.fixture
def small_day(tomorrow):
    """A hub open all week 07:00-20:00, two vans and a cargo bike, 12 orders tomorrow."""
    hub = HubFactory(latitude="52.500000", longitude="13.420000")
    for weekday in range(7):
        OpeningHoursFactory(hub=hub, weekday=weekday, opens_at=dt.time(7), closes_at=dt.time(20))
    vans = [VehicleFactory(home_hub=hub) for _ in range(2)]
    bike = VehicleFactory(home_hub=hub, vehicle_type=CargoBikeTypeFactory())
    orders = [
        OrderFactory(
            hub=hub,
            window_start=at(hub, tomorrow, 9 + n % 6),
            window_end=at(hub, tomorrow, 12 + n % 6),
            parcels=1 + n % 2,
        )
        for n in range(12)
    ]
    return hub, [*vans, bike], orders


@pytest.fixture
def short_replans(settings):
    """Re-plans search for one second and join triggers within a minute (tests, not quality)."""
    settings.DISPATCH_REPLAN_TIME_LIMIT_S = 1
    settings.DISPATCH_REPLAN_DEBOUNCE_S = 60
