import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from lastmile.orders.models import Order, OrderStatus, Parcel
from lastmile.partners.models import Partner
from tests.hubs.factories import HubFactory


class PartnerFactory(DjangoModelFactory[Partner]):
    class Meta:
        model = Partner
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Partner {n}")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    kind = Partner.Kind.MERCHANT


def _tomorrow_at(hour: int) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


class OrderFactory(DjangoModelFactory[Order]):
    """A plain order row; arrange state through the services where events matter."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    partner = factory.SubFactory(PartnerFactory)
    hub = factory.SubFactory(HubFactory)
    external_reference = factory.Sequence(lambda n: f"ORD-{n:05d}")
    status = OrderStatus.CREATED
    recipient_name = "Anna Müller"
    recipient_phone = "+4915112345678"
    address = factory.Sequence(lambda n: f"Oranienstraße {n % 180 + 1}, 10999 Berlin")
    latitude = factory.Sequence(lambda n: Decimal("52.490000") + Decimal(n % 40) / 2000)
    longitude = factory.Sequence(lambda n: Decimal("13.400000") + Decimal(n % 40) / 2000)
    window_start = factory.LazyFunction(lambda: _tomorrow_at(10))
    window_end = factory.LazyFunction(lambda: _tomorrow_at(12))
    service_date = factory.LazyAttribute(
        lambda o: timezone.localtime(o.window_start, o.hub.zone).date()
    )

    @factory.post_generation
    def parcels(self, create: bool, extracted: int | None, **kwargs) -> None:
        if create:
            for n in range(extracted if extracted is not None else 1):
                ParcelFactory(order=self, barcode=f"{self.external_reference}-{n + 1}")


class ParcelFactory(DjangoModelFactory[Parcel]):
    class Meta:
        model = Parcel

    order = factory.SubFactory(OrderFactory, parcels=0)
    barcode = factory.Sequence(lambda n: f"BC{n:08d}")
    weight_g = 1500
    length_mm = 300
    width_mm = 200
    height_mm = 100
