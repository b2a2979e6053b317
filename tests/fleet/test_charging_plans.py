"""Charging plans through the services: request, solve, store, supersede."""

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from fleet import services
from fleet.models import (
    ChargerStatus,
    ChargingPlanSlot,
    ChargingPlanStatus,
    Current,
    FleetEvent,
    VehicleState,
)
from fleet.services import ChargeRequest
from fleet.tasks import plan_charging_task
from lastmile.core.errors import ValidationFailed
from tests.fleet.factories import (
    CargoBikeTypeFactory,
    ChargerFactory,
    ChargingSiteFactory,
    TariffFactory,
    VehicleTypeFactory,
)
from tests.hubs.factories import HubFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
# Planned at 17:50 on a Tuesday in Berlin; vehicles back at 18:00 and ready at 06:30.
NOW = dt.datetime(2026, 3, 10, 17, 50, tzinfo=BERLIN)
# Dear in the evening, cheap from 22:00 to 06:00.
PRICES = [21_000] * 6 + [30_000] * 11 + [38_000] * 5 + [21_000] * 2


@pytest.fixture
def depot():
    hub = HubFactory(code="BER-TH", time_zone="Europe/Berlin")
    site = ChargingSiteFactory(
        hub=hub,
        power_cap_w=25_000,
        tariff=TariffFactory(prices=PRICES),
        default_arrival_time=dt.time(18, 0),
        default_ready_time=dt.time(6, 30),
    )
    chargers = [ChargerFactory(site=site, code=f"AC-{n}") for n in range(1, 5)]
    van_type = VehicleTypeFactory()
    vans = []
    for n, soc in enumerate(["20.0", "35.0", "50.0", "10.0"], start=1):
        van = services.vehicle_create(
            code=f"TH-EV0{n}", vehicle_type=van_type, home_hub=hub, source="test"
        )
        VehicleState.objects.filter(vehicle=van).update(
            soc_pct=Decimal(soc), soc_recorded_at=NOW - dt.timedelta(minutes=5)
        )
        vans.append(van)
    return hub, site, chargers, vans


def _solve(hub, requests=None, now=NOW):
    plan = services.charging_plan_request(
        hub=hub, requests=requests, source="test", now=now, enqueue=False
    )
    return services.charging_plan_solve(plan_id=plan.pk)


def _site_load(plan) -> dict[int, int]:
    rows = (
        ChargingPlanSlot.objects.filter(plan_vehicle__plan=plan)
        .values("slot_index")
        .annotate(w=Sum("power_w"))
    )
    return {row["slot_index"]: row["w"] for row in rows}


def test_the_stored_plan_respects_the_cap_and_every_ready_time_where_naive_would_not(depot):
    # given: four vans needing 40-60 kWh each back at 18:00; one must leave at 01:00
    hub, site, _, vans = depot
    early = dt.datetime(2026, 3, 11, 1, 0, tzinfo=BERLIN)
    requests = [
        ChargeRequest(vehicle_id=vans[0].pk, ready_by=early),
        *[ChargeRequest(vehicle_id=v.pk) for v in vans[1:]],
    ]

    # when
    plan = _solve(hub, requests)

    # then: naive charging at full power would have drawn 44 kW against a 25 kW cap
    assert plan.status == ChargingPlanStatus.READY
    assert plan.naive_peak_w == 44_000
    assert plan.peak_w <= site.power_cap_w
    assert max(_site_load(plan).values()) <= site.power_cap_w
    # every van reaches its target before its ready time
    for row in plan.vehicles.prefetch_related("slots"):
        assert row.shortfall_wh == 0
        assert row.planned_wh >= row.need_wh
        last = max(slot.slot_index for slot in row.slots.all())
        assert plan.slot_start(last) + dt.timedelta(minutes=15) <= row.ready_by
        first = min(slot.slot_index for slot in row.slots.all())
        assert plan.slot_start(first) >= row.available_from
        energy = sum(s.power_w for s in row.slots.all()) * 0.25 * plan.efficiency_pct / 100
        assert energy >= row.need_wh
    assert plan.cost_minor < plan.naive_cost_minor
    # the defaults: from 18:00 today to 06:30 tomorrow, full batteries
    first_van = plan.vehicles.get(vehicle=vans[1])
    assert first_van.available_from == dt.datetime(2026, 3, 10, 18, 0, tzinfo=BERLIN)
    assert first_van.ready_by == dt.datetime(2026, 3, 11, 6, 30, tzinfo=BERLIN)
    assert first_van.target_energy_wh == 75_000 * 92 // 100


