"""Drivers' breaks from the working-time rule in settings, for a plan and for a live day."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from lastmile.dispatch.services.breaks import (
    break_rule,
    break_rule_parse,
    shift_breaks,
)
from lastmile.routing.problem import Break, TimeWindow

HOUR = 3600
GERMAN = break_rule_parse(rule="6:00=0:30,9:00=0:45", max_in_row="6:00")


def test_the_default_rule_is_the_german_one_and_off_plans_no_breaks(settings):
    # given / when / then
    assert break_rule() == GERMAN
    settings.DISPATCH_BREAK_RULE = "off"
    assert break_rule() is None
    assert shift_breaks(shift=TimeWindow(6 * HOUR, 21 * HOUR)) == ()


@pytest.mark.parametrize("rule", ["6=0:30", "6:00=0:30,5:00=0:45", "6:00=0:45,9:00=0:30", "x"])
def test_a_malformed_rule_is_a_configuration_error(rule):
    with pytest.raises(ImproperlyConfigured):
        break_rule_parse(rule=rule, max_in_row="6:00")


def test_a_long_shift_gets_thirty_then_fifteen_minutes_owed_after_six_and_nine_hours():
    # when
    breaks = shift_breaks(shift=TimeWindow(6 * HOUR, 21 * HOUR), rule=GERMAN)
    # then: anywhere in the shift, each within six hours of work after leaving or the last
    # break (measured from the route, not the clock)
    assert breaks == (
        Break(TimeWindow(6 * HOUR, 21 * HOUR), 1800, after_work_s=6 * HOUR, within_s=6 * HOUR),
        Break(TimeWindow(6 * HOUR, 21 * HOUR), 900, after_work_s=9 * HOUR, within_s=6 * HOUR),
    )


def test_a_shift_too_short_to_reach_a_threshold_gets_no_break_for_it():
    assert shift_breaks(shift=TimeWindow(8 * HOUR, 13 * HOUR), rule=GERMAN) == ()
    (only,) = shift_breaks(shift=TimeWindow(8 * HOUR, 16 * HOUR), rule=GERMAN)
    assert only.duration_s == 1800
