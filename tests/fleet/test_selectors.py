"""What dispatch reads from the fleet: routing numbers per vehicle, and CO2 per route."""

import pytest

from fleet.models import KIND_PROFILES, RoutingProfile, VehicleKind
from fleet.selectors import route_emissions, vehicle_routing_spec
from lastmile.routing.matrix import PROFILES
from lastmile.routing.problem import Costs, EnergyModel, Load
from tests.fleet.factories import (
    CargoBikeTypeFactory,
    IceVanTypeFactory,
    VehicleFactory,
    VehicleTypeFactory,
)

pytestmark = pytest.mark.django_db


def test_every_profile_and_kind_maps_to_a_profile_the_routing_engine_knows():
    assert set(RoutingProfile.values) <= set(PROFILES)
    assert set(KIND_PROFILES) == set(VehicleKind.values)


def test_an_e_van_becomes_the_engines_capacity_energy_and_costs(settings):
    settings.FLEET_ENERGY_RESERVE_PCT = 10
    van = VehicleFactory(vehicle_type=VehicleTypeFactory(), skills=["tail_lift"])

    spec = vehicle_routing_spec(vehicle=van)

    usable = 75_000 * 92 // 100  # 69,000 Wh
    assert spec.capacity == Load(weight_g=1_000_000, volume_cm3=11_000_000, parcels=180)
    assert spec.energy == EnergyModel(usable_wh=usable - usable // 10, wh_per_km=280.0)
    assert spec.energy.range_m == pytest.approx(62_100 / 280 * 1000)
    assert spec.costs == Costs(fixed=4_500, per_km=16, per_hour=3_200)
    assert spec.profile == "van"
    assert (spec.speed_kmh, spec.detour_factor) == (25.0, 1.3)
    assert spec.skills == frozenset({"tail_lift"})


def test_during_the_day_the_energy_is_what_is_left_above_the_reserve():
    van = VehicleFactory(vehicle_type=VehicleTypeFactory())

    spec = vehicle_routing_spec(vehicle=van, soc_pct=40)
    empty = vehicle_routing_spec(vehicle=van, soc_pct=5)

    assert spec.energy.usable_wh == int(69_000 * 0.4 - 6_900)
    assert empty.energy.usable_wh == 1  # nothing to plan with; the engine reports "range"


def test_a_cargo_bike_and_a_combustion_van():
    bike = vehicle_routing_spec(vehicle=VehicleFactory(vehicle_type=CargoBikeTypeFactory()))
    diesel = vehicle_routing_spec(vehicle=VehicleFactory(vehicle_type=IceVanTypeFactory()))

    assert bike.profile == "cargo_bike"
    assert bike.energy.wh_per_km == 15.0  # no loaded figure: empty consumption
    assert diesel.profile == "van"
    assert diesel.energy is None


def test_a_type_may_use_another_profile_than_its_kinds():
    small = VehicleFactory(vehicle_type=VehicleTypeFactory(routing_profile=RoutingProfile.CAR))

    assert vehicle_routing_spec(vehicle=small).profile == "car"


def test_route_emissions_of_an_e_van_use_the_grid_factor_and_charging_losses(settings):
    settings.FLEET_GRID_CO2_G_PER_KWH = 400
    settings.FLEET_CHARGING_EFFICIENCY_PCT = 90
    van = VehicleFactory(vehicle_type=VehicleTypeFactory())

    route = route_emissions(vehicle=van, distance_m=90_000, parcels=120)

    # 90 km x 280 Wh/km = 25.2 kWh in the battery, 28 kWh from the grid, x 400 g/kWh
    assert route.energy_wh == 25_200
    assert route.co2_g == 11_200
    assert route.co2_g_per_parcel == pytest.approx(93.3)
    assert route.basis == "grid_mix"


def test_route_emissions_of_a_diesel_van_are_tank_to_wheel():
    diesel = VehicleFactory(vehicle_type=IceVanTypeFactory(co2_g_per_km=215))

    route = route_emissions(vehicle=diesel, distance_m=90_000, parcels=120)
    empty = route_emissions(vehicle=diesel, distance_m=10_000, parcels=0)

    assert route.co2_g == 19_350
    assert route.co2_g_per_parcel == pytest.approx(161.2, abs=0.1)
    assert route.energy_wh is None
    assert empty.co2_g_per_parcel is None
