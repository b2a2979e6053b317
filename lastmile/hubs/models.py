"""Hubs: the depots, micro-fulfillment centres and cross-docks that routes start and end at."""

import zoneinfo
from functools import cache
from itertools import pairwise

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from lastmile.core.errors import ErrorCode
from lastmile.core.geo import coordinate_constraints, latitude_field, longitude_field
from lastmile.core.models import TimeStampedModel
from lastmile.hubs.errors import HubErrorCode


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _time_zones():
        raise ValidationError(
            "'%(value)s' is not a known IANA time zone (e.g. Europe/Berlin).",
            code=HubErrorCode.INVALID_TIME_ZONE,
            params={"value": value},
        )


class Hub(TimeStampedModel):
    class Kind(models.TextChoices):
        DEPOT = "depot", "Depot"  # the main sortation and van base of an area
        MICRO_FULFILLMENT = (
            "micro_fulfillment",
            "Micro-fulfillment centre",
        )  # small inner-city hub, bikes
        CROSS_DOCK = "cross_dock", "Cross-dock"  # transfer point, parcels do not rest overnight

    name = models.CharField(max_length=120)
    code = models.CharField(
        max_length=16,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Z0-9][A-Z0-9-]{1,15}$",
                "Use 2-16 capital letters, digits or dashes, e.g. BER-TH.",
            )
        ],
        help_text="Short operational code, e.g. BER-TH",
    )
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.DEPOT)
    address = models.CharField(max_length=255)
    latitude = latitude_field()
    longitude = longitude_field()
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA time zone of the hub's service day, e.g. Europe/Berlin",
    )
    is_active = models.BooleanField(default=True)
    # When the hub was archived: closed for good but kept, because orders, plans or pay rows
    # refer to it. Planning, imports and the board only offer active hubs.
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["code"]
        constraints = [
            *coordinate_constraints("hubs_hub"),
            models.CheckConstraint(
                condition=models.Q(archived_at__isnull=True) | models.Q(is_active=False),
                name="hubs_hub_archived_is_inactive",
                violation_error_message="An archived hub cannot be made active again.",
            ),
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^[A-Z0-9][A-Z0-9-]{1,15}$"),
                name="hubs_hub_code_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def clean(self) -> None:
        # The constraint below holds it too, but a form leaves out ``archived_at`` (not
        # editable) and so would not check it: say it next to the box instead of failing.
        if self.archived_at is not None and self.is_active:
            raise ValidationError(
                {"is_active": "An archived hub cannot be made active again."},
                code=ErrorCode.ARCHIVED,
            )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class OpeningHours(models.Model):
    """One opening interval of a hub on a weekday, in the hub's local time.

    A day may have several intervals (a lunch closure); a night shift across midnight is two
    intervals, one on each day.
    """

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    # Settings of the hub, not history: they go with a hub that may be deleted (one without
    # history); a hub with history is archived instead and keeps them.
    hub = models.ForeignKey(Hub, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        ordering = ["hub", "weekday", "opens_at"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="hubs_openinghours_closes_after_opens",
                violation_error_message="Closing time must be after opening time.",
            ),
            models.UniqueConstraint(
                fields=["hub", "weekday", "opens_at"], name="hubs_openinghours_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


def find_overlaps(intervals: list[tuple[int, object, object]]) -> list[str]:
    """Messages for intervals of the same weekday that overlap; ``[]`` when they are disjoint."""
    problems = []
    by_day: dict[int, list[tuple]] = {}
    for weekday, opens_at, closes_at in intervals:
        by_day.setdefault(weekday, []).append((opens_at, closes_at))
    for weekday, spans in sorted(by_day.items()):
        spans.sort()
        for (a_open, a_close), (b_open, b_close) in pairwise(spans):
            if b_open < a_close:
                problems.append(
                    f"{OpeningHours.Weekday(weekday).label}: {a_open:%H:%M}-{a_close:%H:%M} "
                    f"overlaps {b_open:%H:%M}-{b_close:%H:%M}."
                )
    return problems
