"""Smart charging plans: request one for a hub's night, solve it, store it, supersede the old.

``charging_plan_request`` fixes the inputs (who charges, from when, by when, how much) in the
database and enqueues ``fleet.plan_charging``; ``charging_plan_solve`` runs the optimiser
outside any transaction and writes the result in one. Dispatch will pass each vehicle's
route energy as ``ChargeRequest.energy_need_wh``; until then the target is a full battery.
"""

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fleet import events
from fleet.errors import FleetErrorCode
from fleet.models import (
    CHARGING_PLAN_TRANSITIONS,
    ELECTRIC_KINDS,
    SLOT_MINUTES,
    SOLVED_STATUSES,
    Charger,
    ChargerStatus,
    ChargingPlan,
    ChargingPlanSlot,
    ChargingPlanStatus,
    ChargingPlanVehicle,
    ChargingSite,
    Vehicle,
    VehicleStatus,
)
from fleet.optimizer import (
    ChargingProblem,
    ChargingSchedule,
    OptimizerError,
    VehicleCharging,
    plan_naive,
    plan_smart,
)
from fleet.selectors import charger_spec, tariff_hourly_prices, vehicle_state_or_none
from lastmile.accounts.models import User
from lastmile.core.errors import NotFound, ValidationFailed
from lastmile.core.leases import (
    LEASE_FIELDS,
    SweepResult,
    lease_attempts_left,
    lease_expired,
    lease_held,
    lease_length,
    lease_lost_reason,
    lease_released,
    lease_take,
    leases_sweep,
)
from lastmile.core.state import transition
from lastmile.hubs.models import Hub

logger = logging.getLogger(__name__)

MAX_HORIZON = dt.timedelta(hours=48)
# Far above any vehicle's battery, far below the integer columns the plan stores it in.
MAX_ENERGY_NEED_WH = 10_000_000
SOLVER_TIME_LIMIT_S = 20.0
_SLOT = dt.timedelta(minutes=SLOT_MINUTES)


@dataclass(frozen=True)
class ChargeRequest:
    """One vehicle's night as the caller knows it; anything left ``None`` takes the default.

    ``energy_need_wh`` is the energy tomorrow's route needs (dispatch knows it); the target
    is then that plus the reserve, capped at the usable battery. Without it: a full battery.
    """

    vehicle_id: int
    energy_need_wh: int | None = None
    available_from: dt.datetime | None = None
    ready_by: dt.datetime | None = None
    soc_pct: Decimal | float | None = None


def _slot_floor(moment: dt.datetime) -> dt.datetime:
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return moment - (moment - epoch) % _SLOT


def _slot_ceil(moment: dt.datetime) -> dt.datetime:
    floor = _slot_floor(moment)
    return floor if floor == moment else floor + _SLOT


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC)


def _next_local(after: dt.datetime, at: dt.time, zone) -> dt.datetime:
    """The first ``at`` (local wall time in ``zone``) strictly after ``after``, in UTC."""
    day = timezone.localtime(after, zone).date()
    for offset in range(3):
        candidate = dt.datetime.combine(day + dt.timedelta(days=offset), at, tzinfo=zone)
        if candidate > after:
            return candidate.astimezone(dt.UTC)
    raise AssertionError("unreachable: a wall time recurs within three days")


def _night_start(site: ChargingSite, now: dt.datetime) -> dt.datetime:
    """When the night to plan began or begins (UTC): the night under way, if ``now`` falls
    between an arrival time and the ready time after it, else the next arrival time.

    Re-planning at 01:00 (a charger broke) is about the vans plugged in since 18:00 and due
    at 06:30, not about the next evening.
    """
    zone = site.hub.zone
    today = timezone.localtime(now, zone).date()
    last = dt.datetime.combine(today, site.default_arrival_time, tzinfo=zone)
    if last > now:
        last = dt.datetime.combine(
            today - dt.timedelta(days=1), site.default_arrival_time, tzinfo=zone
        )
    if _next_local(last, site.default_ready_time, zone) > now:
        return last.astimezone(dt.UTC)
    return _next_local(now, site.default_arrival_time, zone)


