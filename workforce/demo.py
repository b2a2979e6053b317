"""Demo couriers in every onboarding state, pay rules, coverage needs, shifts and a payout.

Everything goes through the services (so timelines and the ledger look real), with mail
muted: the addresses are ``@demo.lastmile.invalid``. Couriers are keyed by email, so a second
run adds nothing. The portal login ``courier`` / ``lastmile-demo`` is an active crowd courier
with documents, availability, completed shifts and last week's payout.
"""

import datetime as dt
import io
import secrets
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw
from schwifty import IBAN

from lastmile.accounts.models import User
from lastmile.hubs.models import Hub
from workforce import services
from workforce.models import (
    Courier,
    CourierKind,
    CoverageNeed,
    PayoutWeek,
    PayRule,
    PeakWindow,
    Vehicle,
    WorkEligibility,
)
from workforce.selectors import application_checklist
from workforce.services.common import notifications_muted

DEMO_PASSWORD = "lastmile-demo"  # noqa: S105 - demo only; seed_demo refuses to run without DEBUG
DEMO_COURIER_USERNAME = "courier"
DEMO_DOMAIN = "demo.lastmile.invalid"


@dataclass(frozen=True)
class DemoCourier:
    slug: str
    first: str
    last: str
    kind: str
    hub: str
    vehicle: str
    eligibility: str
    stage: str  # how far the application got


DEMO_COURIERS = [
    DemoCourier(
        "courier",
        "Cem",
        "Courier",
        CourierKind.CROWD,
        "BER-KX",
        Vehicle.E_CARGO_BIKE,
        WorkEligibility.EU_CITIZEN,
        "active",
    ),
    DemoCourier(
        "jonas.becker",
        "Jonas",
        "Becker",
        CourierKind.EMPLOYEE,
        "BER-TH",
        Vehicle.NONE,
        WorkEligibility.EU_CITIZEN,
        "active",
    ),
    DemoCourier(
        "aylin.demir",
        "Aylin",
        "Demir",
        CourierKind.EMPLOYEE,
        "BER-TH",
        Vehicle.NONE,
        WorkEligibility.RESIDENCE_PERMIT,
        "active",
    ),
    DemoCourier(
        "marta.nowak",
        "Marta",
        "Nowak",
        CourierKind.CROWD,
        "BER-KX",
        Vehicle.BIKE,
        WorkEligibility.EU_CITIZEN,
        "active",
    ),
    DemoCourier(
        "lukas.richter",
        "Lukas",
        "Richter",
        CourierKind.CROWD,
        "BER-TH",
        Vehicle.CAR,
        WorkEligibility.EU_CITIZEN,
        "suspended",
    ),
    DemoCourier(
        "sofia.rossi",
        "Sofia",
        "Rossi",
        CourierKind.CROWD,
        "BER-KX",
        Vehicle.BIKE,
        WorkEligibility.EU_CITIZEN,
        "submitted",
    ),
    DemoCourier(
        "omar.haddad",
        "Omar",
        "Haddad",
        CourierKind.EMPLOYEE,
        "BER-TH",
        Vehicle.NONE,
        WorkEligibility.WORK_PERMIT,
        "submitted",
    ),
    DemoCourier(
        "lena.vogel",
        "Lena",
        "Vogel",
        CourierKind.CROWD,
        "BER-KX",
        Vehicle.E_CARGO_BIKE,
        WorkEligibility.EU_CITIZEN,
        "under_review",
    ),
    DemoCourier(
        "piotr.zielinski",
        "Piotr",
        "Zieliński",
        CourierKind.CROWD,
        "BER-TH",
        Vehicle.CAR,
        WorkEligibility.EU_CITIZEN,
        "changes_requested",
    ),
    DemoCourier(
        "kofi.mensah",
        "Kofi",
        "Mensah",
        CourierKind.CROWD,
        "BER-KX",
        Vehicle.BIKE,
        WorkEligibility.WORK_PERMIT,
        "rejected",
    ),
    DemoCourier(
        "emma.schulz",
        "Emma",
        "Schulz",
        CourierKind.CROWD,
        "BER-KX",
        Vehicle.BIKE,
        WorkEligibility.EU_CITIZEN,
        "draft",
    ),
    DemoCourier(
        "noah.klein",
        "Noah",
        "Klein",
        CourierKind.EMPLOYEE,
        "BER-TH",
        Vehicle.NONE,
        WorkEligibility.EU_CITIZEN,
        "unverified",
    ),
]

