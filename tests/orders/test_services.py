import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from lastmile.core.errors import Conflict, ValidationFailed
from lastmile.core.models import AppendOnlyError
from lastmile.orders import services
from lastmile.orders.models import DeliveryAttempt, Order, OrderEvent, OrderStatus
from tests.hubs.factories import HubFactory
from tests.orders.factories import OrderFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def _input(**overrides) -> services.OrderInput:
    day = timezone.localdate() + dt.timedelta(days=1)
    berlin = timezone.get_current_timezone()
    data = {
        "external_reference": "KKH-1001",
        "recipient_name": "Anna Müller",
        "recipient_phone": "030 12345678",
        "address": "Oranienstraße 23, 10999 Berlin",
        "latitude": Decimal("52.501000"),
        "longitude": Decimal("13.419000"),
        "window_start": dt.datetime.combine(day, dt.time(10), tzinfo=berlin),
        "window_end": dt.datetime.combine(day, dt.time(12), tzinfo=berlin),
        "parcels": [services.ParcelInput("KKH-1001-1", 1200, 300, 200, 100)],
    }
    data.update(overrides)
    return services.OrderInput(**data)


@pytest.fixture
def partner_and_hub():
    return PartnerFactory(slug="kiezkaufhaus"), HubFactory(code="BER-KX")


def test_created_order_has_parcels_a_service_date_and_a_created_event(partner_and_hub):
    partner, hub = partner_and_hub

    order = services.order_create(partner=partner, hub=hub, data=_input(), source="api")

    assert order.status == OrderStatus.CREATED
    assert str(order.recipient_phone) == "+493012345678"  # stored E.164
    assert order.service_date == timezone.localdate() + dt.timedelta(days=1)
    assert order.parcels.get().volume_mm3 == 300 * 200 * 100
    assert list(order.events.values_list("kind", "source")) == [("created", "api")]


def test_service_date_is_the_hubs_local_day():
    # given: a window starting 23:30 UTC, which is already the next day in Berlin
    partner, hub = PartnerFactory(), HubFactory(time_zone="Europe/Berlin")
    # (a day ahead: a delivery date in the past is refused as implausible)
    day = timezone.localdate() + dt.timedelta(days=5)
    start = dt.datetime.combine(day, dt.time(23, 30), tzinfo=dt.UTC)

    order = services.order_create(
        partner=partner,
        hub=hub,
        data=_input(window_start=start, window_end=start + dt.timedelta(hours=2)),
        source="api",
    )

    assert order.service_date == day + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"latitude": Decimal("91")}, "latitude"),
        ({"longitude": Decimal("-181")}, "longitude"),
        ({"recipient_phone": "12"}, "recipient_phone"),
        ({"recipient_email": "not-an-email"}, "recipient_email"),
        ({"required_skills": ["teleportation"]}, "required_skills"),
        ({"cod_amount_minor": 1250, "cod_currency": ""}, "cod_currency"),
        ({"parcels": []}, "parcels"),
        ({"parcels": [services.ParcelInput("X-1", 0, 300, 200, 100)]}, "parcels"),
    ],
)
def test_invalid_input_is_refused_per_field_and_nothing_is_written(
    partner_and_hub, overrides, field
):
    partner, hub = partner_and_hub

    with pytest.raises(ValidationError) as excinfo:
        services.order_create(partner=partner, hub=hub, data=_input(**overrides), source="api")

    assert field in excinfo.value.message_dict
    assert not Order.objects.exists()


def test_window_ending_before_it_starts_is_refused(partner_and_hub):
    partner, hub = partner_and_hub
    data = _input()

    with pytest.raises(ValidationError) as excinfo:
        services.order_create(
            partner=partner,
            hub=hub,
            data=_input(window_end=data.window_start - dt.timedelta(minutes=1)),
            source="api",
        )

    assert "window_end" in excinfo.value.message_dict


def test_naive_window_is_refused(partner_and_hub):
    partner, hub = partner_and_hub

    with pytest.raises(ValidationError):
        services.order_create(
            partner=partner,
            hub=hub,
            data=_input(window_start=dt.datetime(2026, 12, 1, 10)),  # noqa: DTZ001 - the point
            source="api",
        )


def test_a_reference_is_unique_per_partner_only(partner_and_hub):
    partner, hub = partner_and_hub
    services.order_create(partner=partner, hub=hub, data=_input(), source="api")

    with pytest.raises(Conflict) as excinfo:
        services.order_create(
            partner=partner,
            hub=hub,
            data=_input(parcels=[services.ParcelInput("OTHER-1", 1, 1, 1, 1)]),
            source="api",
        )
    other = services.order_create(
        partner=PartnerFactory(),
        hub=hub,
        data=_input(parcels=[services.ParcelInput("OTHER-2", 1, 1, 1, 1)]),
        source="api",
    )

    assert excinfo.value.code == "duplicate_reference"
    assert other.external_reference == "KKH-1001"


def test_a_barcode_in_use_is_a_conflict(partner_and_hub):
    partner, hub = partner_and_hub
    services.order_create(partner=partner, hub=hub, data=_input(), source="api")

    with pytest.raises(Conflict) as excinfo:
        services.order_create(
            partner=partner, hub=hub, data=_input(external_reference="KKH-1002"), source="api"
        )

    assert excinfo.value.code == "duplicate_barcode"


