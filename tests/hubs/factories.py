import datetime as dt
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from lastmile.hubs.models import Hub, OpeningHours


class HubFactory(DjangoModelFactory[Hub]):
    class Meta:
        model = Hub

    name = factory.Sequence(lambda n: f"Hub {n}")
    code = factory.Sequence(lambda n: f"HUB-{n:03d}")
    kind = Hub.Kind.DEPOT
    address = factory.Sequence(lambda n: f"Hauptstraße {n}, 10827 Berlin")
    latitude = factory.Sequence(lambda n: Decimal("52.480000") + Decimal(n % 50) / 1000)
    longitude = factory.Sequence(lambda n: Decimal("13.350000") + Decimal(n % 50) / 1000)
    time_zone = "Europe/Berlin"


class OpeningHoursFactory(DjangoModelFactory[OpeningHours]):
    class Meta:
        model = OpeningHours

    hub = factory.SubFactory(HubFactory)
    weekday = 0
    opens_at = dt.time(6, 0)
    closes_at = dt.time(20, 0)
