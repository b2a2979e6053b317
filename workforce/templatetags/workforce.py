"""Template filters of the portal and the back-office: money in minor units, percentages."""

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