# (hub, kind) → per stop, per km, per hour, minimum per shift (cents)
DEMO_PAY = {
    CourierKind.CROWD: (250, 30, 0, 3000),
    CourierKind.EMPLOYEE: (0, 0, 1450, 0),
}


def _document_image(text: str) -> SimpleUploadedFile:
    image = Image.new("RGB", (480, 300), "#dfe7f1")
    ImageDraw.Draw(image).text((20, 20), text, fill="#13315c")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return SimpleUploadedFile("scan.png", buffer.getvalue(), content_type="image/png")


def seed_pay_rules(hubs: list[Hub], *, since: dt.date) -> None:
    for hub in hubs:
        for kind, (stop, km, hour, minimum) in DEMO_PAY.items():
            rule, created = PayRule.objects.get_or_create(
                hub=hub,
                courier_kind=kind,
                valid_from=since,
                defaults={
                    "per_stop_minor": stop,
                    "per_km_minor": km,
                    "per_hour_minor": hour,
                    "min_guarantee_per_shift_minor": minimum,
                },
            )
            if created:
                # Evenings and Saturdays pay a quarter more.
                PeakWindow.objects.bulk_create(
                    [
                        PeakWindow(
                            rule=rule,
                            weekday=d,
                            starts_at=dt.time(17),
                            ends_at=dt.time(20),
                            multiplier_pct=125,
                        )
                        for d in range(5)
                    ]
                    + [
                        PeakWindow(
                            rule=rule,
                            weekday=5,
                            starts_at=dt.time(8),
                            ends_at=dt.time(20),
                            multiplier_pct=125,
                        )
                    ]
                )


def seed_coverage(hubs: list[Hub]) -> None:
    for hub in hubs:
        for weekday in range(6):
            for start, end, couriers in ((8, 12, 4), (12, 17, 3), (17, 20, 2)):
                CoverageNeed.objects.get_or_create(
                    hub=hub,
                    weekday=weekday,
                    starts_at=dt.time(start),
                    defaults={"ends_at": dt.time(end), "couriers": couriers},
                )


def _complete_application(courier: Courier, spec: DemoCourier, n: int) -> Courier:
    courier = services.courier_update_details(
        courier=courier,
        changes={
            "first_name": spec.first,
            "last_name": spec.last,
            "phone": f"+49151{40000000 + n:08d}",
            "date_of_birth": dt.date(1985 + n, 1 + n % 12, 1 + n),
            "street_address": f"Oranienstraße {10 + n}",
            "postcode": "10999",
            "city": "Berlin",
            "country": "DE",
            "work_eligibility": spec.eligibility,
            "nationality": "DE" if spec.eligibility == WorkEligibility.EU_CITIZEN else "TR",
            "kind": spec.kind,
            "home_hub": Hub.objects.get(code=spec.hub),
            "vehicle": spec.vehicle,
            "skills": ["age_check"] if n % 3 == 0 else [],
        },
        actor=courier.user,
    )
    services.courier_set_payout_account(
        courier=courier,
        account_holder=f"{spec.first} {spec.last}",
        iban=str(IBAN.generate("DE", bank_code="37040044", account_code=f"{100000 + n}")),
        actor=courier.user,
    )
    expires = timezone.localdate() + dt.timedelta(days=365 * 4)
    for kind in application_checklist(courier=courier):
        if kind.key.startswith("document:"):
            document_kind = kind.key.split(":", 1)[1]
            services.document_upload(
                courier=courier,
                kind=document_kind,
                upload=_document_image(f"{spec.first} {spec.last} · {document_kind}"),
                expires_on=expires,
                actor=courier.user,
            )
    services.courier_accept_terms(courier=courier)
    return courier


