"""The charging optimiser alone: no database, crafted nights with known answers."""

import pytest

from fleet.models import ShortfallReason
from fleet.optimizer import (
    CHARGERS_BUSY,
    NO_COMPATIBLE_CHARGER,
    NOT_ENOUGH_TIME,
    SITE_CAP,
    ChargerSpec,
    ChargingProblem,
    ChargingProblemError,
    VehicleCharging,
    acceptance_w,
    plan_naive,
    plan_smart,
)

ETA = 0.9
HOUR = 4  # slots


def van(vid: int, *, arrive: int = 0, ready: int = 16, need_wh: int = 20_000) -> VehicleCharging:
    return VehicleCharging(
        id=vid,
        available_slot=arrive,
        ready_slot=ready,
        need_wh=need_wh,
        ac_connector="type2",
        max_ac_power_w=11_000,
        dc_connector="ccs2",
        max_dc_power_w=80_000,
    )


def bike(vid: int, *, arrive: int = 0, ready: int = 16, need_wh: int = 1_000) -> VehicleCharging:
    return VehicleCharging(
        id=vid,
        available_slot=arrive,
        ready_slot=ready,
        need_wh=need_wh,
        ac_connector="schuko",
        max_ac_power_w=700,
    )


def ac(cid: int, watts: int = 11_000) -> ChargerSpec:
    return ChargerSpec(id=cid, current="ac", connector="type2", max_power_w=watts)


def problem(vehicles, chargers, *, cap_w=25_000, prices=None, slots=16) -> ChargingProblem:
    return ChargingProblem(
        slot_minutes=15,
        prices_minor_per_mwh=tuple(prices or [30_000] * slots),
        power_cap_w=cap_w,
        efficiency=ETA,
        chargers=tuple(chargers),
        vehicles=tuple(vehicles),
    )


def battery_wh_before(schedule, slot: int) -> float:
    return sum(schedule.power_w[:slot]) * 0.25 * ETA


def test_smart_plan_keeps_under_the_cap_and_meets_every_ready_time_where_naive_does_not():
    # given: four vans plugged in at once on four 11 kW chargers under a 25 kW cap; one must
    # leave after two hours, the others after four; dearer power in the first hour
    vehicles = [van(1, ready=2 * HOUR, need_wh=18_000), van(2), van(3), van(4)]
    prices = [40_000] * HOUR + [20_000] * (3 * HOUR)
    night = problem(vehicles, [ac(10), ac(11), ac(12), ac(13)], cap_w=25_000, prices=prices)

    # when
    smart, naive = plan_smart(night), plan_naive(night)

    # then: naive draws 44 kW at once, over the cap
    assert naive.peak_w == 44_000
    assert naive.slots_over(25_000) > 0
    # smart never exceeds the cap, and each van has its energy before it must leave
    assert smart.peak_w <= 25_000
    assert smart.shortfall_wh == 0
    for vehicle, schedule in zip(
        vehicles, sorted(smart.vehicles, key=lambda s: s.vehicle_id), strict=True
    ):
        assert battery_wh_before(schedule, vehicle.ready_slot) >= vehicle.need_wh
        assert all(p == 0 for p in schedule.power_w[vehicle.ready_slot :])
        assert max(schedule.power_w) <= 11_000
    # and it is cheaper: the vans that may wait charge in the cheap hours
    assert smart.cost_minor < naive.cost_minor
    # every van is on its own charger: their stays overlap
    assert len({s.charger_id for s in smart.vehicles}) == 4


def test_energy_goes_into_the_cheapest_slots():
    night = problem(
        [van(1, need_wh=9_900)],  # exactly one hour at 11 kW and 90 %
        [ac(10)],
        prices=[38_000] * 8 + [21_000] * 4 + [38_000] * 4,
    )

    smart = plan_smart(night)

    schedule = smart.vehicles[0]
    assert [t for t, p in enumerate(schedule.power_w) if p] == [8, 9, 10, 11]
    assert smart.cost_minor == pytest.approx(11_000 * 1 * 21_000 / 1_000_000, abs=0.1)


