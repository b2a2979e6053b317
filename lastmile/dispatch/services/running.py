"""One planning run: build the problem from the database, solve, check, store the routes.

``plan_run`` is what the ``dispatch.plan_hub_day`` task calls. Only the final store is a
transaction; progress is written as plain autocommitted updates while the solver runs, so a
dispatcher watching the plan sees the bar move. The run holds the plan's lease
(``core.leases``), renewed with the progress and once a second while solving; a run that lost
it (its worker stalled past the lease and another took over) stores nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from lastmile.core.errors import ApplicationError
from lastmile.core.leases import (
    lease_attempts_left,
    lease_expired,
    lease_held,
    lease_length,
    lease_lost_reason,
    lease_released,
    lease_renew,
    lease_take,
)
from lastmile.dispatch import events
from lastmile.dispatch.models import (
    Plan,
    PlanPhase,
    PlanStatus,
)
from lastmile.dispatch.services.building import planning_input_build
from lastmile.dispatch.services.plans import plan_give_up, plan_transition
from lastmile.dispatch.services.solving import InfeasiblePlan, solution_check, solution_find
from lastmile.dispatch.services.storing.plans import plan_store
from lastmile.routing.matrix import MatrixError
from lastmile.routing.params import SolverParams, throttled
from lastmile.routing.problem import ProblemError
from lastmile.routing.solution import Progress

logger = logging.getLogger(__name__)

# Errors worth retrying later: the database or the routing server was briefly unreachable.
# The plan fails either way (it never stays "running"); these are re-raised so the worker
# reports them, and a new request runs again.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, MatrixError)
PROGRESS_EVERY_S = 0.5
CANCEL_POLL_EVERY_S = 1.0
# One progress bar for the whole run: where each phase starts, in percent.
PHASE_START_PCT = {
    PlanPhase.BUILDING: 0,
    PlanPhase.SOLVING: 5,
    PlanPhase.CHECKING: 90,
    PlanPhase.STORING: 95,
    PlanPhase.DONE: 100,
}


@dataclass
class _ProgressWriter:
    """Writes phase and percent to the plan row, at most every ``every_s`` while solving."""

    plan_id: int
    owner: str
    every_s: float = PROGRESS_EVERY_S
    _last: float = field(default=float("-inf"))
    _pct: int = -1

    def phase(self, phase: str) -> None:
        self._write(phase, PHASE_START_PCT[phase])

    def solving(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        span = PHASE_START_PCT[PlanPhase.CHECKING] - PHASE_START_PCT[PlanPhase.SOLVING]
        fraction = min(max(progress.fraction, 0.0), 1.0)
        pct = PHASE_START_PCT[PlanPhase.SOLVING] + int(span * fraction)
        if pct != self._pct:
            self._write(PlanPhase.SOLVING, pct)

    def _write(self, phase: str, pct: int) -> None:
        self._last, self._pct = time.monotonic(), pct
        # A plain UPDATE, committed at once outside any transaction of the run; filtered on
        # "running" and this run's lease so a cancelled, finished or taken-over plan keeps
        # its figures. It is the lease's heartbeat too.
        now = timezone.now()
        self._mine().filter(lease_owner=self.owner).update(
            progress_phase=phase,
            progress_pct=pct,
            progress_updated_at=now,
            lease_expires_at=now + lease_length(),
        )

    def _mine(self):
        return Plan.objects.filter(pk=self.plan_id, status=PlanStatus.RUNNING)

    def keep_going(self) -> bool:
        """Renew the lease; False once the plan was cancelled or another run took it over."""
        return lease_renew(self._mine(), owner=self.owner)


def _lease_fields(plan: Plan) -> dict:
    return {
        "lease_owner": plan.lease_owner,
        "lease_expires_at": plan.lease_expires_at,
        "attempts": plan.attempts,
    }


@transaction.atomic
def _start(plan_id: int) -> tuple[Plan, str] | None:
    """Take the plan's lease and return it with the lease's owner, or ``None`` (a no-op).

    A queued plan moves to running. A running plan whose lease expired (its worker died) is
    taken over and restarted with a ``restarted`` event, or failed with the reason once it
    was started ``TASK_MAX_ATTEMPTS`` times. A running plan whose lease is live belongs to
    another worker and is left alone, as is a plan gone, finished or cancelled.
    """
    plan = Plan.objects.select_for_update().filter(pk=plan_id).first()
    now = timezone.now()
    if plan is not None and plan.status == PlanStatus.QUEUED:
        owner = lease_take(plan, now=now)
        running = plan_transition(
            plan,
            target=PlanStatus.RUNNING,
            fields={"progress_phase": PlanPhase.BUILDING, "progress_pct": 0, **_lease_fields(plan)},
        )
        return running, owner
    if plan is not None and plan.status == PlanStatus.RUNNING and lease_expired(plan, now=now):
        if not lease_attempts_left(plan):
            plan_give_up(plan=plan, reason=lease_lost_reason(plan, what="plan"))
            return None
        lost_owner = plan.lease_owner
        owner = lease_take(plan, now=now)
        plan.progress_phase, plan.progress_pct = PlanPhase.BUILDING, 0
        plan.save(
            update_fields=[*_lease_fields(plan), "progress_phase", "progress_pct", "updated_at"]
        )
        events.plan_restarted(plan=plan, lost_owner=lost_owner, occurred_at=now)
        logger.warning(
            "plan run taken over from a lost worker",
            extra={"plan": plan.pk, "attempt": plan.attempts},
        )
        return Plan.objects.select_related("hub").get(pk=plan.pk), owner
    logger.info(
        "plan run skipped",
        extra={"plan": plan_id, "status": plan.status if plan else "missing"},
    )
    return None


def _fail(plan_id: int, *, error: str, owner: str, fields: dict | None = None) -> Plan:
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan_id)
        if plan.status not in (PlanStatus.QUEUED, PlanStatus.RUNNING):
            return plan  # cancelled meanwhile: the dispatcher's decision stands
        if plan.status == PlanStatus.RUNNING and not lease_held(plan, owner=owner):
            return plan  # another run took it over: its outcome stands
        return plan_transition(
            plan,
            target=PlanStatus.FAILED,
            fields={"error": error, **lease_released(), **(fields or {})},
        )


def _params(progress: _ProgressWriter) -> SolverParams:
    return SolverParams(
        time_limit_s=float(settings.DISPATCH_TIME_LIMIT_S),
        progress=progress.solving,
        # The solver polls this constantly; one small update a second is plenty. It renews
        # the lease, and stops the search once the plan was cancelled or taken over.
        should_stop=throttled(lambda: not progress.keep_going(), every_s=CANCEL_POLL_EVERY_S),
    )


def _failed(plan_id: int, owner: str, exc: Exception) -> Plan:
    """Fail the run with what went wrong: the checker's verdict, bad data or setup (the
    message says what), a transient error (the caller re-raises it), or anything else, a bug
    or an exhausted time limit: the run must not stay "running" forever, so the plan fails
    with the error text and the traceback goes to the log."""
    if isinstance(exc, InfeasiblePlan):
        logger.error("plan infeasible", extra={"plan": plan_id, "violations": exc.extra})
        return _fail(
            plan_id,
            error=exc.message,
            owner=owner,
            fields={"feasible": False, "violations_count": len(exc.extra["violations"])},
        )
    if isinstance(exc, ApplicationError | ProblemError):
        logger.warning("plan failed", extra={"plan": plan_id, "error": str(exc)})
        return _fail(plan_id, error=str(exc), owner=owner)
    if isinstance(exc, TRANSIENT_ERRORS):
        logger.warning("plan failed on a transient error", extra={"plan": plan_id})
        error = f"Temporary failure ({exc.__class__.__name__}: {exc}); plan again."
        return _fail(plan_id, error=error, owner=owner)
    logger.exception("plan failed unexpectedly", extra={"plan": plan_id})
    return _fail(plan_id, error=f"Unexpected error ({exc.__class__.__name__}: {exc}).", owner=owner)


def plan_run(*, plan_id: int) -> Plan | None:
    """Run a queued plan: build, solve, check and store it, ending ready, failed or cancelled.

    Idempotent: a plan that is not queued (already run, cancelled, running under a live
    lease) is left alone and ``None`` returned; a running plan whose lease expired is taken
    over and run again (see ``_start``). A cancel during the solve stops the search and
    stores nothing, as does losing the lease to another run. A plan the independent checker
    finds infeasible is failed, never made ready. Any error fails the plan with its text;
    only transient ones are re-raised. Orders keep their status (publishing plans them).
    """
    started_run = _start(plan_id)
    if started_run is None:
        return None
    plan, owner = started_run
    progress = _ProgressWriter(plan.pk, owner)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        progress.phase(PlanPhase.BUILDING)
        data = planning_input_build(hub=plan.hub, service_date=plan.service_date)
        timings["build_s"] = round(time.perf_counter() - started, 3)

        started = time.perf_counter()
        progress.phase(PlanPhase.SOLVING)
        solution = solution_find(data.problem, _params(progress))
        timings["solve_s"] = round(time.perf_counter() - started, 3)
        if not progress.keep_going():
            logger.info("plan run stopped: cancelled or taken over", extra={"plan": plan.pk})
            return Plan.objects.get(pk=plan.pk)

        progress.phase(PlanPhase.CHECKING)
        report = solution_check(data.problem, solution)

        progress.phase(PlanPhase.STORING)
        return plan_store(
            plan_id=plan.pk, owner=owner, data=data, solution=solution, report=report,
            timings=timings,
        )  # fmt: skip
    except TRANSIENT_ERRORS as exc:
        _failed(plan.pk, owner, exc)
        raise
    except Exception as exc:  # noqa: BLE001 - every failure ends the run; _failed logs it
        return _failed(plan.pk, owner, exc)
