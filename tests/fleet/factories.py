import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from fleet.models import (
    Charger,
    ChargingSession,
    ChargingSite,
    Connector,
    Current,
    Tariff,
    TariffRate,
    Vehicle,
    VehicleKind,
    VehicleState,
    VehicleType,
)
from tests.hubs.factories import HubFactory


class VehicleTypeFactory(DjangoModelFactory[VehicleType]):
    """An electric van: 75 kWh gross, 92 % usable, 11 kW AC (Type 2), 80 kW DC (CCS2)."""

    class Meta:
        model = VehicleType
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"E-van {n}")
    kind = VehicleKind.E_VAN
    capacity_weight_g = 1_000_000
    capacity_volume_cm3 = 11_000_000
    capacity_parcels = 180
    battery_capacity_wh = 75_000
    usable_battery_pct = 92
    consumption_wh_per_km = Decimal("240.0")
    consumption_loaded_wh_per_km = Decimal("320.0")
    max_ac_power_w = 11_000
    ac_connector = Connector.TYPE2
    max_dc_power_w = 80_000
    dc_connector = Connector.CCS2
    cost_per_km_minor = 16
    cost_per_hour_minor = 3_200
    fixed_cost_minor = 4_500


class CargoBikeTypeFactory(VehicleTypeFactory):
    name = factory.Sequence(lambda n: f"Cargo bike {n}")
    kind = VehicleKind.E_CARGO_BIKE
    capacity_weight_g = 150_000
    capacity_volume_cm3 = 1_500_000
    capacity_parcels = 45
    battery_capacity_wh = 1_500
    usable_battery_pct = 100
    consumption_wh_per_km = Decimal("15.0")
    consumption_loaded_wh_per_km = None
    max_ac_power_w = 700
    ac_connector = Connector.SCHUKO
    max_dc_power_w = 0
    dc_connector = ""
    cost_per_km_minor = 4
    cost_per_hour_minor = 2_600
    fixed_cost_minor = 900


class IceVanTypeFactory(VehicleTypeFactory):
    name = factory.Sequence(lambda n: f"Diesel van {n}")
    kind = VehicleKind.ICE_VAN
    battery_capacity_wh = None
    consumption_wh_per_km = None
    consumption_loaded_wh_per_km = None
    max_ac_power_w = 0
    ac_connector = ""
    max_dc_power_w = 0
    dc_connector = ""
    co2_g_per_km = 215


class VehicleFactory(DjangoModelFactory[Vehicle]):
    """A plain vehicle row (no state row: ingest creates it); use the services for events."""

    class Meta:
        model = Vehicle

    code = factory.Sequence(lambda n: f"VAN-{n:03d}")
    vehicle_type = factory.SubFactory(VehicleTypeFactory)
    home_hub = factory.SubFactory(HubFactory)


class VehicleStateFactory(DjangoModelFactory[VehicleState]):
    class Meta:
        model = VehicleState

    vehicle = factory.SubFactory(VehicleFactory)
    recorded_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(minutes=3))
    latitude = factory.Sequence(lambda n: Decimal("52.480000") + Decimal(n % 40) / 1000)
    longitude = factory.Sequence(lambda n: Decimal("13.380000") + Decimal(n % 40) / 1000)
    speed_kmh = Decimal("18.5")
    heading_deg = 90
    soc_pct = factory.Sequence(lambda n: Decimal(10 + (n * 7) % 90))
    soc_recorded_at = factory.SelfAttribute("recorded_at")


class TariffFactory(DjangoModelFactory[Tariff]):
    """A tariff with 24 rates: ``prices`` (24 values) or a flat 30 ct/kWh."""

    class Meta:
        model = Tariff
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Tariff {n}")

    @factory.post_generation
    def prices(self, create: bool, extracted: list[int] | None, **kwargs) -> None:
        if create:
            values = extracted or [30_000] * 24
            TariffRate.objects.bulk_create(
                TariffRate(tariff=self, hour=hour, price_minor_per_mwh=price)
                for hour, price in enumerate(values)
            )


class ChargingSiteFactory(DjangoModelFactory[ChargingSite]):
    class Meta:
        model = ChargingSite

    hub = factory.SubFactory(HubFactory)
    power_cap_w = 50_000
    tariff = factory.SubFactory(TariffFactory)


class ChargerFactory(DjangoModelFactory[Charger]):
    class Meta:
        model = Charger

    site = factory.SubFactory(ChargingSiteFactory)
    code = factory.Sequence(lambda n: f"AC-{n:02d}")
    current = Current.AC
    connector = Connector.TYPE2
    max_power_w = 11_000


class ChargingSessionFactory(DjangoModelFactory[ChargingSession]):
    class Meta:
        model = ChargingSession

    vehicle = factory.SubFactory(VehicleFactory)
    charger = factory.SubFactory(ChargerFactory)
    started_at = factory.Sequence(
        lambda n: timezone.now() - dt.timedelta(days=2) + dt.timedelta(hours=3 * n)
    )
    ended_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(hours=2))
    energy_wh = 18_000
    start_soc_pct = Decimal("20.0")
    end_soc_pct = Decimal("46.0")
    cost_minor = 540
    source = "api"
