"""Writes of partners: creating, archiving and deleting them."""

from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from lastmile.core.errors import HasHistory
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
    locked = Partner.objects.select_for_update().get(pk=partner.pk)
    if locked.archived_at is not None:
        return locked
    locked.is_active, locked.archived_at = False, timezone.now()
    locked.save(update_fields=["is_active", "archived_at", "updated_at"])
    return locked


@transaction.atomic
def partner_delete(*, partner: Partner) -> None:
    """Delete a partner nothing refers to (one created by mistake).

    A partner with orders or imports is refused with ``HasHistory``: archive it instead.
    """
    locked = Partner.objects.select_for_update().get(pk=partner.pk)
    history = partner_history(partner=locked)
    if history:
        raise HasHistory.refusing(locked, history)
    try:
        locked.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise HasHistory.refusing(locked, ["rows that refer to it"]) from exc
