"""Every file a user uploads is checked here by its content, and served back only through
:func:`serve_upload`; every file we generate (payout CSV and bank files) is sent through
:func:`download_response`.

The bytes decide the type, never the file name or the browser's claim: an upload is stored
under a name and extension derived from the detected type, and served with that type, the
``nosniff`` and sandboxing headers, inline only when it is a raster image a browser cannot
execute. Archives (XLSX order files) are checked member by member before anything unpacks them.
"""

import hashlib
import zipfile
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpResponse, HttpResponseBase
from django.utils.http import content_disposition_header
from PIL import Image, UnidentifiedImageError

from lastmile.core.errors import ErrorCode

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a photo from a phone, not a decompression bomb
PDF_MAGIC = b"%PDF-"
OCTET_STREAM = "application/octet-stream"
# Pillow's format name -> (content type, extension on disk).
IMAGE_TYPES = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
EXTENSIONS = {
    "application/pdf": "pdf",
    **dict(IMAGE_TYPES.values()),
    OCTET_STREAM: "bin",
}
# Raster images a browser only ever paints: the one kind shown inline. Everything else
# (PDF, anything unrecognised) is downloaded, so it never runs in our origin.
INLINE_TYPES = frozenset(content_type for content_type, _ in IMAGE_TYPES.values())
# Sent with every served upload: no MIME sniffing, and even a file a browser opens is a
# sandboxed document that may load nothing and run nothing.
UPLOAD_CSP = "sandbox; default-src 'none'"
# Before "%PDF-" a PDF may only carry white space or a byte-order mark; an HTML page that
# merely mentions "%PDF-" is not a PDF.
_PDF_LEADING = b"\x00\t\n\r\x0c \xef\xbb\xbf"


@dataclass(frozen=True)
class CheckedUpload:
    """What the content of an accepted upload is, as detected from its bytes."""

    content_type: str
    size_bytes: int
    sha256: str

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def _size_check(file: UploadedFile, *, max_bytes: int, what: str) -> int:
    size = file.size or 0
    if size == 0:
        raise ValidationError("The file is empty.", code=ErrorCode.EMPTY_FILE)
    if size > max_bytes:
        raise ValidationError(
            "The %(what)s is %(size)s MB; the limit is %(limit)s MB.",
            code=ErrorCode.FILE_TOO_LARGE,
            params={
                "what": what,
                "size": f"{size / 1_048_576:.1f}",
                "limit": f"{max_bytes / 1_048_576:g}",
            },
        )
    return size


def _sha256(file: UploadedFile) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def _image_content_type(file: UploadedFile) -> str:
    """The image's content type, if it is a whole JPEG, PNG or WebP of sane dimensions.

    ``verify()`` reads PNG and WebP to their end but only a JPEG's headers, so half a photo
    would pass: a JPEG is also decoded at an eighth of its size (``draft``), which still reads
    every byte, in milliseconds and little memory.
    """
    not_an_image = ValidationError(
        "The file is not a readable image (JPEG, PNG or WebP).", code=ErrorCode.INVALID_IMAGE
    )
    errors = (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    )
    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except errors:
        raise not_an_image from None
    if image_format not in IMAGE_TYPES:
        raise ValidationError(
            "Images must be JPEG, PNG or WebP, not %(format)s.",
            code=ErrorCode.INVALID_IMAGE_FORMAT,
            params={"format": image_format},
        )
    if width * height > MAX_IMAGE_PIXELS:
        raise ValidationError("The image has too many pixels.", code=ErrorCode.IMAGE_TOO_LARGE)
    if image_format == "JPEG":
        try:
            file.seek(0)
            with Image.open(file) as image:
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
        except errors:
            raise ValidationError(
                "The image seems cut off; upload the whole file.", code=ErrorCode.IMAGE_TRUNCATED
            ) from None
    return IMAGE_TYPES[image_format][0]


def check_image_upload(file: UploadedFile, *, max_bytes: int = MAX_IMAGE_BYTES) -> CheckedUpload:
    """Accept a whole JPEG, PNG or WebP of at most ``max_bytes`` whose content really is that
    image (proofs of delivery); anything else raises ``ValidationError``."""
    size = _size_check(file, max_bytes=max_bytes, what="image")
    try:
        content_type = _image_content_type(file)
        return CheckedUpload(content_type=content_type, size_bytes=size, sha256=_sha256(file))
    finally:
        file.seek(0)


