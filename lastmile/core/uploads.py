"""Checks for uploaded images: the content decides, never the file name."""

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, UnidentifiedImageError

IMAGE_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a photo from a phone, not a decompression bomb


def validate_image_upload(file: UploadedFile, *, max_bytes: int = MAX_IMAGE_BYTES) -> None:
    """Accept a JPEG, PNG or WebP of at most ``max_bytes`` whose content really is that image."""
    if file.size is not None and file.size > max_bytes:
        raise ValidationError(
            "The image is %(size)s MB; the limit is %(limit)s MB.",
            code="file_too_large",
            params={
                "size": round(file.size / 1_048_576, 1),
                "limit": round(max_bytes / 1_048_576, 1),
            },
        )
    position = file.tell() if hasattr(file, "tell") else 0
    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(
            "The file is not a readable image (JPEG, PNG or WebP).", code="invalid_image"
        ) from None
    finally:
        file.seek(position)
    if image_format not in IMAGE_FORMATS:
        raise ValidationError(
            "Images must be JPEG, PNG or WebP, not %(format)s.",
            code="invalid_image_format",
            params={"format": image_format},
        )
    if width * height > MAX_IMAGE_PIXELS:
        raise ValidationError("The image has too many pixels.", code="image_too_large")
