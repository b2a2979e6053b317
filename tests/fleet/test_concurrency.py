"""Two uploads of overlapping batches at once: one copy of each ping, the newest fix wins."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from fleet import services
from fleet.models import TelematicsPing, VehicleState
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