def test_when_targets_cannot_be_met_the_plan_names_who_falls_short_and_by_how_much(depot):
    # given: everybody must be ready by 20:00 under the 25 kW cap
    hub, _, _, vans = depot
    soon = dt.datetime(2026, 3, 10, 20, 0, tzinfo=BERLIN)

    # when
    plan = _solve(hub, [ChargeRequest(vehicle_id=v.pk, ready_by=soon) for v in vans])

    # then: never a silent partial plan
    assert plan.status == ChargingPlanStatus.SHORTFALL
    short = list(plan.vehicles.filter(shortfall_wh__gt=0).select_related("vehicle"))
    assert plan.short_vehicle_count == len(short) > 0
    assert plan.shortfall_wh == sum(row.shortfall_wh for row in short)
    for row in short:
        assert row.planned_wh + row.shortfall_wh == pytest.approx(row.need_wh, abs=2)
        assert row.shortfall_reason in {"site_cap", "not_enough_time"}
    # 2 h at 25 kW and 90 %: 45 kWh at most reach the batteries
    total_need = sum(row.need_wh for row in plan.vehicles.all())
    assert plan.shortfall_wh == pytest.approx(total_need - 25_000 * 2 * 0.9, abs=50)
    event = FleetEvent.objects.get(charging_plan=plan, to_status="shortfall")
    assert event.payload["short"] == {str(row.vehicle_id): row.shortfall_wh for row in short}


