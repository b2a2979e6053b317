"""Reads of the workforce: scoped to the actor, shaped for one screen, fixed query counts.

Anything a courier addresses by id goes through a ``*_for_courier`` / ``*_for_viewer``
selector: another courier's object is "not found", never a leak.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from lastmile.accounts.models import User
from lastmile.core.errors import NotFound
from lastmile.hubs.models import Hub
from lastmile.orders.models import DeliveryAttempt
from workforce.models import (
    AvailabilitySlot,
    Courier,
    CourierDocument,
    CourierEvent,
    CourierStatus,
    CoverageNeed,
    DeliveryRating,
    DocumentKind,
    EarningEntry,
    PayoutBatch,
    PayoutStatus,
    PayRule,
    Shift,
    ShiftStatus,
    TermsAcceptance,
    Vehicle,
    WorkEligibility,
)

# --- Couriers and onboarding --------------------------------------------------------------


def courier_get_for_user(*, user: User) -> Courier:
    """The signed-in person's courier profile; staff and partners have none (404)."""
    try:
        return Courier.objects.select_related("user", "home_hub", "application").get(user=user)
    except Courier.DoesNotExist:
        raise NotFound("You have no courier profile.") from None


def required_document_kinds(*, courier: Courier) -> list[str]:
    """Which documents this courier must upload, from what they told us.

    Everyone proves their identity; a car or a fleet van needs a driving licence; an own car
    needs its insurance; without EU citizenship the right to work needs its own proof.
    """
    kinds = [DocumentKind.ID_DOCUMENT]
    if courier.vehicle in (Vehicle.CAR, Vehicle.NONE):
        kinds.append(DocumentKind.DRIVING_LICENCE)
    if courier.vehicle == Vehicle.CAR:
        kinds.append(DocumentKind.INSURANCE)
    if courier.work_eligibility and courier.work_eligibility != WorkEligibility.EU_CITIZEN:
        kinds.append(DocumentKind.RIGHT_TO_WORK)
    return kinds


def current_documents(*, courier: Courier) -> QuerySet[CourierDocument]:
    return courier.documents.filter(is_current=True).order_by("kind")


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    done: bool
    url_name: str
    detail: str = ""


def application_checklist(*, courier: Courier, today: dt.date | None = None) -> list[ChecklistItem]:
    """Every step of the application and whether it is done: the status page's "what is
    missing", and the rule ``application_submit`` enforces."""
    today = today or timezone.localdate()
    user = courier.user
    documents = {doc.kind: doc for doc in current_documents(courier=courier)}
    terms_ok = TermsAcceptance.objects.filter(
        courier=courier, version=settings.WORKFORCE_TERMS_VERSION
    ).exists()
    items = [
        ChecklistItem(
            "personal",
            "Personal details",
            all(
                [
                    user.first_name,
                    user.last_name,
                    user.phone,
                    courier.date_of_birth,
                    courier.street_address,
                    courier.postcode,
                    courier.city,
                    courier.country,
                ]
            ),
            "workforce:personal",
        ),
        ChecklistItem(
            "eligibility",
            "Work eligibility",
            bool(courier.work_eligibility and courier.nationality),
            "workforce:eligibility",
        ),
        ChecklistItem(
            "vehicle",
            "Vehicle and home hub",
            bool(courier.vehicle and courier.home_hub_id),
            "workforce:vehicle",
        ),
        ChecklistItem(
            "payout",
            "Payout account",
            bool(courier.iban_encrypted and courier.account_holder),
            "workforce:payout",
        ),
    ]
    for kind in required_document_kinds(courier=courier):
        doc = documents.get(kind)
        expired = doc is not None and doc.expires_on is not None and doc.expires_on < today
        detail = "expired: upload a new one" if expired else ("" if doc else "not uploaded")
        items.append(
            ChecklistItem(
                f"document:{kind}",
                DocumentKind(kind).label,
                doc is not None and not expired,
                "workforce:documents",
                detail,
            )
        )
    items.append(
        ChecklistItem(
            "terms",
            f"Terms (version {settings.WORKFORCE_TERMS_VERSION})",
            terms_ok,
            "workforce:terms",
        )
    )
    return items


def document_get_for_viewer(*, user: User, document_id: int) -> CourierDocument:
    """A document for its owner, or for staff allowed to view documents; else "not found"."""
    documents = CourierDocument.objects.select_related("courier")
    if not (user.is_staff and user.has_perm("workforce.view_courierdocument")):
        documents = documents.filter(courier__user=user)
    try:
        return documents.get(pk=document_id)
    except CourierDocument.DoesNotExist:
        raise NotFound("No such document.") from None


def courier_timeline(*, courier: Courier) -> QuerySet[CourierEvent]:
    return courier.events.select_related("actor").order_by("occurred_at", "pk")


# --- Availability and coverage ------------------------------------------------------------