def check_document_upload(
    file: UploadedFile, *, max_bytes: int = MAX_DOCUMENT_BYTES
) -> CheckedUpload:
    """Accept a whole PDF or JPEG/PNG/WebP image of at most ``max_bytes`` (courier documents);
    anything else raises ``ValidationError``."""
    size = _size_check(file, max_bytes=max_bytes, what="file")
    try:
        file.seek(0)
        if file.read(1024).lstrip(_PDF_LEADING).startswith(PDF_MAGIC):
            file.seek(max(0, size - 2048))
            if b"%%EOF" not in file.read():
                raise ValidationError(
                    "The PDF seems cut off; upload the whole file.", code=ErrorCode.INVALID_PDF
                )
            content_type = "application/pdf"
        else:
            try:
                content_type = _image_content_type(file)
            except ValidationError as exc:
                if exc.code == ErrorCode.IMAGE_TRUNCATED:
                    raise
                raise ValidationError(
                    "The file is neither a PDF nor a JPEG, PNG or WebP image.",
                    code=ErrorCode.INVALID_DOCUMENT,
                ) from None
        return CheckedUpload(content_type=content_type, size_bytes=size, sha256=_sha256(file))
    finally:
        file.seek(0)


def check_zip_archive(
    file: IO[bytes],
    *,
    max_members: int,
    max_member_bytes: int,
    max_total_bytes: int,
    max_ratio: int,
) -> None:
    """Refuse a ZIP (an XLSX) whose members would unpack to too much, from its directory alone.

    Sizes and compression ratios are read from the central directory (``infolist``) before
    any member is decompressed, so a bomb costs no more than reading its index. The reader
    (``zipfile``) stops at the declared size, so a member that lies about it cannot unpack
    further. Raises ``ValidationError`` (``archive_too_large``) or ``zipfile.BadZipFile``.
    """
    with zipfile.ZipFile(file) as archive:
        members = archive.infolist()
    too_large = ValidationError(
        "The file unpacks to more than %(limit)s MB; split it into smaller files.",
        code=ErrorCode.ARCHIVE_TOO_LARGE,
        params={"limit": max_total_bytes // 1_048_576},
    )
    if len(members) > max_members:
        raise ValidationError(
            "The file holds %(count)s parts; a spreadsheet has at most %(limit)s.",
            code=ErrorCode.ARCHIVE_TOO_MANY_MEMBERS,
            params={"count": len(members), "limit": max_members},
        )
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > max_member_bytes or total > max_total_bytes:
            raise too_large
        # Real spreadsheets compress about 10:1; small parts are left alone (their ratio
        # says nothing and they cost nothing).
        if member.file_size > 1_048_576 and member.file_size > max_ratio * max(
            member.compress_size, 1
        ):
            raise ValidationError(
                "The file is packed suspiciously tightly (%(name)s); save it again from your "
                "spreadsheet program.",
                code=ErrorCode.ARCHIVE_RATIO,
                params={"name": member.filename[:80]},
            )


def sniff_content_type(head: bytes) -> str:
    """The type of stored bytes by their signature: an image or PDF we accept, else a blob."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.lstrip(_PDF_LEADING).startswith(PDF_MAGIC):
        return "application/pdf"
    return OCTET_STREAM


def _harden(response: HttpResponseBase) -> HttpResponseBase:
    # No MIME sniffing, a sandboxed document if a browser opens it anyway, and no copy kept
    # by a shared cache or the browser's: downloads hold personal and payment data.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = UPLOAD_CSP
    response["Cache-Control"] = "private, no-store"
    return response


def serve_upload(file: FieldFile, *, download_name: str) -> FileResponse:
    """Answer with a stored upload, safely whatever it holds.

    The content type comes from the stored bytes (not the name on disk, which older uploads
    took from the client); only JPEG, PNG and WebP are ``inline``, everything else is an
    ``attachment``. Every answer carries ``nosniff``, ``Content-Security-Policy: sandbox;
    default-src 'none'`` and ``Cache-Control: private, no-store``. The caller has already
    checked that the requester may see the file; ``download_name`` (without extension)
    replaces the stored name, which reveals nothing either way.
    """
    handle = file.open("rb")
    head = handle.read(1024)
    handle.seek(0)
    content_type = sniff_content_type(head)
    response = FileResponse(
        handle,
        content_type=content_type,
        as_attachment=content_type not in INLINE_TYPES,
        filename=f"{download_name}.{EXTENSIONS[content_type]}",
    )
    _harden(response)
    return response


def download_response(
    content: bytes | str | IO[bytes], *, content_type: str, filename: str
) -> HttpResponseBase:
    """Send a file we generated (a CSV, a bank file) as a download, with the headers of
    :func:`serve_upload`.

    Always an ``attachment`` named ``filename``, with ``nosniff``, the ``sandbox`` CSP and
    ``Cache-Control: private, no-store``. ``content`` is text (sent as UTF-8) or bytes, sent
    whole, or an open binary file, streamed and closed. The caller has already checked that
    the requester may have the file; a CSV is written with ``core.csv_export`` first.
    """
    response: HttpResponseBase
    if isinstance(content, str | bytes):
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=filename
        )
    else:
        response = FileResponse(
            content, content_type=content_type, as_attachment=True, filename=filename
        )
    _harden(response)
    return response
