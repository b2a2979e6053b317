"""Reads of partners."""

from lastmile.core.errors import NotFound
from lastmile.partners.models import Partner


def partner_get_by_slug(*, slug: str, active_only: bool = True) -> Partner:
    partners = Partner.objects.select_related("default_hub")
    if active_only:
        partners = partners.filter(is_active=True)
    try:
        return partners.get(slug=slug)
    except Partner.DoesNotExist:
        raise NotFound(f"No active partner with slug '{slug}'.") from None
