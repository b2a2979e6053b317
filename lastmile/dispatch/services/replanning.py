"""Re-planning a published day while it is being driven: the run.

:func:`replan_run` (the ``dispatch.replan_hub_day`` task, on the planning queue) takes the
re-plan's lease, reads the live day (``reading``), builds the problem of what is left
(``building.replan_input_build``, where the rules live: settled stops stay, vehicles start
where they are, parcels on board stay on their vehicle and are served late rather than not
at all, an order changes route only when that saves more than ``DISPATCH_REPLAN_MOVE_COST``),
solves and checks it (``solving``) outside any transaction, and applies it as a diff
(``storing.diffs``). A failure changes nothing on the routes and is recorded on the row.
Requests, debounce and the sweeps live in ``requests``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from lastmile.core.errors import ApplicationError
from lastmile.core.leases import (
    LEASE_FIELDS,
    lease_attempts_left,
    lease_expired,
    lease_held,
    lease_lost_reason,
    lease_released,
    lease_renew,
    lease_take,
)
from lastmile.dispatch.models import (
    Replan,
    ReplanStatus,
    ReplanTrigger,
)
from lastmile.dispatch.services.building import (
    PlanningError,
    ReplanInput,
    replan_input_build,
)
from lastmile.dispatch.services.plans import replan_give_up, replan_transition
from lastmile.dispatch.services.reading import live_day_read
from lastmile.dispatch.services.requests import replan_ask
from lastmile.dispatch.services.solving import solution_check, solution_find
from lastmile.dispatch.services.storing.diffs import ReplanFailed, RoutesChanged, replan_apply
from lastmile.routing.checker import CheckReport
from lastmile.routing.params import SolverParams, throttled

logger = logging.getLogger(__name__)


# --- Requesting ----------------------------------------------------------------------------


# --- Reading the live day ------------------------------------------------------------------


# --- The routing problem of the rest of the day --------------------------------------------


# --- Running -------------------------------------------------------------------------------


@transaction.atomic
def _start(replan_id: int, now: dt.datetime) -> tuple[Replan, str] | bool | None:
    """Take the re-plan's lease: queued → running, or take over a running one whose lease
    expired (failed with the reason after ``TASK_MAX_ATTEMPTS`` starts). ``None`` if there is
    nothing to run (finished, or running under a live lease), ``False`` if another re-plan
    of the same plan is running (the caller tries again later)."""
    replan = (
        Replan.objects.select_for_update().select_related("plan__hub").filter(pk=replan_id).first()
    )
    if replan is None:
        return None
    # Leases run on the clock, whatever ``now`` the re-plan is computed for.
    if replan.status == ReplanStatus.RUNNING and lease_expired(replan, now=timezone.now()):
        if not lease_attempts_left(replan):
            replan_give_up(replan, lease_lost_reason(replan, what="re-plan"))
            return None
        owner = lease_take(replan)
        replan.save(update_fields=[*LEASE_FIELDS, "updated_at"])
        logger.warning(
            "replan taken over from a lost worker",
            extra={"replan": replan.pk, "attempt": replan.attempts},
        )
        return replan, owner
    if replan.status != ReplanStatus.QUEUED:
        return None
    if Replan.objects.filter(plan_id=replan.plan_id, status=ReplanStatus.RUNNING).exists():
        return False
    owner = lease_take(replan)
    fields = {name: getattr(replan, name) for name in LEASE_FIELDS}
    return replan_transition(replan, ReplanStatus.RUNNING, started_at=now, **fields), owner


def _fail(replan_id: int, error: str, now: dt.datetime, owner: str) -> Replan:
    with transaction.atomic():
        replan = Replan.objects.select_for_update().get(pk=replan_id)
        if replan.status == ReplanStatus.RUNNING and not lease_held(replan, owner=owner):
            return replan  # another run took it over: its outcome stands
        if replan.status in (ReplanStatus.QUEUED, ReplanStatus.RUNNING):
            replan_transition(
                replan, ReplanStatus.FAILED, error=error, finished_at=now, **lease_released()
            )
    logger.warning("replan failed", extra={"replan": replan_id, "error": error})
    return replan


def _params(data: ReplanInput, mine: QuerySet[Replan], owner: str) -> SolverParams:
    return SolverParams(
        time_limit_s=float(settings.DISPATCH_REPLAN_TIME_LIMIT_S),
        move_cost=float(settings.DISPATCH_REPLAN_MOVE_COST),
        initial_routes=data.initial_routes,
        # The lease's heartbeat; the search stops once another run took it over.
        should_stop=throttled(lambda: not lease_renew(mine, owner=owner), every_s=1.0),
    )


def _refused(report: CheckReport) -> ReplanFailed:
    return ReplanFailed(
        f"The re-plan breaks {len(report.violations)} rule(s); routes left as they were. "
        f"First: {report.violations[0]}"
    )


def replan_run(*, replan_id: int, now: dt.datetime | None = None) -> Replan | None:
    """Run a queued re-plan: read the live day, solve, check and apply; see the module.

    Returns ``None`` when it is not queued any more (a retried task) or another worker holds
    its live lease; a running re-plan whose lease expired is taken over. When another re-plan
    of the plan is running, it is left queued and the row returned: the task tries again. A
    failure changes nothing on the routes and is recorded on the row.
    """
    now = now or timezone.now()
    started_run = _start(replan_id, now)
    if not started_run:
        return None if started_run is None else Replan.objects.get(pk=replan_id)
    replan, owner = started_run
    plan = replan.plan
    mine = Replan.objects.filter(pk=replan.pk, status=ReplanStatus.RUNNING)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        day = live_day_read(plan=plan, now=now)
        if not day.routes:
            raise ReplanFailed("No route of this day is running and no vehicle is free.")
        data = replan_input_build(day)
        timings["build_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        solution = solution_find(data.problem, _params(data, mine, owner))
        timings["solve_s"] = round(time.perf_counter() - started, 3)
        report = solution_check(data.problem, solution, refused=_refused)
        return replan_apply(replan.pk, owner, data, solution, report, timings, time.perf_counter())
    except RoutesChanged as exc:
        failed = _fail(replan.pk, str(exc), now, owner)
        replan_ask(plan=plan, trigger=ReplanTrigger.RETRY, detail={"after": replan.pk})
        return failed
    except (ApplicationError, PlanningError) as exc:
        return _fail(replan.pk, str(exc), now, owner)
    except Exception as exc:
        logger.exception("replan failed unexpectedly", extra={"replan": replan.pk})
        return _fail(replan.pk, f"Unexpected error ({exc.__class__.__name__}: {exc}).", now, owner)


# --- Watching the day ----------------------------------------------------------------------