def test_dispatchs_route_energy_sets_the_target_with_the_reserve(depot, settings):
    hub, _, _, vans = depot
    settings.FLEET_ENERGY_RESERVE_PCT = 15

    plan = _solve(hub, [ChargeRequest(vehicle_id=vans[0].pk, energy_need_wh=30_000, soc_pct=50)])

    row = plan.vehicles.get()
    usable = 75_000 * 92 // 100
    assert row.route_energy_wh == 30_000
    assert row.target_energy_wh == 30_000 + usable * 15 // 100
    assert row.need_wh == max(0, row.target_energy_wh - usable // 2)


def test_an_unknown_state_of_charge_is_assumed_empty_and_said_so(depot):
    hub, _, _, vans = depot
    VehicleState.objects.filter(vehicle=vans[0]).update(soc_pct=None)

    plan = services.charging_plan_request(hub=hub, source="test", now=NOW, enqueue=False)

    row = plan.vehicles.get(vehicle=vans[0])
    assert row.soc_assumed
    assert row.start_soc_pct == 0
    assert "TH-EV01: state of charge unknown" in plan.message


def test_a_bike_with_no_socket_at_the_site_is_reported_not_dropped(depot):
    hub, *_ = depot
    bike = services.vehicle_create(
        code="TH-CB01", vehicle_type=CargoBikeTypeFactory(), home_hub=hub, source="test"
    )

    plan = _solve(hub, [ChargeRequest(vehicle_id=bike.pk, soc_pct=10)])

    row = plan.vehicles.get()
    assert plan.status == ChargingPlanStatus.SHORTFALL
    assert row.shortfall_reason == "no_compatible_charger"
    assert row.shortfall_wh == row.need_wh == 1_350
    assert row.charger is None


def test_broken_chargers_are_left_out(depot):
    hub, site, chargers, vans = depot
    for charger in chargers[1:]:
        charger.status = ChargerStatus.OUT_OF_ORDER
        charger.save(update_fields=["status"])
    ChargerFactory(
        site=site,
        code="DC-1",
        current=Current.DC,
        connector="ccs2",
        max_power_w=50_000,
        status=ChargerStatus.DECOMMISSIONED,
    )

    plan = _solve(hub, [ChargeRequest(vehicle_id=v.pk) for v in vans[:2]])

    used = set(plan.vehicles.values_list("charger__code", flat=True))
    assert used <= {"AC-1", None}
    assert plan.vehicles.filter(shortfall_reason="chargers_busy").count() == 1


def test_a_newer_plan_supersedes_the_older_one_for_the_same_night(depot):
    hub, *_ = depot
    first = _solve(hub)

    second = _solve(hub, now=NOW + dt.timedelta(minutes=30))

    first.refresh_from_db()
    assert first.status == ChargingPlanStatus.SUPERSEDED
    assert second.status == ChargingPlanStatus.READY
    assert list(
        FleetEvent.objects.filter(charging_plan=first).values_list("to_status", flat=True)
    ) == ["pending", "ready", "superseded"]


def test_solving_twice_changes_nothing(depot):
    hub, *_ = depot
    plan = _solve(hub)
    slots = ChargingPlanSlot.objects.count()

    again = services.charging_plan_solve(plan_id=plan.pk)
    plan_charging_task.apply(args=(plan.pk,))

    assert again.status == ChargingPlanStatus.READY
    assert ChargingPlanSlot.objects.count() == slots


def test_the_task_solves_after_commit(depot, eager_tasks, django_capture_on_commit_callbacks):
    hub, *_ = depot

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        plan = services.charging_plan_request(hub=hub, source="test", now=NOW)
        assert plan.status == ChargingPlanStatus.PENDING

    plan.refresh_from_db()
    assert len(callbacks) == 1
    assert plan.status == ChargingPlanStatus.READY
    assert plan.solver in {"SCIP", "CBC"}


def test_plan_requests_refuse_what_cannot_be_planned(depot):
    hub, site, _, vans = depot
    elsewhere = services.vehicle_create(
        code="KX-EV01", vehicle_type=VehicleTypeFactory(), home_hub=HubFactory(), source="test"
    )
    services.vehicle_send_to_maintenance(vehicle=vans[3], reason="tyres", source="test")

    with pytest.raises(ValidationFailed) as foreign:
        services.charging_plan_request(
            hub=hub, requests=[ChargeRequest(vehicle_id=elsewhere.pk)], source="t", now=NOW
        )
    with pytest.raises(ValidationFailed) as in_workshop:
        services.charging_plan_request(
            hub=hub, requests=[ChargeRequest(vehicle_id=vans[3].pk)], source="t", now=NOW
        )
    with pytest.raises(ValidationFailed) as backwards:
        services.charging_plan_request(
            hub=hub,
            requests=[ChargeRequest(vehicle_id=vans[0].pk, ready_by=NOW - dt.timedelta(hours=1))],
            source="t",
            now=NOW,
        )
    with pytest.raises(ValidationFailed) as no_site:
        services.charging_plan_request(hub=HubFactory(), source="t", now=NOW)

    assert "vehicles" in foreign.value.errors
    assert "vehicles" in in_workshop.value.errors
    assert "ready_by" in backwards.value.errors
    assert no_site.value.code == "no_charging_site"
    assert site.hub.charging_plans.count() == 0


def test_slot_prices_follow_the_hubs_local_hours_across_a_dst_change(depot):
    # given: the night the clocks go forward in Berlin (29 March 2026, 02:00 → 03:00)
    hub, *_ = depot
    evening = dt.datetime(2026, 3, 28, 21, 0, tzinfo=BERLIN)

    plan = services.charging_plan_request(hub=hub, source="test", now=evening, enqueue=False)

    # then: the night is an hour shorter and every slot carries its local hour's price
    assert plan.horizon_end - plan.horizon_start == dt.timedelta(hours=8, minutes=30)
    for index, price in enumerate(plan.prices_minor_per_mwh):
        local_hour = plan.slot_start(index).astimezone(BERLIN).hour
        assert price == PRICES[local_hour]


def test_the_command_plans_a_hub_and_prints_who_falls_short(depot):
    hub, *_ = depot
    services.vehicle_create(
        code="TH-CB01", vehicle_type=CargoBikeTypeFactory(), home_hub=hub, source="test"
    )
    out = io.StringIO()

    call_command("plan_charging", "BER-TH", "--wait", stdout=out)

    text = out.getvalue()
    assert "shortfall, 5 vehicle(s)" in text
    assert "TH-CB01: short by" in text
    with pytest.raises(CommandError, match="No hub"):
        call_command("plan_charging", "XX-00")


def test_a_plan_requested_in_the_night_covers_that_night_not_the_next(depot):
    # given: the vans are plugged in since yesterday's 18:00 and a manager re-plans at 01:00
    hub, *_ = depot
    one_am = dt.datetime(2026, 3, 11, 1, 0, tzinfo=BERLIN)

    # when
    plan = services.charging_plan_request(hub=hub, source="test", now=one_am, enqueue=False)

    # then: they charge from now until this morning's 06:30, not from tonight's 18:00
    row = plan.vehicles.get(vehicle__code="TH-EV01")
    assert row.available_from == one_am
    assert row.ready_by == dt.datetime(2026, 3, 11, 6, 30, tzinfo=BERLIN)
    assert plan.horizon_end == dt.datetime(2026, 3, 11, 6, 30, tzinfo=BERLIN)


def test_after_the_ready_time_a_plan_covers_the_coming_night(depot):
    hub, *_ = depot
    morning = dt.datetime(2026, 3, 11, 7, 0, tzinfo=BERLIN)

    plan = services.charging_plan_request(hub=hub, source="test", now=morning, enqueue=False)

    row = plan.vehicles.get(vehicle__code="TH-EV01")
    assert row.available_from == dt.datetime(2026, 3, 11, 18, 0, tzinfo=BERLIN)
    assert row.ready_by == dt.datetime(2026, 3, 12, 6, 30, tzinfo=BERLIN)


def test_a_site_without_an_operational_charger_names_every_vehicle_short(depot):
    hub, _, chargers, vans = depot
    for charger in chargers:
        charger.status = ChargerStatus.OUT_OF_ORDER
        charger.save(update_fields=["status"])

    plan = _solve(hub)

    assert plan.status == ChargingPlanStatus.SHORTFALL
    assert plan.short_vehicle_count == len(vans)
    assert set(plan.vehicles.values_list("shortfall_reason", flat=True)) == {
        "no_compatible_charger"
    }
    assert not ChargingPlanSlot.objects.filter(plan_vehicle__plan=plan).exists()