def test_infeasible_night_names_each_short_vehicle_with_its_shortfall_and_reason():
    # given: the cap allows 5 kW for van 1; van 2 has one hour for 20 kWh; van 3 only fits
    # DC and the site has AC; van 4 finds both AC chargers taken (stays overlap)
    capped = problem([van(1, ready=16)], [ac(10)], cap_w=5_000, slots=16)
    rushed = problem([van(2, ready=HOUR)], [ac(10)], cap_w=50_000, slots=8)
    dc_only = VehicleCharging(3, 0, 8, 10_000, dc_connector="ccs2", max_dc_power_w=50_000)
    no_plug = problem([dc_only], [ac(10)], cap_w=50_000, slots=8)
    busy = problem([van(4), van(5), van(6)], [ac(10), ac(11)], cap_w=50_000, slots=16)

    # when
    results = [plan_smart(night) for night in (capped, rushed, no_plug, busy)]

    # then: nothing silent: who, how many Wh, why
    capped_short = results[0].short_vehicles
    assert [(s.vehicle_id, s.shortfall_reason) for s in capped_short] == [(1, SITE_CAP)]
    assert capped_short[0].shortfall_wh == pytest.approx(20_000 - 5_000 * 4 * ETA, abs=10)
    assert max(results[0].site_load_w) <= 5_000

    rushed_short = results[1].short_vehicles[0]
    assert rushed_short.shortfall_reason == NOT_ENOUGH_TIME
    assert rushed_short.shortfall_wh == pytest.approx(20_000 - 11_000 * 1 * ETA, abs=2)

    assert results[2].short_vehicles[0].shortfall_reason == NO_COMPATIBLE_CHARGER
    assert results[2].short_vehicles[0].shortfall_wh == 10_000

    busy_short = results[3].short_vehicles
    assert len(busy_short) == 1
    assert busy_short[0].shortfall_reason == CHARGERS_BUSY
    assert busy_short[0].shortfall_wh == 20_000
    assert busy_short[0].charger_id is None


def test_a_charger_serves_two_vehicles_whose_stays_do_not_overlap():
    evening, night = bike(1, arrive=0, ready=8), bike(2, arrive=8, ready=16)
    socket = ChargerSpec(20, "ac", "schuko", 2_300)

    smart = plan_smart(problem([evening, night], [socket]))

    assert smart.shortfall_wh == 0
    assert {s.charger_id for s in smart.vehicles} == {20}


def test_vehicles_are_matched_to_chargers_their_plug_fits():
    socket = ChargerSpec(20, "ac", "schuko", 2_300)
    dc = ChargerSpec(30, "dc", "ccs2", 50_000)

    assert acceptance_w(bike(1), socket) == 700
    assert acceptance_w(bike(1), ac(10)) == 0
    assert acceptance_w(bike(1), dc) == 0
    assert acceptance_w(van(2), ac(10, 22_000)) == 11_000  # the van's on-board charger limits
    assert acceptance_w(van(2), dc) == 50_000  # the charger limits

    smart = plan_smart(problem([bike(1), van(2)], [ac(10), socket], cap_w=20_000))
    assert {s.vehicle_id: s.charger_id for s in smart.vehicles} == {1: 20, 2: 10}


def test_identical_chargers_are_handed_out_without_clashes():
    vehicles = [van(n, arrive=n % 4, ready=12 + n % 4, need_wh=8_000) for n in range(12)]
    chargers = [ac(100 + n) for n in range(6)]

    smart = plan_smart(problem(vehicles, chargers, cap_w=60_000))

    # no charger hosts two vehicles at the same slot
    stays: dict[int, list[range]] = {}
    by_id = {v.id: v for v in vehicles}
    for schedule in smart.vehicles:
        if schedule.charger_id is not None:
            stays.setdefault(schedule.charger_id, []).append(by_id[schedule.vehicle_id].slots)
    for ranges in stays.values():
        taken = [slot for r in ranges for slot in r]
        assert len(taken) == len(set(taken))


def test_reason_codes_are_the_models_choices():
    assert {NO_COMPATIBLE_CHARGER, CHARGERS_BUSY, NOT_ENOUGH_TIME, SITE_CAP} == set(
        ShortfallReason.values
    )


def test_a_problem_outside_its_horizon_is_refused():
    with pytest.raises(ChargingProblemError):
        problem([van(1, ready=40)], [ac(10)], slots=16)


def test_a_stay_shorter_than_a_slot_is_short_for_lack_of_time_not_chargers():
    # given: plugged in and due within the same slot (ready slot = arrival slot)
    night = problem([van(1, arrive=4, ready=4, need_wh=5_000)], [ac(10)], slots=8)

    smart, naive = plan_smart(night), plan_naive(night)

    # then: the chargers are free; what is missing is time
    assert smart.short_vehicles[0].shortfall_reason == NOT_ENOUGH_TIME
    assert naive.short_vehicles[0].shortfall_reason == NOT_ENOUGH_TIME
