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
    # Only white space or a byte-order mark may come before the header: a page of HTML that
    # merely mentions "%PDF-" is not a PDF.
    return head.lstrip(b"\x00\t\n\r\x0c \xef\xbb\xbf").startswith(PDF_MAGIC)


def _pdf_is_complete(file: UploadedFile, size: int) -> bool:
    file.seek(max(0, size - 2048))
    return b"%%EOF" in file.read()


def _image_is_complete(image: Image.Image) -> bool:
    """Is a JPEG whole? ``verify()`` reads PNG and WebP to their end but only a JPEG's
    headers, so half an ID photo would pass. The JPEG is decoded at an eighth of its size
    (``draft``): that still reads every byte, in milliseconds and little memory."""
    if image.format != "JPEG":
        return True  # verified to the end already (a full decode could cost 100+ MB)
    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError):
        return False
    return True


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
                if not _image_is_complete(image):
                    raise ValidationError(
                        "The image seems cut off; upload the whole file.", code="invalid_image"
                    )
        digest = hashlib.sha256()
        file.seek(0)
        for chunk in file.chunks():
            digest.update(chunk)
    finally:
        file.seek(0)
    return CheckedDocument(content_type=content_type, size_bytes=size, sha256=digest.hexdigest())
