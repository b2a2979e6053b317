"""Partners: the merchants, marketplaces and carriers that hand us parcels to deliver."""

from django.core.exceptions import ValidationError
from django.db import models
from phonenumber_field.modelfields import PhoneNumberField

from lastmile.core.errors import ErrorCode
from lastmile.core.models import TimeStampedModel


class Partner(TimeStampedModel):
    class Kind(models.TextChoices):
        MERCHANT = "merchant", "Merchant"  # a shop shipping its own orders
        MARKETPLACE = "marketplace", "Marketplace"  # orders of many sellers under one contract
        CARRIER = "carrier", "Carrier"  # a parcel network handing over its last mile

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MERCHANT)
    contact_name = models.CharField(max_length=120, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = PhoneNumberField(blank=True)
    default_hub = models.ForeignKey(
        "hubs.Hub",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="default_for_partners",
        help_text="Hub that receives this partner's orders unless an order names another",
    )
    is_active = models.BooleanField(default=True)
    # When the partner was archived: no longer served but kept, because its orders and imports
    # refer to it. Imports and partner look-ups only accept active partners.
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(archived_at__isnull=True) | models.Q(is_active=False),
                name="partners_partner_archived_is_inactive",
                violation_error_message="An archived partner cannot be made active again.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The constraint below holds it too, but a form leaves out ``archived_at`` (not
        # editable) and so would not check it: say it next to the box instead of failing.
        if self.archived_at is not None and self.is_active:
            raise ValidationError(
                {"is_active": "An archived partner cannot be made active again."},
                code=ErrorCode.ARCHIVED,
            )