def test_bulk_create_twice_creates_each_order_once(partner_and_hub):
    partner, hub = partner_and_hub
    built = [
        services.order_build(
            partner=partner,
            hub=hub,
            data=_input(
                external_reference=f"R-{n}", parcels=[services.ParcelInput(f"B-{n}", 500, 1, 1, 1)]
            ),
        )
        for n in range(30)
    ]

    first = services.orders_bulk_create(partner=partner, hub=hub, orders=built, source="import")
    rebuilt = [
        services.order_build(
            partner=partner,
            hub=hub,
            data=_input(
                external_reference=o.external_reference,
                parcels=[services.ParcelInput(p[0].barcode, 500, 1, 1, 1)],
            ),
        )
        for o, p in built
    ]
    second = services.orders_bulk_create(partner=partner, hub=hub, orders=rebuilt, source="import")

    assert len(first.created) == 30
    assert second.created == []
    assert len(second.skipped_existing) == 30
    assert Order.objects.count() == 30
    assert OrderEvent.objects.filter(kind="created").count() == 30


# --- Attempts --------------------------------------------------------------------------------


def _png(size=(4, 4)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, "PNG")
    return SimpleUploadedFile("door.png", buffer.getvalue(), content_type="image/png")


def test_failed_attempt_records_reason_and_counts():
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)

    attempt = services.order_fail(
        order=order,
        reason="access_denied",
        latitude=Decimal("52.5"),
        longitude=Decimal("13.4"),
        source="courier",
    )

    order.refresh_from_db()
    assert (attempt.number, attempt.outcome, attempt.failure_reason) == (
        1,
        "failed",
        "access_denied",
    )
    assert order.status == OrderStatus.FAILED
    assert order.attempt_count == 1
    assert order.events.filter(kind="attempt_recorded").count() == 1


def test_retrying_a_failure_records_it_once():
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)

    first = services.order_fail(order=order, reason="recipient_absent", source="courier")
    second = services.order_fail(order=order, reason="recipient_absent", source="courier")

    assert first.pk == second.pk
    assert DeliveryAttempt.objects.count() == 1


def test_other_reason_needs_a_note():
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)

    with pytest.raises(ValidationError) as excinfo:
        services.order_fail(order=order, reason="other", source="courier")

    assert "note" in excinfo.value.message_dict
    order.refresh_from_db()
    assert order.status == OrderStatus.OUT_FOR_DELIVERY


def test_unknown_reason_is_refused():
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)

    with pytest.raises(ValidationError):
        services.order_fail(order=order, reason="dog", source="courier")


def test_delivery_with_photo_and_signature_stores_the_proof():
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)

    attempt = services.order_deliver(order=order, photo=_png(), signature=_png(), source="courier")

    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    assert order.delivered_at is not None
    assert attempt.proof.photo.name.startswith("proofs/")
    assert attempt.proof.photo.name.endswith(".png")
    assert "door" not in attempt.proof.photo.name  # uploaded names are not kept


def test_a_text_file_posing_as_a_photo_is_refused_and_nothing_changes():
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)
    fake = SimpleUploadedFile(
        "door.jpg", b"#!/bin/sh\necho not an image\n", content_type="image/jpeg"
    )

    with pytest.raises(ValidationError) as excinfo:
        services.order_deliver(order=order, photo=fake, source="courier")

    assert "photo" in excinfo.value.message_dict
    order.refresh_from_db()
    assert order.status == OrderStatus.OUT_FOR_DELIVERY
    assert not DeliveryAttempt.objects.exists()


def test_delivery_needs_some_proof():
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)

    with pytest.raises(ValidationError) as excinfo:
        services.order_deliver(order=order, source="courier")

    assert "recipient_name" in excinfo.value.message_dict


def test_delivering_twice_completes_once():
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)

    first = services.order_deliver(order=order, recipient_name="Neighbour", source="courier")
    second = services.order_deliver(order=order, recipient_name="Neighbour", source="courier")

    assert first.pk == second.pk
    assert order.events.filter(kind="status_changed").count() == 1


# --- Reschedule and edits ----------------------------------------------------------------------


def test_failed_order_rescheduled_gets_the_new_window_and_service_date():
    order = OrderFactory(status=OrderStatus.FAILED)
    start = timezone.now() + dt.timedelta(days=3)

    order = services.order_reschedule(
        order=order,
        window_start=start,
        window_end=start + dt.timedelta(hours=2),
        source="back_office",
    )

    assert order.status == OrderStatus.RESCHEDULED
    assert order.window_start == start
    assert order.service_date == timezone.localtime(start, order.hub.zone).date()


def test_a_window_in_the_past_is_refused():
    order = OrderFactory(status=OrderStatus.FAILED)
    start = timezone.now() - dt.timedelta(days=1)

    with pytest.raises(ValidationError):
        services.order_reschedule(
            order=order, window_start=start, window_end=start + dt.timedelta(hours=1), source="x"
        )


def test_editing_details_records_which_fields_changed():
    order = OrderFactory(access_notes="")

    services.order_update(
        order=order,
        changes={"access_notes": "Code 4711", "recipient_name": "Anna Müller"},
        source="back_office",
    )

    event = order.events.get()
    assert event.kind == "updated"
    assert event.payload == {"fields": ["access_notes"]}


def test_editing_the_status_or_a_final_order_is_refused():
    order = OrderFactory(status=OrderStatus.DELIVERED)

    with pytest.raises(ValidationFailed):
        services.order_update(order=order, changes={"status": "created"}, source="back_office")
    with pytest.raises(ValidationFailed):
        services.order_update(
            order=order, changes={"access_notes": "late note"}, source="back_office"
        )


def test_events_are_append_only():
    order = OrderFactory()
    services.order_cancel(order=order, reason="duplicate", source="back_office")
    event = order.events.get()

    event.payload = {"tampered": True}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
