"""Shared model bases, and the record of which Celery queues are being consumed."""

from django.conf import settings
from django.db import models

from lastmile.core.errors import ApplicationError, ErrorCode


class TimeStampedModel(models.Model):
    """Every table of ours records when a row was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AppendOnlyError(ApplicationError):
    """A record (an event, a ledger line) was about to be edited or deleted."""

    code = ErrorCode.APPEND_ONLY


class AppendOnlyModel(models.Model):
    """Rows that are records: written once, never edited or deleted through the ORM.

    Timelines and payouts are built from them (KPIs and webhooks will be), so a correction is a
    new row.
    """

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError(
                f"{self._meta.verbose_name} rows are append-only; record a new one instead."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name} rows are append-only.")


class EventModel(AppendOnlyModel):
    """One row of a timeline (an order's, a plan's, a vehicle's…): what happened, the status it
    moved from and to, who did it, its details and when.

    The columns every event table shares, so timelines, KPIs and webhooks read them alike.
    Each concrete model adds its subject (a foreign key), its ``Kind`` choices (redeclaring
    ``kind`` with them), its ordering and its (subject, time) index. Rows are written only by
    the constructors in the app's ``events.py``, one function per kind.
    """

    kind = models.CharField(max_length=32)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    # Indexed on its own for the reads across subjects (KPIs, "what happened today").
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        change = f" {self.from_status}→{self.to_status}" if self.to_status else ""
        return f"{self.get_kind_display()}{change}"


class QueueHeartbeat(models.Model):
    """The last time a worker consumed the heartbeat task of a queue.

    Celery beat sends ``core.queue_heartbeat`` to each queue every minute; a stale row means
    no worker is consuming that queue (planning stalls silently otherwise).
    """

    queue = models.CharField(max_length=64, unique=True)
    worker = models.CharField(max_length=255, blank=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["queue"]

    def __str__(self) -> str:
        return f"{self.queue} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
