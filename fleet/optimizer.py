"""Smart charging as a mixed-integer program, and the naive plan it is measured against.

Pure: dataclasses in, dataclasses out, no Django (like the routing engine), so it is tested
and benchmarked alone. Time is cut into equal slots (15 minutes); slot 0 starts the horizon.

The model, per night at one site:

- each vehicle is plugged into one charger from its arrival until its ready time (a driver
  plugs in once; nobody re-plugs vans at 3 a.m.), so a charger serves several vehicles only
  if their stays do not overlap;
- identical chargers (same current, connector and power) form a group; a binary picks each
  vehicle's group, and at every slot no group holds more vehicles than it has chargers.
  Grouping removes the symmetry between identical chargers that would otherwise make the
  search explode; concrete chargers are handed out afterwards by interval partitioning,
  which always succeeds when the per-slot counts hold;
- power per vehicle and slot is continuous between 0 and what both charger and vehicle
  accept (grid side); the battery gains ``efficiency`` of it;
- the site's cap bounds the sum in every slot;
- energy added + shortfall = need, with the shortfall penalised far above any energy price:
  when targets cannot all be met the plan says who falls short and by how much, and is
  otherwise still the cheapest;
- objective: energy cost at the slot prices, plus the shortfall penalty, plus a tiny weight
  on the peak so that equally cheap slots are filled evenly; solved to within ``MIP_GAP``
  (0.1 %) of the optimum.

Limits worth knowing: AC chargers cannot modulate below about 6 A per phase (4 kW), which the
continuous model ignores; solutions are bang-bang in practice (full power in the cheapest
slots, one partial slot), and the cap is shared evenly only where it binds.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ortools.linear_solver import pywraplp

AC, DC = "ac", "dc"

# Why a vehicle falls short; the same codes as ``fleet.models.ShortfallReason``.
NO_COMPATIBLE_CHARGER = "no_compatible_charger"
CHARGERS_BUSY = "chargers_busy"
NOT_ENOUGH_TIME = "not_enough_time"
SITE_CAP = "site_cap"

# Objective weight of a peak watt, in minor units: far below any price difference between
# slots, so it only breaks ties between equally cheap plans.
PEAK_WEIGHT = 1e-6
# Stop once the schedule is proven within 0.1 % of the cheapest: closing the last fraction
# of a per mille can take minutes for a saving of cents (a 40-van night solves in ~1 s).
MIP_GAP = 0.001
# CBC first: on these models it proves optimality in about a second where SCIP, at the same
# gap, sometimes runs into the time limit (measured on 40-van nights with scarce chargers).
SOLVERS = ("CBC", "SCIP")


class OptimizerError(RuntimeError):
    """The solver could not produce a schedule (none installed, or it gave up)."""


class ChargingProblemError(ValueError):
    """The problem is inconsistent (a caller's bug or bad data)."""


@dataclass(frozen=True, slots=True)
class ChargerSpec:
    id: int
    current: str  # "ac" or "dc"
    connector: str
    max_power_w: int


@dataclass(frozen=True, slots=True)
class VehicleCharging:
    """One vehicle's night: when it is plugged in, when it must be done, what it needs."""

    id: int
    available_slot: int  # first slot it can charge in
    ready_slot: int  # it must be done when this slot starts (exclusive end)
    need_wh: int  # energy to add to the battery
    ac_connector: str = ""
    max_ac_power_w: int = 0
    dc_connector: str = ""
    max_dc_power_w: int = 0

    @property
    def slots(self) -> range:
        return range(self.available_slot, max(self.available_slot, self.ready_slot))


def acceptance_w(vehicle: VehicleCharging, charger: ChargerSpec) -> int:
    """Power the pair can transfer, W; 0 when the plug does not fit or the current is wrong."""
    if charger.current == AC and vehicle.ac_connector == charger.connector:
        return min(charger.max_power_w, vehicle.max_ac_power_w)
    if charger.current == DC and vehicle.dc_connector == charger.connector:
        return min(charger.max_power_w, vehicle.max_dc_power_w)
    return 0


@dataclass(frozen=True, slots=True)
class ChargingProblem:
    slot_minutes: int
    prices_minor_per_mwh: tuple[int, ...]  # one per slot
    power_cap_w: int
    efficiency: float  # share of grid energy that reaches the battery
    chargers: tuple[ChargerSpec, ...]
    vehicles: tuple[VehicleCharging, ...]

    def __post_init__(self) -> None:
        if self.slot_minutes <= 0 or not self.prices_minor_per_mwh:
            raise ChargingProblemError("the horizon needs at least one slot of positive length")
        if self.power_cap_w <= 0:
            raise ChargingProblemError("the site's power cap must be positive")
        if not 0 < self.efficiency <= 1:
            raise ChargingProblemError("efficiency must be in (0, 1]")
        if min(self.prices_minor_per_mwh) < 0:
            raise ChargingProblemError("prices cannot be negative")
        if len({v.id for v in self.vehicles}) != len(self.vehicles):
            raise ChargingProblemError("vehicle ids must be unique")
        if len({c.id for c in self.chargers}) != len(self.chargers):
            raise ChargingProblemError("charger ids must be unique")
        for v in self.vehicles:
            if v.need_wh < 0 or v.available_slot < 0 or v.ready_slot > self.slot_count:
                raise ChargingProblemError(f"vehicle {v.id}: need or window out of the horizon")

    @property
    def slot_count(self) -> int:
        return len(self.prices_minor_per_mwh)

    @property
    def slot_hours(self) -> float:
        return self.slot_minutes / 60.0

    def slot_cost_minor(self, slot: int, power_w: float) -> float:
        return power_w * self.slot_hours * self.prices_minor_per_mwh[slot] / 1_000_000


@dataclass(frozen=True, slots=True)
class VehicleSchedule:
    vehicle_id: int
    charger_id: int | None
    power_w: tuple[int, ...]  # grid-side power in every slot of the horizon
    need_wh: int
    energy_wh: float  # into the battery
    shortfall_wh: int
    shortfall_reason: str  # "" when it reaches its target
    cost_minor: float


@dataclass(frozen=True)
class ChargingSchedule:
    method: str  # "smart" or "naive"
    vehicles: tuple[VehicleSchedule, ...]
    site_load_w: tuple[int, ...]
    solver: str = ""
    solver_status: str = ""
    solve_ms: int = 0

    @property
    def peak_w(self) -> int:
        return max(self.site_load_w, default=0)

    @property
    def cost_minor(self) -> float:
        return sum(v.cost_minor for v in self.vehicles)

    @property
    def energy_wh(self) -> float:
        return sum(v.energy_wh for v in self.vehicles)

    @property
    def shortfall_wh(self) -> int:
        return sum(v.shortfall_wh for v in self.vehicles)

    @property
    def short_vehicles(self) -> tuple[VehicleSchedule, ...]:
        return tuple(v for v in self.vehicles if v.shortfall_wh > 0)

    def grid_energy_wh(self, slot_hours: float) -> float:
        return sum(self.site_load_w) * slot_hours

    def slots_over(self, cap_w: int) -> int:
        return sum(1 for load in self.site_load_w if load > cap_w)

    def by_vehicle(self) -> dict[int, VehicleSchedule]:
        return {v.vehicle_id: v for v in self.vehicles}


# --- Shared helpers ---------------------------------------------------------------------------


def _shortfall_reason(
    problem: ChargingProblem, vehicle: VehicleCharging, charger: ChargerSpec | None
) -> str:
    if not any(acceptance_w(vehicle, c) for c in problem.chargers):
        return NO_COMPATIBLE_CHARGER
    if not vehicle.slots:
        return NOT_ENOUGH_TIME  # plugged in and due within one slot: no charger would help
    if charger is None:
        return CHARGERS_BUSY
    reachable = (
        acceptance_w(vehicle, charger)
        * len(vehicle.slots)
        * problem.slot_hours
        * problem.efficiency
    )
    return NOT_ENOUGH_TIME if reachable < vehicle.need_wh - 0.5 else SITE_CAP


def _schedule_for(
    problem: ChargingProblem,
    vehicle: VehicleCharging,
    charger: ChargerSpec | None,
    power_w: list[int],
) -> VehicleSchedule:
    energy = sum(power_w) * problem.slot_hours * problem.efficiency
    # Sub-watt-hour differences are rounding, not a shortfall.
    shortfall = max(0, round(vehicle.need_wh - energy))
    return VehicleSchedule(
        vehicle_id=vehicle.id,
        charger_id=charger.id if charger else None,
        power_w=tuple(power_w),
        need_wh=vehicle.need_wh,
        energy_wh=energy,
        shortfall_wh=shortfall,
        shortfall_reason=_shortfall_reason(problem, vehicle, charger) if shortfall else "",
        cost_minor=sum(problem.slot_cost_minor(t, p) for t, p in enumerate(power_w) if p),
    )


def _site_load(problem: ChargingProblem, schedules: Iterable[VehicleSchedule]) -> tuple[int, ...]:
    load = [0] * problem.slot_count
    for schedule in schedules:
        for t, power in enumerate(schedule.power_w):
            load[t] += power
    return tuple(load)


def _charger_groups(chargers: Iterable[ChargerSpec]) -> dict[tuple, list[ChargerSpec]]:
    groups: dict[tuple, list[ChargerSpec]] = defaultdict(list)
    for charger in sorted(chargers, key=lambda c: c.id):
        groups[(charger.current, charger.connector, charger.max_power_w)].append(charger)
    return dict(groups)


# --- Naive: plug in on arrival, full power until full ----------------------------------------


def plan_naive(problem: ChargingProblem) -> ChargingSchedule:
    """Every vehicle takes the most powerful free charger that fits on arrival and charges at
    full power until it reaches its target, ignoring the cap and the prices."""
    free_from = {c.id: 0 for c in problem.chargers}
    energy_per_watt_slot = problem.slot_hours * problem.efficiency
    schedules = []
    for vehicle in sorted(problem.vehicles, key=lambda v: (v.available_slot, v.id)):
        power = [0] * problem.slot_count
        if vehicle.need_wh <= 0:
            schedules.append(_schedule_for(problem, vehicle, None, power))
            continue
        free = [
            c
            for c in problem.chargers
            if acceptance_w(vehicle, c) and free_from[c.id] <= vehicle.available_slot
        ]
        charger = max(free, key=lambda c: (acceptance_w(vehicle, c), -c.id), default=None)
        if charger is not None:
            free_from[charger.id] = vehicle.ready_slot
            full = acceptance_w(vehicle, charger)
            remaining = float(vehicle.need_wh)
            for t in vehicle.slots:
                if remaining <= 0:
                    break
                watts = min(full, math.ceil(remaining / energy_per_watt_slot))
                power[t] = watts
                remaining -= watts * energy_per_watt_slot
        schedules.append(_schedule_for(problem, vehicle, charger, power))
    schedules.sort(key=lambda s: s.vehicle_id)
    return ChargingSchedule(
        method="naive", vehicles=tuple(schedules), site_load_w=_site_load(problem, schedules)
    )


# --- Smart: the mixed-integer program ---------------------------------------------------------


def _create_solver(preferred: str | None) -> tuple[pywraplp.Solver, str]:
    for name in (preferred, *SOLVERS) if preferred else SOLVERS:
        solver = pywraplp.Solver.CreateSolver(name)
        if solver is not None:
            return solver, name
    raise OptimizerError("no mixed-integer solver (CBC or SCIP) is available in OR-Tools")


def _shortfall_penalty(problem: ChargingProblem) -> float:
    """Minor units per missing Wh: a hundred times the dearest battery Wh, at least 10."""
    dearest = max(problem.prices_minor_per_mwh) / 1_000_000 / problem.efficiency
    return max(10.0, 100.0 * dearest)


def plan_smart(
    problem: ChargingProblem, *, time_limit_s: float = 20.0, solver_name: str | None = None
) -> ChargingSchedule:
    """The cheapest schedule that respects chargers, vehicles, ready times and the site cap.

    Vehicles that cannot reach their target get as close as the cap and chargers allow and
    are reported with their shortfall and its reason. Raises :class:`OptimizerError` if the
    solver finds no solution within ``time_limit_s`` (the model always has one: all slack).
    """
    started = time.perf_counter()
    solver, used = _create_solver(solver_name)
    solver.SetTimeLimit(int(time_limit_s * 1000))
    infinity = solver.infinity()
    hours, eta = problem.slot_hours, problem.efficiency
    groups = _charger_groups(problem.chargers)
    # Each vehicle's power is rounded up to whole watts afterwards: keep that much headroom.
    cap = max(0, problem.power_cap_w - len(problem.vehicles))
    penalty = _shortfall_penalty(problem)

    objective = solver.Objective()
    slack, choice, power = {}, {}, {}
    load: dict[int, list] = defaultdict(list)
    occupancy: dict[tuple[tuple, int], list] = defaultdict(list)
    for v in problem.vehicles:
        options = {
            key: acceptance_w(v, chargers[0])
            for key, chargers in groups.items()
            if acceptance_w(v, chargers[0]) > 0
        }
        slack[v.id] = solver.NumVar(0, v.need_wh, f"short_{v.id}")
        objective.SetCoefficient(slack[v.id], penalty)
        energy = solver.Constraint(v.need_wh, v.need_wh, f"energy_{v.id}")
        energy.SetCoefficient(slack[v.id], 1)
        if v.need_wh <= 0 or not options or not v.slots:
            continue  # nothing to add, or nothing can add it: all slack
        picks = {key: solver.BoolVar(f"group_{v.id}_{n}") for n, key in enumerate(options)}
        choice[v.id] = picks
        one = solver.Constraint(0, 1, f"one_group_{v.id}")
        for var in picks.values():
            one.SetCoefficient(var, 1)
        top = max(options.values())
        # Energy only with a charger: redundant for whole assignments, but it stops the
        # relaxation from charging every vehicle fully on a fraction of a charger, which
        # otherwise leaves the solver a wide gap to close when chargers are scarce.
        only_if_assigned = solver.Constraint(-infinity, 0, f"assigned_{v.id}")
        for var in picks.values():
            only_if_assigned.SetCoefficient(var, -v.need_wh)
        for t in v.slots:
            p = solver.NumVar(0, top, f"p_{v.id}_{t}")
            power[v.id, t] = p
            energy.SetCoefficient(p, eta * hours)
            only_if_assigned.SetCoefficient(p, eta * hours)
            objective.SetCoefficient(p, problem.slot_cost_minor(t, 1.0))
            # Power only through the picked group, up to what that pair accepts.
            link = solver.Constraint(-infinity, 0, f"link_{v.id}_{t}")
            link.SetCoefficient(p, 1)
            for key, watts in options.items():
                link.SetCoefficient(picks[key], -watts)
                occupancy[key, t].append(picks[key])
            load[t].append(p)

    peak = solver.NumVar(0, cap, "peak")
    objective.SetCoefficient(peak, PEAK_WEIGHT)
    for t, terms in load.items():
        site = solver.Constraint(-infinity, 0, f"peak_{t}")
        for p in terms:
            site.SetCoefficient(p, 1)
        site.SetCoefficient(peak, -1)  # sum <= peak <= cap
    group_index = {key: n for n, key in enumerate(groups)}
    for (key, t), picks_at_t in occupancy.items():
        if len(picks_at_t) > len(groups[key]):
            solver.Add(
                solver.Sum(picks_at_t) <= len(groups[key]), f"chargers_{group_index[key]}_{t}"
            )
    objective.SetMinimization()

    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, MIP_GAP)
    status = solver.Solve(params)
    status_name = {
        pywraplp.Solver.OPTIMAL: "optimal",
        pywraplp.Solver.FEASIBLE: "feasible",
        pywraplp.Solver.INFEASIBLE: "infeasible",
        pywraplp.Solver.UNBOUNDED: "unbounded",
        pywraplp.Solver.ABNORMAL: "abnormal",
        pywraplp.Solver.NOT_SOLVED: "not_solved",
    }.get(status, str(status))
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        raise OptimizerError(f"{used} returned {status_name} after {time_limit_s:g} s")

    picked_group: dict[int, tuple] = {}
    for vehicle_id, picks in choice.items():
        for key, var in picks.items():
            if var.solution_value() > 0.5:
                picked_group[vehicle_id] = key
    chargers = _hand_out_chargers(problem, groups, picked_group)

    schedules = []
    for v in problem.vehicles:
        charger = chargers.get(v.id)
        watts = [0] * problem.slot_count
        if charger is not None:
            limit = acceptance_w(v, charger)
            for t in v.slots:
                value = power[v.id, t].solution_value()
                # Round up to whole watts (the cap kept room for it); below half a watt is
                # solver noise, not a plan.
                watts[t] = min(limit, math.ceil(value - 1e-6)) if value >= 0.5 else 0
        schedules.append(_schedule_for(problem, v, charger, watts))
    return ChargingSchedule(
        method="smart",
        vehicles=tuple(schedules),
        site_load_w=_site_load(problem, schedules),
        solver=used,
        solver_status=status_name,
        solve_ms=round((time.perf_counter() - started) * 1000),
    )


def _hand_out_chargers(
    problem: ChargingProblem,
    groups: dict[tuple, list[ChargerSpec]],
    picked_group: dict[int, tuple],
) -> dict[int, ChargerSpec]:
    """Give each vehicle a concrete charger of its group: earliest arrival first, to the
    charger that has been free longest. Never fails when no slot holds more vehicles of a
    group than it has chargers (interval graphs colour with that many colours)."""
    by_id = {v.id: v for v in problem.vehicles}
    assigned: dict[int, ChargerSpec] = {}
    for key, chargers in groups.items():
        members = sorted(
            (by_id[vid] for vid, group in picked_group.items() if group == key),
            key=lambda v: (v.available_slot, v.id),
        )
        free_from = {c.id: 0 for c in chargers}
        for vehicle in members:
            free = [c for c in chargers if free_from[c.id] <= vehicle.available_slot]
            if not free:
                raise OptimizerError(f"no free charger left in group {key} (model bug)")
            charger = min(free, key=lambda c: (free_from[c.id], c.id))
            free_from[charger.id] = vehicle.ready_slot
            assigned[vehicle.id] = charger
    return assigned
