"""Requesting and cancelling planning runs, and the one way a plan changes status.

Every move goes through :func:`plan_transition`: row lock, ``PLAN_TRANSITIONS`` check, status
and its timestamp, ``update_fields`` save and one ``PlanEvent`` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.leases import lease_released
from lastmile.core.state import transition
from lastmile.dispatch import events
from lastmile.dispatch.models import (
    PLAN_TRANSITIONS,
    REPLAN_TRANSITIONS,
    Plan,
    PlanStatus,
    Replan,
    ReplanStatus,
)

logger = logging.getLogger(__name__)

# The timestamp field set when a plan enters a status.
_STATUS_TIMESTAMPS = {
    PlanStatus.RUNNING: "started_at",
    PlanStatus.READY: "ready_at",
    PlanStatus.PUBLISHED: "published_at",
    PlanStatus.FAILED: "failed_at",
    PlanStatus.CANCELLED: "cancelled_at",
}


def plan_transition(
    plan: Plan,
    *,
    target: str,
    actor: User | None = None,
    payload: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
) -> Plan:
    """Move ``plan`` to ``target`` (the caller holds the transaction); returns the fresh row.

    Repeating the current status is a no-op without an event; a move the table does not list
    raises ``InvalidTransition``.
    """

    def record(row: Plan, previous: str, now: dt.datetime) -> None:
        events.plan_status_changed(
            plan=row,
            from_status=previous,
            to_status=target,
            actor=actor,
            payload=payload,
            occurred_at=now,
        )

    moved = transition(
        plan,
        table=PLAN_TRANSITIONS,
        entity="Plan",
        target=target,
        record=record,
        stamps=_STATUS_TIMESTAMPS,
        fields=fields,
        queryset=Plan.objects.select_related("hub"),
    )
    if moved.changed:
        logger.info(
            "plan status changed",
            extra={
                "plan": plan.pk,
                "from": moved.previous,
                "to": target,
                "hub": moved.row.hub.code,
            },
        )
    return moved.row


@transaction.atomic
def plan_cancel(*, plan: Plan, actor: User | None, reason: str = "") -> Plan:
    """Withdraw a plan that is queued, running or ready (→ cancelled).

    A queued run then does nothing when a worker takes it; a running one notices within about
    a second (the solver polls the status) and stops without storing routes. Cancelling a
    cancelled plan is a no-op; a published or failed one cannot be cancelled.
    """
    return plan_transition(
        plan, target=PlanStatus.CANCELLED, actor=actor, payload={"reason": reason} if reason else {}
    )


def plan_give_up(*, plan: Plan, reason: str) -> Plan:
    """running → failed for a plan whose worker was lost ``TASK_MAX_ATTEMPTS`` times (the
    caller holds the transaction and has checked the lease expired); ``reason`` says so."""
    return plan_transition(
        plan,
        target=PlanStatus.FAILED,
        fields={"error": reason, **lease_released()},
        payload={"lost_worker": True, "attempts": plan.attempts},
    )


def replan_transition(replan: Replan, target: str, **fields: object) -> Replan:
    """Move the locked ``replan`` to ``target`` with ``fields`` (the caller holds the row).
    Its events are the plan's: ``replan_requested`` when queued, ``replanned`` when applied;
    a failure is on the row (``error``)."""
    transition(
        replan,
        table=REPLAN_TRANSITIONS,
        entity="Replan",
        target=target,
        record=None,
        fields=fields,
        lock=False,
    )
    return replan


def replan_give_up(replan: Replan, reason: str) -> None:
    """running → failed for a re-plan whose worker was lost too often (row locked)."""
    replan_transition(
        replan, ReplanStatus.FAILED, error=reason, finished_at=timezone.now(), **lease_released()
    )
    logger.warning("replan given up", extra={"replan": replan.pk, "error": reason})
