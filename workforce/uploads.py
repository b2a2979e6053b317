"""Checks for courier documents: PDF or image, decided by the bytes, never by the file name."""

import hashlib
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from PIL import Image

from lastmile.core.uploads import validate_image_upload

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
PDF_MAGIC = b"%PDF-"
_IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class CheckedDocument:
    content_type: str
    size_bytes: int
    sha256: str


def _looks_like_pdf(file: UploadedFile) -> bool:
    file.seek(0)
    head = file.read(1024)
    # The header may follow a few junk bytes (allowed by the spec), but must be near the start.
    return PDF_MAGIC in head


def _pdf_is_complete(file: UploadedFile, size: int) -> bool:
    file.seek(max(0, size - 2048))
    return b"%%EOF" in file.read()


def check_document_upload(file: UploadedFile) -> CheckedDocument:
    """Accept a PDF or a JPEG/PNG/WebP image of at most 10 MB; anything else is refused."""
    size = file.size or 0
    if size == 0:
        raise ValidationError("The file is empty.", code="empty_file")
    if size > MAX_DOCUMENT_BYTES:
        raise ValidationError(
            "The file is %(size)s MB; the limit is 10 MB.",
            code="file_too_large",
            params={"size": round(size / 1_048_576, 1)},
        )
    try:
        if _looks_like_pdf(file):
            if not _pdf_is_complete(file, size):
                raise ValidationError(
                    "The PDF seems cut off; upload the whole file.", code="invalid_pdf"
                )
            content_type = "application/pdf"
        else:
            try:
                validate_image_upload(file, max_bytes=MAX_DOCUMENT_BYTES)
            except ValidationError:
                raise ValidationError(
                    "The file is neither a PDF nor a JPEG, PNG or WebP image.",
                    code="invalid_document",
                ) from None
            file.seek(0)
            with Image.open(file) as image:
                content_type = _IMAGE_TYPES[image.format]
        digest = hashlib.sha256()
        file.seek(0)
        for chunk in file.chunks():
            digest.update(chunk)
    finally:
        file.seek(0)
    return CheckedDocument(content_type=content_type, size_bytes=size, sha256=digest.hexdigest())
