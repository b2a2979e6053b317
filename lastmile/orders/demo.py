"""About 600 demo orders spread over Berlin, for today and tomorrow, with realistic windows.

Positions are drawn around real district centres (coordinates of the districts' centres),
windows are the 2- and 3-hour slots merchants sell plus some all-day ones. A fixed seed makes
the data the same on every run; references include the date, so a second run the same day
adds nothing.
"""

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from lastmile.hubs.models import Hub
from lastmile.orders.models import DeliveryOption, Priority
from lastmile.orders.services import OrderInput, ParcelInput, order_build, orders_bulk_create
from lastmile.partners.models import Partner

# (district, centre latitude, centre longitude, spread in degrees, street names, postcode)
DISTRICTS = [
    (
        "Kreuzberg",
        52.4990,
        13.4030,
        0.012,
        ["Oranienstraße", "Bergmannstraße", "Wiener Straße"],
        "10999",
    ),
    (
        "Neukölln",
        52.4811,
        13.4350,
        0.012,
        ["Sonnenallee", "Weserstraße", "Karl-Marx-Straße"],
        "12043",
    ),
    (
        "Friedrichshain",
        52.5158,
        13.4540,
        0.010,
        ["Boxhagener Straße", "Warschauer Straße", "Simon-Dach-Straße"],
        "10245",
    ),
    (
        "Prenzlauer Berg",
        52.5390,
        13.4240,
        0.010,
        ["Kastanienallee", "Schönhauser Allee", "Danziger Straße"],
        "10435",
    ),
    ("Mitte", 52.5200, 13.4050, 0.010, ["Torstraße", "Invalidenstraße", "Linienstraße"], "10115"),
    (
        "Schöneberg",
        52.4830,
        13.3530,
        0.010,
        ["Akazienstraße", "Goltzstraße", "Hauptstraße"],
        "10827",
    ),
    (
        "Tempelhof",
        52.4660,
        13.3850,
        0.012,
        ["Tempelhofer Damm", "Manfred-von-Richthofen-Straße"],
        "12101",
    ),
    (
        "Charlottenburg",
        52.5160,
        13.3040,
        0.012,
        ["Kantstraße", "Wilmersdorfer Straße", "Sesenheimer Straße"],
        "10627",
    ),
    (
        "Wedding",
        52.5500,
        13.3660,
        0.012,
        ["Müllerstraße", "Seestraße", "Amsterdamer Straße"],
        "13353",
    ),
    ("Moabit", 52.5260, 13.3430, 0.008, ["Turmstraße", "Beusselstraße", "Stromstraße"], "10551"),
]
# (start hour, end hour, weight): the slots customers pick at checkout.
WINDOWS = [
    (8, 10, 3),
    (10, 12, 3),
    (12, 14, 2),
    (14, 16, 2),
    (16, 18, 3),
    (18, 20, 3),
    (8, 13, 2),
    (13, 18, 2),
    (8, 18, 2),
]
FIRST_NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hannah",
    "Ilyas",
    "Jana",
    "Karim",
    "Lea",
    "Mats",
    "Nora",
    "Ole",
    "Paula",
    "Selin",
    "Tom",
]
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Yılmaz",
    "Fischer",
    "Weber",
    "Nowak",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Schulz",
    "Kaya",
    "Richter",
]
ORDERS_PER_DAY = 300


