"""Vehicles with history are retired (their archive), never deleted; fresh mistakes can go."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.db.models import ProtectedError
from django.utils import timezone

from fleet import services
from fleet.models import (
    ChargingSession,
    Device,
    FleetEvent,
    TelematicsPing,
    Vehicle,
    VehicleState,
    VehicleStatus,
)
from lastmile.dispatch.services.building import planning_input_build
from lastmile.hubs.services import hub_archive
from tests.fleet.factories import ChargingSessionFactory, VehicleTypeFactory
from tests.hubs.factories import HubFactory
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _vehicle(code: str = "TH-EV01", hub=None) -> Vehicle:
    return services.vehicle_create(
        code=code,
        vehicle_type=VehicleTypeFactory(),
        home_hub=hub or HubFactory(),
        source="back_office",
    )


def test_deleting_a_vehicle_with_charging_history_is_refused_and_says_to_retire_it(
    admin_client,
):
    # given
    vehicle = _vehicle()
    ChargingSessionFactory(vehicle=vehicle)

    # when
    response = admin_client.post(f"/admin/fleet/vehicle/{vehicle.pk}/delete/", {"post": "yes"})

    # then
    assert response.status_code == 302
    assert response.url == f"/admin/fleet/vehicle/{vehicle.pk}/change/"
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == (
        "Vehicle TH-EV01 cannot be deleted: it has history (1 charging session). "
        "Archive it by retiring it instead."
    )
    assert Vehicle.objects.filter(pk=vehicle.pk).exists()
    assert ChargingSession.objects.filter(vehicle=vehicle).count() == 1
    assert FleetEvent.objects.filter(vehicle=vehicle).count() == 1


def test_a_status_change_is_history_too(admin_client):
    # given
    vehicle = _vehicle()
    services.vehicle_send_to_maintenance(vehicle=vehicle, reason="Brakes", source="back_office")

    # when
    response = admin_client.get(f"/admin/fleet/vehicle/{vehicle.pk}/delete/", follow=True)

    # then
    assert "1 history entry" in response.content.decode()
    assert Vehicle.objects.filter(pk=vehicle.pk).exists()


def test_a_vehicle_added_by_mistake_is_deleted_with_its_state_and_creation_record(admin_client):
    # given: created through the service (state row and creation event), nothing since
    vehicle = _vehicle()

    # when
    page = admin_client.get(f"/admin/fleet/vehicle/{vehicle.pk}/delete/")
    response = admin_client.post(f"/admin/fleet/vehicle/{vehicle.pk}/delete/", {"post": "yes"})

    # then
    assert page.status_code == 200
    assert response.status_code == 302
    assert response.url == "/admin/fleet/vehicle/"
    assert not Vehicle.objects.filter(pk=vehicle.pk).exists()
    assert not VehicleState.objects.exists()
    assert not FleetEvent.objects.exists()


def test_pings_keep_their_device_from_being_deleted():
    # given
    vehicle = _vehicle()
    device, _token = services.device_create(vehicle=vehicle, name="Tracker", source="back_office")
    TelematicsPing.objects.create(
        device=device,
        vehicle=vehicle,
        recorded_at=timezone.now(),
        received_at=timezone.now(),
        latitude="52.5",
        longitude="13.4",
    )

    # when / then: a plain delete (a script, a shell) is refused by the foreign keys
    with pytest.raises(ProtectedError):
        Device.objects.filter(pk=device.pk).delete()
    assert TelematicsPing.objects.filter(vehicle=vehicle).count() == 1


def test_a_retired_vehicle_is_not_planned(settings):
    # given: two vans at a hub with an order tomorrow; one is retired
    settings.DISPATCH_OSRM_URL = ""
    hub = HubFactory()
    kept = _vehicle("TH-EV01", hub=hub)
    retired = _vehicle("TH-EV02", hub=hub)
    services.vehicle_retire(vehicle=retired, reason="Sold", source="back_office")
    tomorrow = timezone.localdate(timezone=hub.zone) + dt.timedelta(days=1)
    OrderFactory(
        hub=hub,
        service_date=tomorrow,
        window_start=dt.datetime.combine(tomorrow, dt.time(10), tzinfo=hub.zone),
        window_end=dt.datetime.combine(tomorrow, dt.time(14), tzinfo=hub.zone),
    )

    # when
    data = planning_input_build(hub=hub, service_date=tomorrow)

    # then
    assert [v.code for v in data.vehicles.values()] == [kept.code]
    assert Vehicle.objects.get(pk=retired.pk).status == VehicleStatus.RETIRED


def test_a_new_vehicle_cannot_be_based_at_an_archived_hub(admin_client):
    # given
    active = HubFactory(code="BER-KX")
    archived = hub_archive(hub=HubFactory(code="BER-OLD"))

    # when
    response = admin_client.post(
        "/admin/fleet/vehicle/add/",
        {
            "code": "KX-EV09",
            "vehicle_type": VehicleTypeFactory().pk,
            "home_hub": archived.pk,
        },
    )

    # then: the form refuses the hub and offers only the active one
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert list(response.context["adminform"].form.fields["home_hub"].queryset) == [active]
    assert not Vehicle.objects.exists()
