"""Two uploads of overlapping batches at once: one copy of each ping, the newest fix wins."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from fleet import services
from fleet.models import TelematicsPing, VehicleState
from fleet.services.telematics import MAX_BATCH
from tests.fleet.factories import VehicleTypeFactory
from tests.hubs.factories import HubFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_racing_batches_store_each_ping_once_and_leave_the_newest_state():
    # given: a device re-sending an overlapping window from two connections at once
    vehicle = services.vehicle_create(
        code="TH-EV01", vehicle_type=VehicleTypeFactory(), home_hub=HubFactory(), source="test"
    )
    device, _ = services.device_create(vehicle=vehicle, name="unit", source="test")
    now = timezone.now()

    def batch(minutes: range) -> list[services.PingInput]:
        return [
            services.PingInput(
                recorded_at=now - dt.timedelta(minutes=m),
                latitude=52.5 + m / 10_000,
                longitude=13.4,
                soc_pct=50 + m / 10,
            )
            for m in minutes
        ]

    batches = {"older": batch(range(200, 0, -1)), "newer": batch(range(100, -1, -1))}
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def run(name: str) -> None:
        barrier.wait()
        try:
            services.pings_ingest(device=device, pings=batches[name])
        except Exception as exc:  # noqa: BLE001 - any failure is reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in batches]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then: no error, 201 distinct fixes, and the live state is the newest one
    assert errors == []
    assert TelematicsPing.objects.filter(device=device).count() == 201
    state = VehicleState.objects.get(vehicle=vehicle)
    assert state.recorded_at == now
    assert float(state.soc_pct) == 50.0


def test_the_same_pings_in_opposite_orders_at_once_do_not_deadlock():
    # given: a device re-sending one window twice at once, once newest-first, once oldest-first
    # (a batch may come in any order); each insert waits on the other's uncommitted rows
    vehicle = services.vehicle_create(
        code="TH-EV01", vehicle_type=VehicleTypeFactory(), home_hub=HubFactory(), source="test"
    )
    device, _ = services.device_create(vehicle=vehicle, name="unit", source="test")
    now = timezone.now()
    window = [
        services.PingInput(recorded_at=now - dt.timedelta(seconds=s), latitude=52.5, longitude=13.4)
        for s in range(MAX_BATCH)
    ]
    batches = [window, window[::-1]] * 2
    barrier = threading.Barrier(len(batches))
    errors: list[Exception] = []

    def run(pings) -> None:
        barrier.wait()
        try:
            services.pings_ingest(device=device, pings=pings)
        except Exception as exc:  # noqa: BLE001 - any failure is reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(pings,)) for pings in batches]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then: every batch went through, and each fix is stored once
    assert errors == []
    assert TelematicsPing.objects.filter(device=device).count() == MAX_BATCH
