"""Template filters of the portal and the back-office: money in minor units, percentages,
durations and distances in the units people use."""

from django import template

register = template.Library()


@register.filter
def money(amount_minor: int | None, currency: str = "EUR") -> str:
    """``1234`` → ``12.34 EUR``; minor units are never shown raw."""
    if amount_minor is None:
        return "—"
    sign = "−" if amount_minor < 0 else ""
    value = abs(int(amount_minor))
    return f"{sign}{value // 100:,}.{value % 100:02d} {currency}".strip()


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


@register.filter
def hours(seconds: int | None) -> str:
    return "—" if not seconds else f"{seconds / 3600:.1f} h"


@register.filter
def clock_hours(seconds: int | None) -> str:
    """``27000`` → ``7:30 h``: a duration as people read it on a clock, never raw seconds."""
    if seconds is None:
        return "—"
    minutes = round(int(seconds) / 60)
    return f"{minutes // 60}:{minutes % 60:02d} h"


@register.filter
def km(metres: int | None) -> str:
    """``42500`` → ``42.5 km``."""
    return "—" if metres is None else f"{int(metres) / 1000:.1f} km"