def _seed_courier(spec: DemoCourier, n: int, reviewer: User) -> Courier | None:
    email = f"{spec.slug}@{DEMO_DOMAIN}"
    existing = Courier.objects.filter(user__email=email).first()
    if existing is not None:
        return None
    courier = services.courier_sign_up(email=email, password=secrets.token_urlsafe(24))
    # The shared demo password is too weak for the sign-up rules; set it as staff logins are.
    user = courier.user
    user.set_password(DEMO_PASSWORD)
    if spec.slug == DEMO_COURIER_USERNAME:
        user.username = DEMO_COURIER_USERNAME
    user.save(update_fields=["password", "username"])
    if spec.stage == "unverified":
        return courier
    services.courier_verify_email(user=courier.user)
    courier.refresh_from_db()
    if spec.stage == "draft":
        services.courier_update_details(
            courier=courier,
            changes={"first_name": spec.first, "last_name": spec.last},
            actor=courier.user,
        )
        return courier
    courier = _complete_application(courier, spec, n)
    application = services.application_submit(courier=courier, actor=courier.user)
    if spec.stage == "submitted":
        return courier
    services.application_start_review(application=application, reviewer=reviewer)
    if spec.stage == "changes_requested":
        services.application_request_changes(
            application=application,
            reviewer=reviewer,
            reason="Your insurance certificate is cut off: please upload all pages.",
        )
    elif spec.stage == "rejected":
        services.application_reject(
            application=application,
            reviewer=reviewer,
            reason="Your work permit does not cover self-employed delivery work.",
        )
    elif spec.stage in ("active", "suspended"):
        services.application_approve(application=application, reviewer=reviewer)
        if spec.stage == "suspended":
            services.courier_suspend(
                courier=courier, actor=reviewer, reason="Customer complaint under review."
            )
    return courier


def _seed_work(courier: Courier, *, weeks: int = 2) -> None:
    """Completed shifts over the last ``weeks`` weeks and availability for the coming days."""
    courier.refresh_from_db()
    hub = courier.home_hub
    zone = hub.zone
    today = timezone.localdate()
    this_monday = today - dt.timedelta(days=today.weekday())
    for week in range(weeks, 0, -1):
        monday = this_monday - dt.timedelta(days=7 * week)
        for offset, (start_h, end_h, km) in enumerate(((8, 13, 38), (14, 19, 41), (9, 15, 52))):
            day = monday + dt.timedelta(days=offset * 2)
            start = dt.datetime.combine(day, dt.time(start_h), tzinfo=zone)
            end = dt.datetime.combine(day, dt.time(end_h), tzinfo=zone)
            shift = services.shift_schedule(
                courier=courier, hub=hub, planned_start=start, planned_end=end
            )
            services.shift_start(shift=shift, at=start + dt.timedelta(minutes=3))
            services.shift_complete(shift=shift, at=end, distance_m=km * 1000)
    for offset in range(1, 6):
        day = today + dt.timedelta(days=offset)
        if day.weekday() < 6:
            services.availability_slot_add(
                courier=courier, hub=hub, day=day, starts_at=dt.time(8), ends_at=dt.time(14)
            )


def seed_workforce(*, reviewer: User) -> list[str]:
    """Seed the demo couriers; returns the emails of those created by this run."""
    hubs = list(Hub.objects.filter(code__in=["BER-TH", "BER-KX"]))
    today = timezone.localdate()
    seed_pay_rules(hubs, since=dt.date(today.year - 1, 1, 1))
    seed_coverage(hubs)
    created = []
    with notifications_muted():
        for n, spec in enumerate(DEMO_COURIERS):
            courier = _seed_courier(spec, n, reviewer)
            if courier is None:
                continue
            created.append(courier.user.email)
            if spec.stage == "active":
                _seed_work(courier)
    if created:
        # Close the two weeks the demo shifts fall in, oldest first, as Monday's task would.
        last_week = services.last_completed_week()
        for monday in (last_week - dt.timedelta(days=7), last_week):
            if not PayoutWeek.objects.filter(week_start=monday).exists():
                services.payout_week_close(week_start=monday, actor=reviewer)
    return created
