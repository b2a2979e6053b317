"""Planning work survives a killed worker, a flushed queue and a Redis restart.

Real Celery workers (subprocesses) on PostgreSQL and a Redis of the test's own; the minute's
sweeper is called here in a bounded loop instead of waiting for beat.
"""

import datetime as dt
import time

import pytest
from django.db.models import Count
from django.utils import timezone

from lastmile.dispatch.models import Plan, PlanEvent, PlanPhase, PlanStatus, Stop, StopKind
from lastmile.dispatch.services import plan_request
from lastmile.dispatch.services.requests import plans_sweep
from tests.reliability.conftest import LEASE_S, SOLVE_S, hub_day, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]


def _status(plan: Plan) -> str:
    plan.refresh_from_db()
    return plan.status


def _sweep_until_done(plan: Plan, *, timeout_s: float, logs) -> None:
    """What beat does each minute, here every half second: sweep until the plan finished."""

    def finished() -> bool:
        if _status(plan) in (PlanStatus.QUEUED, PlanStatus.RUNNING):
            plans_sweep()
            return False
        return True

    wait_for(f"plan {plan.pk} to finish", finished, timeout_s=timeout_s, every_s=0.5, logs=logs)


def _assert_stored_once(plan: Plan) -> None:
    plan.refresh_from_db()
    assert plan.status == PlanStatus.READY, plan.error
    ready_moves = PlanEvent.objects.filter(
        plan=plan, kind=PlanEvent.Kind.STATUS_CHANGED, to_status=PlanStatus.READY
    )
    assert ready_moves.count() == 1
    deliveries = Stop.objects.filter(route__plan=plan, kind=StopKind.DELIVERY)
    assert deliveries.exists()
    twice = deliveries.values("order_id").annotate(n=Count("pk")).filter(n__gt=1)
    assert not twice.exists(), "an order was routed twice"
    assert plan.routes.count() == plan.vehicles_used
    assert plan.lease_owner == ""


def test_a_plan_whose_worker_is_killed_mid_solve_is_taken_over_and_stored_once(workers, tomorrow):
    # given: a worker solving a plan
    hub = hub_day(tomorrow)
    first = workers.start()
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)
    wait_for(
        "the plan to be solving",
        lambda: _status(plan) == PlanStatus.RUNNING and plan.progress_phase == PlanPhase.SOLVING,
        timeout_s=40,
        logs=workers.logs,
    )
    dead_lease = plan.lease_owner

    # when: the worker is killed mid-solve, and a new one starts
    time.sleep(SOLVE_S / 4)
    workers.kill(first)
    assert _status(plan) == PlanStatus.RUNNING
    workers.start()
    # A request meanwhile joins the run (there is one, and it will finish).
    joined = plan_request(hub=hub, service_date=tomorrow, actor=None)
    assert joined.pk == plan.pk
    assert joined.joined

    # then: while the dead worker's lease is live, the sweeper leaves it alone...
    plan.refresh_from_db()
    if plan.lease_expires_at > timezone.now() + dt.timedelta(seconds=0.5):
        assert plans_sweep().restarted == []
    # ...once it expired, the run is sent again and the new worker takes it over, once
    _sweep_until_done(plan, timeout_s=LEASE_S + SOLVE_S + 40, logs=workers.logs)
    _assert_stored_once(plan)
    assert plan.attempts == 2
    restarts = PlanEvent.objects.filter(plan=plan, kind=PlanEvent.Kind.RESTARTED)
    assert [e.payload["lost_lease"] for e in restarts] == [dead_lease]


def test_a_request_whose_message_is_flushed_from_redis_is_sent_again_and_completes(
    workers, own_redis, tomorrow
):
    # given: a request committed while no worker was up, its message waiting in Redis
    hub = hub_day(tomorrow)
    plan = plan_request(hub=hub, service_date=tomorrow, actor=None)
    wait_for(
        "the message to reach Redis",
        lambda: own_redis.client().llen("planning") == 1,
        timeout_s=10,
    )

    # when: the queue is lost, then a worker starts
    own_redis.client().flushall()
    workers.start()
    time.sleep(1)  # nothing to take: the plan stays queued
    assert _status(plan) == PlanStatus.QUEUED

    # then: the sweeper sends it again and it completes
    _sweep_until_done(plan, timeout_s=SOLVE_S + 45, logs=workers.logs)
    _assert_stored_once(plan)
    assert plan.attempts == 1


def test_a_request_lost_in_a_redis_restart_completes_via_the_sweeper(workers, own_redis, tomorrow):
    # given: a worker busy solving one plan, and a second request waiting in Redis behind it
    busy = plan_request(hub=hub_day(tomorrow), service_date=tomorrow, actor=None)
    workers.start()
    wait_for(
        "the worker to be solving",
        lambda: _status(busy) == PlanStatus.RUNNING,
        timeout_s=40,
        logs=workers.logs,
    )
    waiting = plan_request(hub=hub_day(tomorrow), service_date=tomorrow, actor=None)
    wait_for(
        "the second message to reach Redis",
        lambda: own_redis.client().llen("planning") == 1,
        timeout_s=10,
    )

    # when: Redis restarts (no persistence: the queued message is gone) under the worker
    own_redis.stop()
    own_redis.start()
    assert own_redis.client().llen("planning") == 0

    # then: the worker reconnects, and the sweeper sends the lost request again
    _sweep_until_done(busy, timeout_s=SOLVE_S + 30, logs=workers.logs)
    _sweep_until_done(waiting, timeout_s=SOLVE_S + 60, logs=workers.logs)
    _assert_stored_once(busy)
    _assert_stored_once(waiting)
