"""Factories and arrangers for workforce tests.

Plain rows come from factories; couriers in a given onboarding state are arranged through
the services, so their timelines and invariants are the real ones.
"""

import datetime as dt
import io

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from factory.django import DjangoModelFactory
from PIL import Image

from lastmile.hubs.models import Hub
from tests.factories import UserFactory
from tests.hubs.factories import HubFactory
from workforce import services
from workforce.models import (
    Courier,
    CourierApplication,
    CourierKind,
    EarningEntry,
    EarningKind,
    EarningSource,
    PayRule,
    Vehicle,
    WorkEligibility,
)

PASSWORD = "a-Long-and-unusual-passphrase-42"
VALID_IBANS = [
    "DE89370400440532013000",
    "DE02120300000000202051",
    "NL91ABNA0417164300",
    "FR1420041010050500013M02606",
    "AT611904300234573201",
]


def png_bytes(size: tuple[int, int] = (8, 8), color: str = "navy") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def png_upload(name: str = "id.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def pdf_upload(name: str = "licence.pdf") -> SimpleUploadedFile:
    content = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    return SimpleUploadedFile(name, content, content_type="application/pdf")


class CourierFactory(DjangoModelFactory[Courier]):
    """A bare courier row (an applicant with nothing filled in) and its draft application."""

    class Meta:
        model = Courier
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    kind = CourierKind.CROWD

    @factory.post_generation
    def application(self, create: bool, extracted, **kwargs) -> None:
        if create:
            CourierApplication.objects.create(courier=self)


class PayRuleFactory(DjangoModelFactory[PayRule]):
    class Meta:
        model = PayRule

    hub = factory.SubFactory(HubFactory)
    courier_kind = CourierKind.CROWD
    per_stop_minor = 250
    per_km_minor = 30
    per_hour_minor = 1200
    min_guarantee_per_shift_minor = 0
    valid_from = dt.date(2020, 1, 1)


def complete_application(courier: Courier, *, hub: Hub, n: int = 0) -> Courier:
    """Fill in every step (crowd courier on a bike, EU citizen: only an ID is needed)."""
    courier = services.courier_update_details(
        courier=courier,
        changes={
            "first_name": "Ada",
            "last_name": f"Courier{n}",
            "phone": "+4915112345678",
            "date_of_birth": dt.date(1990, 5, 17),
            "street_address": "Oranienstraße 1",
            "postcode": "10999",
            "city": "Berlin",
            "country": "DE",
            "work_eligibility": WorkEligibility.EU_CITIZEN,
            "nationality": "DE",
            "kind": courier.kind,
            "home_hub": hub,
            "vehicle": Vehicle.BIKE,
            "skills": [],
        },
    )
    services.courier_set_payout_account(
        courier=courier,
        account_holder=f"Ada Courier{n}",
        iban=VALID_IBANS[n % len(VALID_IBANS)],
    )
    services.document_upload(
        courier=courier,
        kind="id_document",
        upload=png_upload(),
        expires_on=timezone.localdate() + dt.timedelta(days=900),
    )
    services.courier_accept_terms(courier=courier)
    return Courier.objects.select_related("user", "application", "home_hub").get(pk=courier.pk)


def submitted_courier(*, hub: Hub | None = None, n: int = 0, **kwargs) -> Courier:
    hub = hub or HubFactory()
    courier = complete_application(CourierFactory(**kwargs), hub=hub, n=n)
    services.application_submit(courier=courier)
    courier.refresh_from_db()
    return courier


def active_courier(*, hub: Hub | None = None, n: int = 0, reviewer=None, **kwargs) -> Courier:
    courier = submitted_courier(hub=hub, n=n, **kwargs)
    reviewer = reviewer or UserFactory(username=f"reviewer-{courier.pk}", is_staff=True)
    services.application_approve(application=courier.application, reviewer=reviewer)
    courier.refresh_from_db()
    return courier


def entry(
    courier: Courier,
    *,
    amount_minor: int,
    earned_at: dt.datetime,
    source_id: int,
    kind=EarningKind.STOP,
) -> EarningEntry:
    """A plain ledger line, as the pricing services write them."""
    return EarningEntry.objects.create(
        courier=courier,
        kind=kind,
        source_type=EarningSource.DELIVERY_ATTEMPT
        if kind == EarningKind.STOP
        else EarningSource.SHIFT,
        source_id=source_id,
        amount_minor=amount_minor,
        currency="EUR",
        earned_at=earned_at,
    )
