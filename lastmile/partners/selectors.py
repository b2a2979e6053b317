"""Reads of partners."""

from lastmile.core.errors import NotFound
from lastmile.core.history import references_to
from lastmile.partners.models import Partner


def partner_history(*, partner: Partner) -> list[str]:
    """What refers to the partner ("12 orders", "1 order import"…); ``[]`` when nothing does.

    A partner with history is archived, never deleted.
    """
    return references_to(partner)


def partner_get_by_slug(*, slug: str, active_only: bool = True) -> Partner:
    partners = Partner.objects.select_related("default_hub")
    if active_only:
        partners = partners.filter(is_active=True)
    try:
        return partners.get(slug=slug)
    except Partner.DoesNotExist:
        raise NotFound(f"No active partner with slug '{slug}'.") from None
