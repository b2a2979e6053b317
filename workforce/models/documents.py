"""Documents a courier uploads (ID, licence, insurance, right to work), stored outside the web root.

Files are only ever served by ``workforce.views.document_file`` (through
``lastmile.core.uploads.serve_upload``), to their owner and to staff
who may view documents; names on disk are random so they reveal nothing.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from lastmile.core.models import TimeStampedModel
from lastmile.core.uploads import EXTENSIONS
from workforce.models.couriers import Courier


class DocumentKind(models.TextChoices):
    ID_DOCUMENT = "id_document", "Identity card or passport"
    DRIVING_LICENCE = "driving_licence", "Driving licence"
    INSURANCE = "insurance", "Vehicle insurance"
    RIGHT_TO_WORK = "right_to_work", "Right-to-work document"


# Kinds that always carry an expiry date (a permit may be unlimited, so it is optional there).
EXPIRING_KINDS = frozenset(
    {DocumentKind.ID_DOCUMENT, DocumentKind.DRIVING_LICENCE, DocumentKind.INSURANCE}
)


class DocumentContentType(models.TextChoices):
    # Detected from the bytes, never from the name or the browser's claim.
    PDF = "application/pdf", "PDF"
    JPEG = "image/jpeg", "JPEG image"
    PNG = "image/png", "PNG image"
    WEBP = "image/webp", "WebP image"


def _document_upload_to(instance: "CourierDocument", filename: str) -> str:
    # The extension comes from the detected type; the courier's filename is not used on disk.
    extension = EXTENSIONS.get(instance.content_type, "bin")
    return f"workforce/documents/{instance.courier_id}/{uuid.uuid4().hex}.{extension}"


class CourierDocument(TimeStampedModel):
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=24, choices=DocumentKind.choices)
    file = models.FileField(upload_to=_document_upload_to, max_length=255)
    content_type = models.CharField(max_length=32, choices=DocumentContentType.choices)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=120, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    # The latest upload of its kind; an upload of the same kind supersedes the previous one.
    is_current = models.BooleanField(default=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    # Set by the daily sweep once the document expired and the courier was asked for a new one.
    expiry_flagged_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["courier", "kind", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["courier", "kind"],
                condition=Q(is_current=True),
                name="workforce_document_one_current_per_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=EXPIRING_KINDS) | Q(expires_on__isnull=False),
                name="workforce_document_expiry_required",
                violation_error_message="This document needs its expiry date.",
            ),
            models.CheckConstraint(
                condition=Q(content_type__in=DocumentContentType.values),
                name="workforce_document_content_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(size_bytes__gt=0), name="workforce_document_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(is_current=True) | Q(superseded_at__isnull=False),
                name="workforce_document_superseded_at_set",
            ),
        ]
        indexes = [
            # The daily expiry sweep reads only current, not yet flagged documents.
            models.Index(
                fields=["expires_on"],
                condition=Q(is_current=True, expiry_flagged_at__isnull=True),
                name="workforce_document_expiry_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.courier}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
