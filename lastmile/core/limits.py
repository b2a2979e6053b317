"""Request body limits, enforced before a body is read or parsed.

Django checks ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only when something reads ``request.body`` or
form fields, and streams uploaded files to disk whatever their size; DRF's JSON and form
parsers read the request stream directly, so neither limit reached the API. Here:
``RequestBodyLimitMiddleware`` refuses any body larger than ``REQUEST_MAX_BODY_BYTES`` from its
``Content-Length`` alone (413, nothing read), and the API parsers refuse a JSON or form body
larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413 problem, from ``core.api.exception_handler``).
"""

import io
from collections.abc import Callable
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.parsers import FormParser, JSONParser

from lastmile.core.errors import ErrorCode

API_PREFIX = "/api/"


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _read_at_most(stream: IO[bytes], request: HttpRequest | None) -> IO[bytes]:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return stream
    if request is not None and _content_length(request) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return io.BytesIO(body)


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser, refusing a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` unread."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        request = (parser_context or {}).get("request")
        return super().parse(
            _read_at_most(stream, getattr(request, "_request", None)), media_type, parser_context
        )


class LimitedFormParser(FormParser):
    """DRF's url-encoded form parser, refusing a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        request = (parser_context or {}).get("request")
        return super().parse(
            _read_at_most(stream, getattr(request, "_request", None)), media_type, parser_context
        )


class RequestBodyLimitMiddleware:
    """Answer 413 to a request whose declared body exceeds ``REQUEST_MAX_BODY_BYTES``.

    Decided from ``Content-Length`` before anything reads the body, so an oversized upload
    costs no disk, memory or parsing; the per-file limits (5 MB photos, 10 MB documents,
    20 MB order files) still apply to what gets through. The API gets a problem+json body,
    pages a short plain-text message.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.REQUEST_MAX_BODY_BYTES
        if limit is not None and _content_length(request) > limit:
            return _too_large(request, limit)
        return self.get_response(request)


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    detail = f"The request is larger than {limit / 1_048_576:g} MB; send a smaller file."
    if request.path.startswith(API_PREFIX):
        # Imported here: core.api loads DRF's views, whose settings import this module.
        from lastmile.core.api import PROBLEM_BASE

        return JsonResponse(
            {
                "type": PROBLEM_BASE + ErrorCode.REQUEST_TOO_LARGE,
                "title": "Request too large",
                "status": 413,
                "detail": detail,
                "code": ErrorCode.REQUEST_TOO_LARGE,
                "errors": {},
            },
            status=413,
            content_type="application/problem+json",
        )
    return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
