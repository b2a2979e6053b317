"""The plan's timeline (``PlanEvent``); rows are written only by ``lastmile.dispatch.events``."""

from django.db import models

from lastmile.core.models import EventModel
from lastmile.dispatch.models.plans import Plan


class PlanEvent(EventModel):
    """The plan's timeline: one row per request, join and status change; never edited."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", "Requested"
        JOINED = "joined", "Joined a run already going"
        STATUS_CHANGED = "status_changed", "Status changed"
        SUPERSEDED = "superseded", "Replaced by a newer plan"
        ROUTE_DISPATCHED = "route_dispatched", "Route handed to a courier"
        STOP_MOVED = "stop_moved", "Stop moved to another route"
        OFFER_SENT = "offer_sent", "Route offered to a courier"
        OFFER_ANSWERED = "offer_answered", "Courier answered or offer expired"
        OFFER_WITHDRAWN = "offer_withdrawn", "Offer withdrawn: the courier may no longer drive"
        NO_COURIER = "no_courier", "No courier left to offer a route to"
        COURIER_BARRED = "courier_barred", "Courier barred while driving the route"
        REPLAN_REQUESTED = "replan_requested", "Re-plan requested"
        REPLANNED = "replanned", "Re-planned during the day"
        RESTARTED = "restarted", "Restarted after its worker was lost"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)

    class Meta:
        ordering = ["plan", "occurred_at", "pk"]
        indexes = [models.Index(fields=["plan", "occurred_at"], name="dispatch_event_timeline")]
