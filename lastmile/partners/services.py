"""Writes of partners: creating, archiving and deleting them."""

from django.db import transaction

from lastmile.core.history import row_archive, row_delete_unless_history
from lastmile.hubs.models import Hub
from lastmile.partners.models import Partner
from lastmile.partners.selectors import partner_history


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


@transaction.atomic
def partner_archive(*, partner: Partner) -> Partner:
    """Archive the partner: inactive for good, kept with its orders and imports.

    Imports and partner look-ups accept only active partners. Archiving twice changes nothing.
    """
    return row_archive(partner)


@transaction.atomic
def partner_delete(*, partner: Partner) -> None:
    """Delete a partner nothing refers to (one created by mistake).

    A partner with orders or imports is refused with ``HasHistory``: archive it instead.
    """
    row_delete_unless_history(partner, history=lambda locked: partner_history(partner=locked))
