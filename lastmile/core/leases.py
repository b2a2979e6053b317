"""Leases on background work, so a lost message or a killed worker cannot leave a row stuck.

A row a worker runs (a plan, a re-plan, a charging plan) holds a lease while it is worked:
the run that starts it takes the lease (``lease_take``), renews it as it goes
(``lease_renew``, written with its progress) and writes its result only while it still holds
it (``lease_held``). A lease not renewed for ``TASK_LEASE_S`` means the worker died; a
re-delivered task may then take it over, a live lease never (no two workers on one row).
``leases_sweep`` (run each minute by each app's sweeper task) sends again the work still
waiting ``TASK_RESEND_AFTER_S`` after its task was sent, and restarts the work whose lease
expired, or gives it up with a reason once it has been started ``TASK_MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)


class LeasedWork(models.Model):
    """The fields a row worked by a background task needs to be swept and taken over."""

    lease_owner = models.CharField(
        max_length=64, blank=True, help_text="The run holding the lease (empty: nobody)"
    )
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Renewed while the run works; past it, the run is lost"
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Runs started, restarts after a lost worker included"
    )
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was last sent to the broker"
    )

    class Meta:
        abstract = True


Row = TypeVar("Row", bound=LeasedWork)
LEASE_FIELDS = ["lease_owner", "lease_expires_at", "attempts"]


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=float(settings.TASK_LEASE_S))


def lease_expired(row: LeasedWork, *, now: dt.datetime) -> bool:
    """No lease at all counts as expired: a row left running by code before leases existed."""
    return row.lease_expires_at is None or row.lease_expires_at <= now


def lease_attempts_left(row: LeasedWork) -> bool:
    return row.attempts < int(settings.TASK_MAX_ATTEMPTS)


def lease_take(row: LeasedWork, *, now: dt.datetime | None = None) -> str:
    """Give ``row`` (locked by the caller) to a new run: a fresh owner, an expiry, one more
    attempt. Sets the fields only; the caller saves them (``LEASE_FIELDS``) with its move.

    The caller decides whether it may: a row waiting for a worker, or a running one whose
    lease expired (``lease_expired``) and has attempts left (``lease_attempts_left``).
    """
    now = now or timezone.now()
    row.lease_owner = uuid.uuid4().hex
    row.lease_expires_at = now + lease_length()
    row.attempts += 1
    return row.lease_owner


def lease_renew(queryset: QuerySet, *, owner: str) -> bool:
    """Extend the lease of the one row in ``queryset`` if ``owner`` still holds it.

    ``queryset`` carries the caller's conditions (its pk, "still running"); False means the
    run must stop: the row moved on (cancelled, finished) or another run took it over.
    """
    expires = timezone.now() + lease_length()
    return queryset.filter(lease_owner=owner).update(lease_expires_at=expires) == 1


def lease_held(row: LeasedWork, *, owner: str) -> bool:
    """For a run about to write its result or failure, with the row locked: False once
    another run took the row over (its outcome stands, not this one's)."""
    return row.lease_owner == owner


def lease_released() -> dict[str, object]:
    """The fields that end a lease, for the final move's ``update_fields``."""
    return {"lease_owner": "", "lease_expires_at": None}


def lease_lost_reason(row: LeasedWork, *, what: str) -> str:
    """The error a row given up on carries, for the person who asked for it."""
    return (
        f"The worker running this {what} stopped {row.attempts} time(s) without finishing, "
        "so it was given up. Request it again."
    )


@dataclass
class SweepResult:
    resent: list[int] = field(default_factory=list)  # waiting work sent again
    restarted: list[int] = field(default_factory=list)  # lost runs sent again to be taken over
    given_up: list[int] = field(default_factory=list)  # lost too often: failed with the reason

    def __len__(self) -> int:
        return len(self.resent) + len(self.restarted) + len(self.given_up)


def leases_sweep(
    *,
    waiting: QuerySet[Row],
    running: QuerySet[Row],
    send: Callable[[Row], None],
    give_up: Callable[[Row, str], None],
    what: str,
    now: dt.datetime | None = None,
) -> SweepResult:
    """Send again the lost work of one kind of row; see the module.

    ``waiting`` are the rows whose task should have started them (queued, pending),
    ``running`` those a run holds. A row is sent again at most every
    ``TASK_RESEND_AFTER_S``; ``send`` is called after commit. ``give_up(row, reason)`` fails
    a row (locked, in the sweep's transaction) whose worker was lost ``TASK_MAX_ATTEMPTS``
    times. Rows another transaction holds locked are skipped until the next sweep.
    """
    now = now or timezone.now()
    resend_before = now - dt.timedelta(seconds=float(settings.TASK_RESEND_AFTER_S))
    not_sent_lately = Q(sent_at__isnull=True) | Q(sent_at__lt=resend_before)
    result = SweepResult()
    with transaction.atomic():
        for row in (
            waiting.filter(not_sent_lately).select_for_update(skip_locked=True).order_by("pk")
        ):
            result.resent.append(row.pk)
            _send(row, send, now)
        lost = running.filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        for row in lost.select_for_update(skip_locked=True).order_by("pk"):
            if not lease_attempts_left(row):
                give_up(row, lease_lost_reason(row, what=what))
                result.given_up.append(row.pk)
            elif row.sent_at is None or row.sent_at < resend_before:
                result.restarted.append(row.pk)
                _send(row, send, now)
    if result:
        logger.warning(
            "lost background work swept",
            extra={
                "what": what,
                "resent": result.resent,
                "restarted": result.restarted,
                "given_up": result.given_up,
            },
        )
    return result


def _send(row: LeasedWork, send: Callable, now: dt.datetime) -> None:
    type(row).objects.filter(pk=row.pk).update(sent_at=now)
    transaction.on_commit(lambda: send(row))
