"""Drivers' breaks from the working-time rule in settings, as the routing engine's breaks.

The rule (``DISPATCH_BREAK_RULE``) says how much break time a day of so much work owes, in
steps: 30 minutes after more than 6 hours, 45 in all after more than 9. Each step becomes one
``routing.Break`` of the difference, owed only by a route working longer than the step's
threshold, so a short route plans no break. No more than ``DISPATCH_BREAK_MAX_WORK_IN_ROW``
of work goes without a pause: each break starts within that much work after the route leaves
or the break before ends.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from lastmile.routing.problem import Break, TimeWindow

OFF = {"", "off", "none"}


@dataclass(frozen=True, slots=True)
class BreakRule:
    """Break time owed by working time: ``steps`` of (more than this much work, this much
    break in all), thresholds rising; never more than ``max_in_row_s`` of work unbroken."""

    steps: tuple[tuple[int, int], ...]
    max_in_row_s: int

    @property
    def pieces(self) -> list[tuple[int, int]]:
        """(owed after this much work, duration) of each break the steps add up to."""
        out, before = [], 0
        for after_s, total_s in self.steps:
            out.append((after_s, total_s - before))
            before = total_s
        return out


def _duration_s(text: str, *, setting: str) -> int:
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ImproperlyConfigured(f"{setting}: durations look like 6:00 or 0:30, got {text!r}")
    return int(hours) * 3600 + int(minutes) * 60


def break_rule_parse(*, rule: str, max_in_row: str) -> BreakRule | None:
    """``"6:00=0:30,9:00=0:45"`` → a ``BreakRule``; empty or "off" → None (no breaks).

    Raises ``ImproperlyConfigured`` when a step is malformed, thresholds or totals do not
    rise, or the limit of unbroken work is not positive.
    """
    if rule.strip().lower() in OFF:
        return None
    steps = []
    for part in rule.split(","):
        after, sep, total = part.partition("=")
        if not sep:
            raise ImproperlyConfigured(f"DISPATCH_BREAK_RULE steps look like 6:00=0:30: {part!r}")
        steps.append(
            (
                _duration_s(after, setting="DISPATCH_BREAK_RULE"),
                _duration_s(total, setting="DISPATCH_BREAK_RULE"),
            )
        )
    thresholds = [after for after, _ in steps]
    totals = [0] + [total for _, total in steps]
    rising = all(a < b for a, b in itertools.pairwise(thresholds))
    if not rising or not all(a < b for a, b in itertools.pairwise(totals)):
        raise ImproperlyConfigured(
            f"DISPATCH_BREAK_RULE: work and break time must both rise step by step: {rule!r}"
        )
    limit = _duration_s(max_in_row, setting="DISPATCH_BREAK_MAX_WORK_IN_ROW")
    if limit <= 0:
        raise ImproperlyConfigured("DISPATCH_BREAK_MAX_WORK_IN_ROW must be positive")
    return BreakRule(tuple(steps), limit)


def break_rule() -> BreakRule | None:
    """The rule in settings, or None where breaks are off."""
    return break_rule_parse(
        rule=settings.DISPATCH_BREAK_RULE, max_in_row=settings.DISPATCH_BREAK_MAX_WORK_IN_ROW
    )


def shift_breaks(*, shift: TimeWindow, rule: BreakRule | None = None) -> tuple[Break, ...]:
    """The breaks a driver of this shift may owe under ``rule`` (default: settings).

    Break k lasts the k-th step's extra break time and is owed after its threshold of work;
    each starts within the unbroken limit of work after the route leaves or the break before
    ends (``Break.within_s``), anywhere in the shift: measured from the route, so a route
    leaving late pauses late. A step the shift is too short to reach is left out.
    """
    rule = rule if rule is not None else break_rule()
    if rule is None:
        return ()
    longest = shift.end_s - shift.start_s
    return tuple(
        Break(shift, duration_s, after_work_s=after_s, within_s=rule.max_in_row_s)
        for after_s, duration_s in rule.pieces
        if after_s < longest
    )