def _eligible_vehicles(hub: Hub) -> list[Vehicle]:
    return list(
        Vehicle.objects.filter(
            home_hub=hub, status=VehicleStatus.ACTIVE, vehicle_type__kind__in=sorted(ELECTRIC_KINDS)
        )
        .select_related("vehicle_type", "state")
        .order_by("code")
    )


def _plan_rows(
    *,
    site: ChargingSite,
    vehicles: list[Vehicle],
    requests: dict[int, ChargeRequest],
    now: dt.datetime,
    horizon_start: dt.datetime,
    reserve_pct: int,
) -> list[ChargingPlanVehicle]:
    zone = site.hub.zone
    arrival = _night_start(site, now)
    errors: dict[str, list[str]] = {}
    rows = []
    for vehicle in vehicles:
        request = requests.get(vehicle.pk) or ChargeRequest(vehicle_id=vehicle.pk)
        naive = [
            name
            for name in ("available_from", "ready_by")
            if getattr(request, name) is not None and timezone.is_naive(getattr(request, name))
        ]
        for name in naive:
            errors.setdefault(name, []).append(f"{vehicle.code}: include a time zone.")
        if naive:
            continue
        # All arithmetic in UTC: two times in one local zone subtract as wall-clock times,
        # which is an hour off across a DST change.
        available_from = max(horizon_start, _utc(request.available_from) or arrival)
        ready_by = _utc(request.ready_by) or _next_local(
            available_from, site.default_ready_time, zone
        )
        if ready_by <= available_from:
            errors.setdefault("ready_by", []).append(
                f"{vehicle.code}: ready by {ready_by:%Y-%m-%d %H:%M} is not after it is "
                f"plugged in ({available_from:%Y-%m-%d %H:%M})."
            )
        elif ready_by - horizon_start > MAX_HORIZON:
            errors.setdefault("ready_by", []).append(
                f"{vehicle.code}: plans cover at most 48 hours ahead."
            )
        state = vehicle_state_or_none(vehicle)
        soc = request.soc_pct if request.soc_pct is not None else (state and state.soc_pct)
        soc_assumed = soc is None
        soc = Decimal(str(soc if soc is not None else 0)).quantize(Decimal("0.1"))
        if not soc.is_finite() or not Decimal(0) <= soc <= Decimal(100):
            errors.setdefault("soc_pct", []).append(f"{vehicle.code}: must be 0-100 %.")
            continue
        if request.energy_need_wh is not None and not (
            0 <= request.energy_need_wh <= MAX_ENERGY_NEED_WH
        ):
            errors.setdefault("energy_need_wh", []).append(
                f"{vehicle.code}: must be between 0 and {MAX_ENERGY_NEED_WH} Wh."
            )
            continue
        usable = vehicle.vehicle_type.usable_battery_wh
        start_energy = int(usable * soc / 100)
        if request.energy_need_wh is None:
            target = usable
        else:
            target = min(usable, request.energy_need_wh + usable * reserve_pct // 100)
        rows.append(
            ChargingPlanVehicle(
                vehicle=vehicle,
                available_from=available_from,
                ready_by=ready_by,
                start_soc_pct=soc,
                soc_assumed=soc_assumed,
                start_energy_wh=start_energy,
                target_energy_wh=target,
                route_energy_wh=request.energy_need_wh,
                need_wh=max(0, target - start_energy),
            )
        )
    if errors:
        raise ValidationFailed("Some vehicles' charging inputs are invalid.", errors=errors)
    return rows


@transaction.atomic
def charging_plan_request(
    *,
    hub: Hub,
    requests: Sequence[ChargeRequest] | None = None,
    now: dt.datetime | None = None,
    source: str,
    actor: User | None = None,
    enqueue: bool = True,
) -> ChargingPlan:
    """Fix a night's charging inputs for ``hub`` and have the optimiser plan it.

    Vehicles: every active electric vehicle based at the hub, or exactly those ``requests``
    name. Defaults: plugged in from the site's arrival time (or now, if later), ready by its
    next ready time, state of charge from telematics (0 % assumed, and flagged, when
    unknown), target a full usable battery. Slot prices, cap, efficiency and reserve are
    copied into the plan. With ``enqueue`` the solve runs as ``fleet.plan_charging`` after
    commit; otherwise the caller runs :func:`charging_plan_solve`.
    """
    site = ChargingSite.objects.select_related("hub", "tariff").filter(hub=hub).first()
    if site is None:
        raise ValidationFailed(
            f"{hub.code} has no charging site.",
            code=FleetErrorCode.NO_CHARGING_SITE,
            errors={"hub": ["Set up the hub's charging site (power cap, tariff) first."]},
        )
    now = (now or timezone.now()).astimezone(dt.UTC)
    vehicles = _eligible_vehicles(hub)
    by_request = {request.vehicle_id: request for request in requests or ()}
    if requests is not None:
        if len(by_request) != len(requests):
            codes = {vehicle.pk: vehicle.code for vehicle in vehicles}
            counts = Counter(request.vehicle_id for request in requests)
            twice = sorted(pk for pk, count in counts.items() if count > 1)
            raise ValidationFailed(
                "Each vehicle can be planned once per request.",
                errors={
                    "vehicles": [
                        f"{codes.get(pk, f'Vehicle {pk}')} is named more than once." for pk in twice
                    ]
                },
            )
        known = {vehicle.pk for vehicle in vehicles}
        unknown = sorted(set(by_request) - known)
        if unknown:
            raise ValidationFailed(
                "Only active electric vehicles of this hub can be planned.",
                errors={"vehicles": [f"Vehicle {pk} is not one of them." for pk in unknown]},
            )
        vehicles = [vehicle for vehicle in vehicles if vehicle.pk in by_request]
    if not vehicles:
        raise ValidationFailed(
            f"{hub.code} has no active electric vehicle to charge.", code=FleetErrorCode.NO_VEHICLES
        )
    horizon_start = _slot_ceil(now)
    reserve_pct = settings.FLEET_ENERGY_RESERVE_PCT
    rows = _plan_rows(
        site=site,
        vehicles=vehicles,
        requests=by_request,
        now=now,
        horizon_start=horizon_start,
        reserve_pct=reserve_pct,
    )
    horizon_end = _slot_ceil(max(row.ready_by for row in rows))
    hourly = tariff_hourly_prices(tariff=site.tariff)
    slot_count = int((horizon_end - horizon_start) / _SLOT)
    prices = [
        hourly[timezone.localtime(horizon_start + _SLOT * i, hub.zone).hour]
        for i in range(slot_count)
    ]
    plan = ChargingPlan(
        hub=hub,
        status=ChargingPlanStatus.PENDING,
        status_changed_at=now,
        horizon_start=horizon_start,
        horizon_end=horizon_end,
        slot_minutes=SLOT_MINUTES,
        power_cap_w=site.power_cap_w,
        prices_minor_per_mwh=prices,
        currency=site.tariff.currency,
        efficiency_pct=settings.FLEET_CHARGING_EFFICIENCY_PCT,
        reserve_pct=reserve_pct,
        requested_by=actor if actor is not None and actor.is_authenticated else None,
        source=source,
        # Sent on commit; the sweeper sends it again if no worker took it in time.
        sent_at=now,
        vehicle_count=len(rows),
        message="; ".join(
            f"{row.vehicle.code}: state of charge unknown, 0 % assumed"
            for row in rows
            if row.soc_assumed
        ),
    )
    plan.full_clean()
    plan.save()
    for row in rows:
        row.plan = plan
    ChargingPlanVehicle.objects.bulk_create(rows)
    events.charging_plan_requested(plan=plan, vehicle_count=len(rows), source=source, actor=actor)
    if enqueue:
        transaction.on_commit(lambda: _enqueue(plan))
    return plan


def _enqueue(plan: ChargingPlan) -> None:
    from fleet.tasks import plan_charging_task

    plan_charging_task.delay(plan.pk)


def _problem(plan: ChargingPlan, rows: list[ChargingPlanVehicle], chargers: list[Charger]):
    def slot_of(moment: dt.datetime, *, up: bool) -> int:
        slots = (moment - plan.horizon_start) / dt.timedelta(minutes=plan.slot_minutes)
        return max(0, min(plan.slot_count, math.ceil(slots) if up else math.floor(slots)))

    vehicles = []
    for row in rows:
        vt = row.vehicle.vehicle_type
        vehicles.append(
            VehicleCharging(
                id=row.vehicle_id,
                # Plugged in mid-slot: from the next slot; ready mid-slot: done the slot before.
                available_slot=slot_of(row.available_from, up=True),
                ready_slot=slot_of(row.ready_by, up=False),
                need_wh=row.need_wh,
                ac_connector=vt.ac_connector,
                max_ac_power_w=vt.max_ac_power_w,
                dc_connector=vt.dc_connector,
                max_dc_power_w=vt.max_dc_power_w,
            )
        )
    return ChargingProblem(
        slot_minutes=plan.slot_minutes,
        prices_minor_per_mwh=tuple(plan.prices_minor_per_mwh),
        power_cap_w=plan.power_cap_w,
        efficiency=plan.efficiency_pct / 100,
        chargers=tuple(charger_spec(c) for c in chargers),
        vehicles=tuple(vehicles),
    )


def _move(
    plan: ChargingPlan, *, target: str, source: str, payload: dict | None = None
) -> ChargingPlan:
    """Move ``plan`` to ``target`` with its event (the caller holds the transaction and has
    saved its other changes); returns the fresh row, a repeated move returning it unchanged."""
    now = timezone.now()
    return transition(
        plan,
        table=CHARGING_PLAN_TRANSITIONS,
        entity="Charging plan",
        target=target,
        record=lambda row, previous, at: events.charging_plan_status_changed(
            plan=row,
            from_status=previous,
            to_status=target,
            source=source,
            payload=payload,
            occurred_at=at,
        ),
        fields={"status_changed_at": now},
        queryset=ChargingPlan.objects.select_related("hub"),
        now=now,
    ).row


def charging_plan_solve(*, plan_id: int, time_limit_s: float = SOLVER_TIME_LIMIT_S) -> ChargingPlan:
    """Solve a pending plan and store the schedule; any other status is returned untouched.

    The run first takes the plan's lease (``core.leases``): a plan another worker is solving
    under a live lease is returned untouched, one whose lease expired (its worker died) is
    taken over, or failed with the reason after ``TASK_MAX_ATTEMPTS`` starts. The optimiser
    runs outside a transaction (it may take seconds); the result is written in one, only
    while this run still holds the lease, so a re-delivered task does no harm. The plan ends ``ready`` (every target met), ``shortfall``
    (rows name who is short, by how much and why) or ``failed`` (the solver gave up; the
    message says why). Older solved plans of the hub whose night overlaps are superseded.
    """
    try:
        plan = ChargingPlan.objects.select_related("hub").get(pk=plan_id)
    except ChargingPlan.DoesNotExist:
        raise NotFound("No such charging plan.") from None
    if plan.status != ChargingPlanStatus.PENDING:
        return plan
    owner = _lease_take(plan.pk, time_limit_s=time_limit_s)
    if owner is None:
        return ChargingPlan.objects.select_related("hub").get(pk=plan.pk)
    rows = list(plan.vehicles.select_related("vehicle__vehicle_type").order_by("vehicle__code"))
    chargers = list(
        Charger.objects.filter(site__hub=plan.hub, status=ChargerStatus.OPERATIONAL).order_by("pk")
    )
    problem = _problem(plan, rows, chargers)
    smart: ChargingSchedule | None = None
    failure = ""
    try:
        smart = plan_smart(problem, time_limit_s=time_limit_s)
    except OptimizerError as exc:
        failure = str(exc)
        logger.warning("charging plan failed", extra={"plan": plan.pk, "reason": failure})
    naive = plan_naive(problem)

    with transaction.atomic():
        locked = ChargingPlan.objects.select_for_update().select_related("hub").get(pk=plan.pk)
        if locked.status != ChargingPlanStatus.PENDING or not lease_held(locked, owner=owner):
            return locked
        for name, value in lease_released().items():
            setattr(locked, name, value)
        locked.save(update_fields=[*lease_released(), "updated_at"])
        _store_naive(locked, naive)
        if smart is None:
            locked.message = "; ".join(filter(None, [locked.message, failure]))
            locked.save(update_fields=[*_NAIVE_FIELDS, "message", "updated_at"])
            return _move(locked, target=ChargingPlanStatus.FAILED, source="system")
        _store_smart(locked, rows, smart, problem)
        short = smart.short_vehicles
        locked = _move(
            locked,
            target=ChargingPlanStatus.SHORTFALL if short else ChargingPlanStatus.READY,
            source="system",
            payload={"short": {str(v.vehicle_id): v.shortfall_wh for v in short}},
        )
        return _supersede_overlapping(locked)


@transaction.atomic
def _lease_take(plan_id: int, *, time_limit_s: float) -> str | None:
    """The lease's owner for this run, or ``None`` when the plan is not this run's to solve
    (solved meanwhile, solved by a worker with a live lease, or given up now)."""
    locked = ChargingPlan.objects.select_for_update().get(pk=plan_id)
    now = timezone.now()
    if locked.status != ChargingPlanStatus.PENDING:
        return None
    if locked.lease_owner and not lease_expired(locked, now=now):
        logger.info("charging plan is being solved elsewhere", extra={"plan": plan_id})
        return None
    if locked.lease_owner and not lease_attempts_left(locked):
        _give_up(locked, lease_lost_reason(locked, what="charging plan"))
        return None
    owner = lease_take(locked, now=now)
    # One optimiser call, no heartbeat inside it: the lease covers the whole solve.
    solve_s = dt.timedelta(seconds=time_limit_s + 30)
    locked.lease_expires_at = now + max(lease_length(), solve_s)
    locked.save(update_fields=[*LEASE_FIELDS, "updated_at"])
    return owner


def _give_up(plan: ChargingPlan, reason: str) -> None:
    """pending → failed for a plan whose worker was lost too often (row locked)."""
    plan.message = "; ".join(filter(None, [plan.message, reason]))
    for name, value in lease_released().items():
        setattr(plan, name, value)
    plan.save(update_fields=["message", *lease_released(), "updated_at"])
    _move(plan, target=ChargingPlanStatus.FAILED, source="system", payload={"lost_worker": True})


def charging_plans_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Each minute: pending plans no worker took (a lost message) are sent again, and those
    whose solving worker died (lease expired) are sent again to be taken over, or failed
    with the reason after ``TASK_MAX_ATTEMPTS`` starts (``core.leases``)."""
    pending = ChargingPlan.objects.filter(status=ChargingPlanStatus.PENDING)
    return leases_sweep(
        waiting=pending.filter(lease_owner=""),
        running=pending.exclude(lease_owner=""),
        send=_enqueue,
        give_up=_give_up,
        what="charging plan",
        now=now,
    )


_NAIVE_FIELDS = ["naive_cost_minor", "naive_peak_w", "naive_shortfall_wh", "naive_load_w"]


def _store_naive(plan: ChargingPlan, naive: ChargingSchedule) -> None:
    plan.naive_cost_minor = round(naive.cost_minor)
    plan.naive_peak_w = naive.peak_w
    plan.naive_shortfall_wh = naive.shortfall_wh
    plan.naive_load_w = list(naive.site_load_w)


def _store_smart(
    plan: ChargingPlan,
    rows: list[ChargingPlanVehicle],
    smart: ChargingSchedule,
    problem: ChargingProblem,
) -> None:
    by_vehicle = smart.by_vehicle()
    slots = []
    for row in rows:
        result = by_vehicle[row.vehicle_id]
        row.charger_id = result.charger_id
        row.planned_wh = round(result.energy_wh)
        row.shortfall_wh = result.shortfall_wh
        row.shortfall_reason = result.shortfall_reason
        row.cost_minor = round(result.cost_minor)
        slots.extend(
            ChargingPlanSlot(plan_vehicle=row, slot_index=t, power_w=power)
            for t, power in enumerate(result.power_w)
            if power > 0
        )
    ChargingPlanVehicle.objects.bulk_update(
        rows, ["charger", "planned_wh", "shortfall_wh", "shortfall_reason", "cost_minor"]
    )
    ChargingPlanSlot.objects.bulk_create(slots, batch_size=2000)
    plan.short_vehicle_count = len(smart.short_vehicles)
    plan.shortfall_wh = smart.shortfall_wh
    plan.energy_wh = round(smart.energy_wh)
    plan.grid_energy_wh = round(smart.grid_energy_wh(problem.slot_hours))
    plan.cost_minor = round(smart.cost_minor)
    plan.peak_w = smart.peak_w
    plan.solver, plan.solver_status, plan.solve_ms = (
        smart.solver,
        smart.solver_status,
        smart.solve_ms,
    )
    plan.solved_at = timezone.now()
    plan.save(
        update_fields=[
            "short_vehicle_count",
            "shortfall_wh",
            "energy_wh",
            "grid_energy_wh",
            "cost_minor",
            "peak_w",
            "solver",
            "solver_status",
            "solve_ms",
            "solved_at",
            *_NAIVE_FIELDS,
            "updated_at",
        ]
    )


def _supersede_overlapping(plan: ChargingPlan) -> ChargingPlan:
    """One plan per hub and night: a newer request replaces older ones whose nights overlap.

    Plans can finish out of order (two workers); the one requested last wins either way.
    Returns ``plan`` as it is now (superseded itself when a newer plan was solved first).
    """
    overlapping = (
        ChargingPlan.objects.select_for_update()
        .filter(
            hub=plan.hub,
            status__in=SOLVED_STATUSES,
            horizon_start__lt=plan.horizon_end,
            horizon_end__gt=plan.horizon_start,
        )
        .exclude(pk=plan.pk)
        .order_by("pk")
    )
    for other in overlapping:
        if other.pk < plan.pk:
            _move(
                other,
                target=ChargingPlanStatus.SUPERSEDED,
                source="system",
                payload={"by_plan": plan.pk},
            )
        else:
            plan = _move(
                plan,
                target=ChargingPlanStatus.SUPERSEDED,
                source="system",
                payload={"by_plan": other.pk},
            )
    return plan


@transaction.atomic
def charging_plan_fail(*, plan: ChargingPlan, reason: str) -> ChargingPlan:
    """Give up on a pending plan (e.g. its task ran out of time), saying why."""
    locked = ChargingPlan.objects.select_for_update().get(pk=plan.pk)
    if locked.status != ChargingPlanStatus.PENDING:
        return locked
    locked.message = "; ".join(filter(None, [locked.message, reason]))
    locked.save(update_fields=["message", "updated_at"])
    return _move(locked, target=ChargingPlanStatus.FAILED, source="system")
