"""Writes of partners."""

from django.db import transaction

from lastmile.hubs.models import Hub
from lastmile.partners.models import Partner


@transaction.atomic
def partner_create(
    *,
    name: str,
    slug: str,
    kind: str = Partner.Kind.MERCHANT,
    default_hub: Hub | None = None,
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
) -> Partner:
    """Create a partner after full validation (unique slug, valid phone and email)."""
    partner = Partner(
        name=name,
        slug=slug,
        kind=kind,
        default_hub=default_hub,
        contact_name=contact_name,
        contact_email=contact_email,
        contact_phone=contact_phone,
    )
    partner.full_clean()
    partner.save()
    return partner