def _orders_for_day(
    rng: random.Random, partner: Partner, hub: Hub, day: dt.date, count: int, start: int
) -> list:
    built = []
    for n in range(start, start + count):
        district, lat, lng, spread, streets, postcode = rng.choice(DISTRICTS)
        start_h, end_h, _ = rng.choices(WINDOWS, weights=[w for *_, w in WINDOWS])[0]
        reference = f"{partner.slug[:4].upper()}-{day:%Y%m%d}-{n:04d}"
        parcels = [
            ParcelInput(
                barcode=f"{reference}-{p}",
                weight_g=rng.choice([300, 800, 1500, 2500, 4000, 8000, 12000]),
                length_mm=rng.choice([200, 300, 400, 600]),
                width_mm=rng.choice([150, 200, 300, 400]),
                height_mm=rng.choice([50, 100, 200, 300]),
            )
            for p in range(1, rng.choice([1, 1, 1, 2, 2, 3]) + 1)
        ]
        skills = (
            ["age_check"] if rng.random() < 0.04 else ["cold_chain"] if rng.random() < 0.04 else []
        )
        data = OrderInput(
            external_reference=reference,
            recipient_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            recipient_phone=f"+49151{rng.randint(10000000, 99999999)}",
            address=f"{rng.choice(streets)} {rng.randint(1, 180)}, {postcode} Berlin ({district})",
            latitude=Decimal(str(round(lat + rng.uniform(-spread, spread), 6))),
            longitude=Decimal(str(round(lng + rng.uniform(-spread * 1.6, spread * 1.6), 6))),
            window_start=dt.datetime.combine(day, dt.time(start_h), tzinfo=hub.zone),
            window_end=dt.datetime.combine(day, dt.time(end_h), tzinfo=hub.zone),
            parcels=parcels,
            access_notes=rng.choice(
                ["", "", "", "Hinterhaus, 3. OG", "Bitte bei Nachbarn klingeln", "Code 4711"]
            ),
            service_s=rng.choice([120, 180, 180, 240, 300]),
            priority=Priority.URGENT if rng.random() < 0.03 else Priority.NORMAL,
            required_skills=skills,
            delivery_option=DeliveryOption.DOOR,
            cod_amount_minor=rng.choice([None] * 9 + [rng.randint(1000, 15000)]),
            cod_currency="EUR",
        )
        built.append(order_build(partner=partner, hub=hub, data=data))
    return built


def seed_orders(*, today: dt.date | None = None) -> int:
    """Create the demo orders for today and tomorrow; returns how many were new."""
    today = today or timezone.localdate()
    partners = list(
        Partner.objects.filter(
            slug__in=["kiezkaufhaus", "spreemarkt", "havelpaket"]
        ).select_related("default_hub")
    )
    created = 0
    for day in (today, today + dt.timedelta(days=1)):
        rng = random.Random(day.toordinal())  # noqa: S311 - demo data, not security
        per_partner = ORDERS_PER_DAY // len(partners)
        for partner in partners:
            hub = partner.default_hub
            orders = _orders_for_day(rng, partner, hub, day, per_partner, 1)
            created += len(
                orders_bulk_create(partner=partner, hub=hub, orders=orders, source="demo").created
            )
    return created


IMPORT_COLUMNS = [
    "external_reference",
    "recipient_name",
    "recipient_phone",
    "address",
    "latitude",
    "longitude",
    "window_start",
    "window_end",
    "service_s",
    "priority",
    "required_skills",
    "cod_amount",
    "cod_currency",
    "access_notes",
    "parcel_barcode",
    "parcel_weight_g",
    "parcel_length_mm",
    "parcel_width_mm",
    "parcel_height_mm",
]


def demo_order_file(
    *, partner: Partner, hub: Hub, day: dt.date, count: int, seed: int = 7
) -> bytes:
    """A realistic merchant order file (CSV, one row per parcel) for ``count`` orders.

    Used to try the import screen and by the import benchmark.
    """
    import csv
    import io

    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(IMPORT_COLUMNS)
    for order, parcels in _orders_for_day(rng, partner, hub, day, count, 1):
        start = timezone.localtime(order.window_start, hub.zone)
        end = timezone.localtime(order.window_end, hub.zone)
        for parcel in parcels:
            writer.writerow(
                [
                    order.external_reference,
                    order.recipient_name,
                    str(order.recipient_phone),
                    order.address,
                    order.latitude,
                    order.longitude,
                    f"{start:%Y-%m-%d %H:%M}",
                    f"{end:%Y-%m-%d %H:%M}",
                    order.service_s,
                    Priority(order.priority).name.lower(),
                    ";".join(order.required_skills),
                    f"{order.cod_amount_minor / 100:.2f}" if order.cod_amount_minor else "",
                    order.cod_currency if order.cod_amount_minor else "",
                    order.access_notes,
                    parcel.barcode,
                    parcel.weight_g,
                    parcel.length_mm,
                    parcel.width_mm,
                    parcel.height_mm,
                ]
            )
    return out.getvalue().encode()
