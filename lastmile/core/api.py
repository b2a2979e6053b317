"""The API's single exception handler: every error is a problem+json style body.

``{"type", "title", "status", "detail", "code", "errors"}`` for domain errors, DRF's own
errors and Django validation errors alike, so partners parse one shape.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from lastmile.core.errors import ApplicationError, BaseErrorCode, ErrorCode

PROBLEM_BASE = "https://docs.lastmile.invalid/problems/"


def _problem(
    *, status_code: int, title: str, detail: str, code: str, errors: Any = None, **extra: Any
) -> Response:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
        "errors": errors or {},
        **extra,
    }
    return Response(body, status=status_code, content_type="application/problem+json")


def _django_validation_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            field: [str(m) for e in errs for m in e.messages]
            for field, errs in exc.error_dict.items()
        }
    return {"non_field_errors": [str(m) for m in exc.messages]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return _problem(
            status_code=exc.status,
            title=exc.title,
            detail=exc.message,
            code=exc.code,
            errors=exc.errors,
            **({"context": exc.extra} if exc.extra else {}),
        )
    if isinstance(exc, DjangoValidationError):
        errors = _django_validation_errors(exc)
        return _problem(
            status_code=status.HTTP_400_BAD_REQUEST,
            title="Invalid input",
            detail="One or more fields are invalid.",
            code=ErrorCode.INVALID,
            errors=errors,
        )
    if isinstance(exc, RequestDataTooBig):
        # Raised by the parsers (``core.limits``) before an oversized body is read.
        return _problem(
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            title="Request too large",
            detail="The request body is larger than this endpoint accepts.",
            code=ErrorCode.REQUEST_TOO_LARGE,
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return _problem(
            status_code=status.HTTP_400_BAD_REQUEST,
            title="Invalid input",
            detail="The request has too many fields or files.",
            code=ErrorCode.TOO_MANY_FIELDS,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: let Django log it and answer 500
    if not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return _problem(
            status_code=response.status_code,
            title="Invalid input",
            detail="One or more fields are invalid.",
            code=ErrorCode.INVALID,
            errors=errors,
        )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    problem = _problem(
        status_code=response.status_code,
        title=str(exc.default_detail),
        detail=detail,
        code=str(exc.default_code),
    )
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            problem[header] = response[header]
    return problem


class ProblemSerializer(serializers.Serializer):
    """The error body every endpoint answers with (``exception_handler``), for OpenAPI."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(
        help_text="Stable, for clients to branch on; each operation's error responses list "
        "the codes it gives, with their meaning"
    )
    errors = serializers.DictField()
    context = serializers.DictField(
        required=False,
        help_text="Facts of a domain error a client may act on (e.g. `offer_status`, "
        "`courier_status`); only on errors that have them",
    )


def problem(description: str, *causes: type[ApplicationError] | BaseErrorCode) -> OpenApiResponse:
    """An OpenAPI problem response whose description lists the codes a client may branch on.

    ``causes`` give the codes behind the status, each listed once with its meaning (the code's
    label): a domain error class gives its class's code, an ``ErrorCode`` member itself (for
    an error raised with a code of its own).
    """
    codes = dict.fromkeys(
        cause if isinstance(cause, BaseErrorCode) else cause.code for cause in causes
    )
    lines = [description, *(f"- `{code}`: {code.label}" for code in codes)]
    return OpenApiResponse(ProblemSerializer, description="\n".join(lines))


def invalid_input(*causes: type[ApplicationError] | BaseErrorCode) -> OpenApiResponse:
    """The 400 of an endpoint whose services refuse some input with codes of their own."""
    return problem(
        "Invalid input: `errors` maps each field to its messages.",
        ErrorCode.INVALID,
        ErrorCode.PARSE_ERROR,
        *causes,
    )


# ``extend_schema(responses={200: …, **PROBLEMS})``: the error answers every endpoint may give.
# An endpoint names the codes it gives by overriding a status with ``problem(…)`` (the 400 with
# ``invalid_input(…)``); one that never conflicts takes ``COMMON_PROBLEMS``, without the 409.
COMMON_PROBLEMS = {
    400: invalid_input(),
    401: problem(
        "No valid credential.", ErrorCode.NOT_AUTHENTICATED, ErrorCode.AUTHENTICATION_FAILED
    ),
    403: problem(
        "Not allowed (or no session).", ErrorCode.PERMISSION_DENIED, ErrorCode.NOT_AUTHENTICATED
    ),
    404: problem(
        "Not found; another tenant's or courier's object is not found too.", ErrorCode.NOT_FOUND
    ),
}
PROBLEMS = {
    **COMMON_PROBLEMS,
    409: problem("The request conflicts with the current state of the resource."),
}

# Every endpoint that takes a body: one over the limits of ``core.limits`` is refused unread.
TOO_LARGE = {
    413: problem(
        "The request body is larger than the API accepts; nothing was read or stored.",
        ErrorCode.REQUEST_TOO_LARGE,
    )
}

# Throttled endpoints (``core.throttles``) list both: the 429 and its ``Retry-After`` header,
# ``extend_schema(parameters=[RETRY_AFTER], responses={…, **THROTTLED})``.
THROTTLED = {429: problem("Too many requests for this credential.", ErrorCode.THROTTLED)}
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before sending the request again.",
)
