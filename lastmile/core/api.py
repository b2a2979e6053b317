"""The API's single exception handler: every error is a problem+json style body.

``{"type", "title", "status", "detail", "code", "errors"}`` for domain errors, DRF's own
errors and Django validation errors alike, so partners parse one shape.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from lastmile.core.errors import ApplicationError

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
            code="invalid",
            errors=errors,
        )
    if isinstance(exc, RequestDataTooBig):
        # Raised by the parsers (``core.limits``) before an oversized body is read.
        return _problem(
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            title="Request too large",
            detail="The request body is larger than this endpoint accepts.",
            code="request_too_large",
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return _problem(
            status_code=status.HTTP_400_BAD_REQUEST,
            title="Invalid input",
            detail="The request has too many fields or files.",
            code="too_many_fields",
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
            code="invalid",
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
    code = serializers.CharField()
    errors = serializers.DictField()


# ``extend_schema(responses={**PROBLEMS, 200: …})``: the error answers an endpoint may give.
PROBLEMS = dict.fromkeys((400, 401, 403, 404, 409), ProblemSerializer)