@dataclass(frozen=True)
class CourierAvailability:
    """One active courier available at a hub between two instants (hub-local, aware)."""

    courier_id: int
    name: str
    kind: str
    vehicle: str
    skills: tuple[str, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime


def courier_availability_for(*, hub: Hub, day: dt.date) -> list[CourierAvailability]:
    """Who can work at ``hub`` on ``day``: what dispatch plans shifts and routes from.

    Only active couriers count; times are aware datetimes in the hub's zone. One query.
    """
    zone = hub.zone
    slots = (
        AvailabilitySlot.objects.filter(hub=hub, day=day, courier__status=CourierStatus.ACTIVE)
        .select_related("courier__user")
        .order_by("starts_at", "courier_id")
    )
    return [
        CourierAvailability(
            courier_id=slot.courier_id,
            name=str(slot.courier),
            kind=slot.courier.kind,
            vehicle=slot.courier.vehicle,
            skills=tuple(slot.courier.skills),
            starts_at=dt.datetime.combine(day, slot.starts_at, tzinfo=zone),
            ends_at=dt.datetime.combine(day, slot.ends_at, tzinfo=zone),
        )
        for slot in slots
    ]


@dataclass(frozen=True)
class CoverageHour:
    hour: int
    available: Decimal  # courier-hours declared in this hour (2.5 = two and a half couriers)
    needed: int

    @property
    def gap(self) -> Decimal:
        return self.available - self.needed

    @property
    def status(self) -> str:
        if self.needed == 0:
            return "none"
        return "short" if self.available < self.needed else "covered"


def _overlap_hours(start: dt.time, end: dt.time, hour: int) -> Decimal:
    """How much of the hour ``[hour, hour+1)`` the interval covers, in hours (0 to 1)."""
    start_min = start.hour * 60 + start.minute
    end_min = end.hour * 60 + end.minute
    overlap = min(end_min, (hour + 1) * 60) - max(start_min, hour * 60)
    return Decimal(max(0, overlap)) / 60


def hub_coverage(*, hub: Hub, day: dt.date) -> list[CoverageHour]:
    """Per hour of ``day``: courier-hours available (active couriers) against the hub's need."""
    slots = list(
        AvailabilitySlot.objects.filter(
            hub=hub, day=day, courier__status=CourierStatus.ACTIVE
        ).values_list("starts_at", "ends_at")
    )
    needs = list(
        CoverageNeed.objects.filter(hub=hub, weekday=day.weekday()).values_list(
            "starts_at", "ends_at", "couriers"
        )
    )
    hours = []
    for hour in range(24):
        available = sum((_overlap_hours(s, e, hour) for s, e in slots), Decimal(0))
        needed = max((count for s, e, count in needs if _overlap_hours(s, e, hour) > 0), default=0)
        hours.append(
            CoverageHour(hour=hour, available=available.quantize(Decimal("0.01")), needed=needed)
        )
    return hours


def courier_upcoming_availability(*, courier: Courier) -> QuerySet[AvailabilitySlot]:
    return (
        courier.availability.filter(day__gte=timezone.localdate())
        .select_related("hub")
        .order_by("day", "starts_at")
    )


def courier_next_availability(
    *, courier: Courier, now: dt.datetime | None = None
) -> AvailabilitySlot | None:
    """The courier's next declared slot that has not ended yet (hub-local times)."""
    now = timezone.localtime(now)
    return (
        courier.availability.filter(
            Q(day__gt=now.date()) | Q(day=now.date(), ends_at__gt=now.time())
        )
        .select_related("hub")
        .order_by("day", "starts_at")
        .first()
    )


# --- Performance --------------------------------------------------------------------------


@dataclass(frozen=True)
class CourierPerformance:
    """Figures for one courier over a period, each computed from recorded events."""

    stops: int
    deliveries: int
    first_attempts: int
    first_attempt_successes: int
    on_time: int
    worked_s: int
    rating_avg: float | None
    rating_count: int

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def on_time_rate(self) -> float | None:
        """Share of deliveries handed over inside the order's window, in percent."""
        return self._rate(self.on_time, self.deliveries)

    @property
    def first_attempt_success_rate(self) -> float | None:
        """Share of first attempts that delivered, in percent."""
        return self._rate(self.first_attempt_successes, self.first_attempts)

    @property
    def stops_per_hour(self) -> float | None:
        """Attempts made per hour worked on completed shifts."""
        return round(self.stops / (self.worked_s / 3600), 1) if self.worked_s else None


DEFAULT_PERFORMANCE_DAYS = 28


def _period(
    since: dt.datetime | None, until: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    until = until or timezone.now()
    return since or until - dt.timedelta(days=DEFAULT_PERFORMANCE_DAYS), until


def couriers_with_performance(
    couriers: QuerySet[Courier],
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[Courier]:
    """Annotate each courier with the counts :class:`CourierPerformance` is built from.

    Correlated subqueries, one per figure, inside the list's single query: a page of couriers
    costs one query whatever its length. Stops are the orders app's delivery attempts made
    by the courier's user (``DeliveryAttempt.courier``) — dispatch records stops through the
    same attempt services, so it plugs in without change; worked time is completed shifts;
    ratings are customers' ratings of those attempts.
    """
    since, until = _period(since, until)
    attempts = DeliveryAttempt.objects.filter(
        courier=OuterRef("user_id"), attempted_at__gte=since, attempted_at__lt=until
    )
    attempts_by_courier = attempts.order_by().values("courier")
    delivered = Q(outcome=DeliveryAttempt.Outcome.DELIVERED)
    shifts = (
        Shift.objects.filter(
            courier=OuterRef("pk"),
            status=ShiftStatus.COMPLETED,
            started_at__gte=since,
            started_at__lt=until,
        )
        .order_by()
        .values("courier")
        .annotate(s=Sum("worked_s"))
        .values("s")
    )
    ratings = DeliveryRating.objects.filter(
        courier=OuterRef("pk"), rated_at__gte=since, rated_at__lt=until
    ).order_by()
    return couriers.annotate(
        perf_stops=_count(attempts_by_courier),
        perf_deliveries=_count(attempts_by_courier.filter(delivered)),
        perf_first_attempts=_count(attempts_by_courier.filter(number=1)),
        perf_first_successes=_count(attempts_by_courier.filter(delivered, number=1)),
        perf_on_time=_count(
            attempts_by_courier.filter(
                delivered,
                attempted_at__gte=F("order__window_start"),
                attempted_at__lte=F("order__window_end"),
            )
        ),
        perf_worked_s=Coalesce(Subquery(shifts, output_field=IntegerField()), Value(0)),
        perf_rating_avg=Subquery(ratings.values("courier").annotate(a=Avg("stars")).values("a")),
        perf_rating_count=_count(ratings.values("courier")),
    )


def _count(grouped: QuerySet) -> Coalesce:
    return Coalesce(
        Subquery(grouped.annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
        Value(0),
    )


def performance_of(courier: Courier) -> CourierPerformance:
    """Build the figures from a courier annotated by :func:`couriers_with_performance`."""
    avg = courier.perf_rating_avg
    return CourierPerformance(
        stops=courier.perf_stops,
        deliveries=courier.perf_deliveries,
        first_attempts=courier.perf_first_attempts,
        first_attempt_successes=courier.perf_first_successes,
        on_time=courier.perf_on_time,
        worked_s=courier.perf_worked_s or 0,
        rating_avg=round(float(avg), 2) if avg is not None else None,
        rating_count=courier.perf_rating_count,
    )


def courier_performance(
    *,
    courier: Courier,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> CourierPerformance:
    """One courier's figures over a period (default: the last 28 days). One query."""
    annotated = couriers_with_performance(
        Courier.objects.filter(pk=courier.pk), since=since, until=until
    ).get()
    return performance_of(annotated)


# --- Pay ----------------------------------------------------------------------------------


def pay_rule_for(*, hub_id: int, courier_kind: str, day: dt.date) -> PayRule | None:
    """The rule in force for a courier kind at a hub on a day (the latest that started)."""
    return (
        PayRule.objects.filter(hub_id=hub_id, courier_kind=courier_kind, valid_from__lte=day)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=day))
        .prefetch_related("peaks")
        .order_by("-valid_from")
        .first()
    )


def courier_earnings(*, courier: Courier, limit: int = 100) -> QuerySet[EarningEntry]:
    return courier.earnings.select_related("batch__week").order_by("-earned_at", "-pk")[:limit]


def courier_open_balance(*, courier: Courier) -> int:
    """Minor units earned and not yet paid out: entries of no batch yet, and entries whose
    batch the bank has not confirmed (closed, on hold, approved, exported). A closed week is
    money still owed to the courier, not money they have."""
    unpaid = Q(batch__isnull=True) | ~Q(batch__status=PayoutStatus.PAID)
    return courier.earnings.filter(unpaid).aggregate(t=Sum("amount_minor"))["t"] or 0


def courier_payout_batches(*, courier: Courier) -> QuerySet[PayoutBatch]:
    return courier.payout_batches.select_related("week").order_by("-week__week_start")


def payout_batch_get_for_courier(*, courier: Courier, batch_id: int) -> PayoutBatch:
    """A courier's own batch; another courier's is "not found"."""
    try:
        return PayoutBatch.objects.select_related("week").get(courier=courier, pk=batch_id)
    except PayoutBatch.DoesNotExist:
        raise NotFound("No such payout.") from None


def unpaid_attempts() -> QuerySet[DeliveryAttempt]:
    """Delivery attempts by a courier's user that have no stop entry in the ledger yet."""
    from workforce.models import EarningKind, EarningSource

    paid = EarningEntry.objects.filter(
        source_type=EarningSource.DELIVERY_ATTEMPT, source_id=OuterRef("pk"), kind=EarningKind.STOP
    )
    return (
        DeliveryAttempt.objects.filter(courier__courier__isnull=False)
        .filter(~Exists(paid))
        .select_related("order", "courier__courier")
        .order_by("pk")
    )
