"""Domain errors: one base class with a stable code, rendered the same way everywhere.

Services raise these; the API exception handler turns them into problem+json responses and
forms show their message to a person. A view never decides an error's status code itself.

Every code is a member of an ``ErrorCode`` enum (``BaseErrorCode`` subclasses): the project's
shared codes below, each app's own in its ``errors.py``. The value is the stable string
clients branch on; the label is its meaning, printed in the OpenAPI schema.
"""

from typing import Any

from django.db import models


class BaseErrorCode(models.TextChoices):
    """The base of every error code enum; a code's value is defined in exactly one of them."""


class ErrorCode(BaseErrorCode):
    """Codes shared by every app: the base errors, the API's own answers, shared validators."""

    # The base domain errors of this module
    APPLICATION_ERROR = "application_error", "A rule of the domain refused the request"
    INVALID = "invalid", "Invalid input: `errors` maps each field to its messages"
    NOT_FOUND = "not_found", "No such object for this actor (another tenant's is not found too)"
    PERMISSION_DENIED = "permission_denied", "The actor may not do this"
    CONFLICT = "conflict", "The request collides with the current state"
    INVALID_TRANSITION = "invalid_transition", "The state machine does not allow this move"
    HAS_HISTORY = "has_history", "Other rows refer to it: archive it instead of deleting it"
    APPEND_ONLY = "append_only", "A record (event, ledger line) is never edited or deleted"
    ARCHIVED = "archived", "An archived hub or partner cannot be made active again"

    # The API's answers outside the domain (the exception handler, DRF, ``core.limits``)
    NOT_AUTHENTICATED = "not_authenticated", "No credential was sent (or the session expired)"
    AUTHENTICATION_FAILED = "authentication_failed", "The credential sent is not valid"
    METHOD_NOT_ALLOWED = "method_not_allowed", "This operation does not take that HTTP method"
    PARSE_ERROR = "parse_error", "The body could not be parsed (malformed JSON or form data)"
    THROTTLED = "throttled", "Too many requests: send again after `Retry-After` seconds"
    REQUEST_TOO_LARGE = "request_too_large", "The body is larger than this endpoint accepts"
    TOO_MANY_FIELDS = "too_many_fields", "The request has too many fields or files"

    # Field validators shared by the apps (``ValidationError`` codes, shown next to a field)
    INVALID_PHONE = "invalid_phone", "Not a valid phone number"
    INVALID_SKILLS = "invalid_skills", "Skills must be a list of skill codes"
    UNKNOWN_SKILL = "unknown_skill", "A skill that is not in the product's list"
    EMPTY_FILE = "empty_file", "The uploaded file is empty"
    FILE_TOO_LARGE = "file_too_large", "The uploaded file is over the size limit"
    INVALID_IMAGE = "invalid_image", "The upload is not a readable JPEG, PNG or WebP image"
    INVALID_IMAGE_FORMAT = "invalid_image_format", "An image, but not JPEG, PNG or WebP"
    IMAGE_TOO_LARGE = "image_too_large", "The image has too many pixels"
    IMAGE_TRUNCATED = "image_truncated", "The image is cut off"
    INVALID_PDF = "invalid_pdf", "The PDF is cut off"
    INVALID_DOCUMENT = "invalid_document", "The document is neither a PDF nor an accepted image"
    ARCHIVE_TOO_LARGE = "archive_too_large", "The file (an XLSX) unpacks to too much"
    ARCHIVE_TOO_MANY_MEMBERS = "archive_too_many_members", "The file (an XLSX) has too many parts"
    ARCHIVE_RATIO = "archive_ratio", "The file (an XLSX) is compressed suspiciously tightly"


class ApplicationError(Exception):
    """A rule of the domain refused the request. ``code`` is stable for clients to branch on."""

    code: BaseErrorCode = ErrorCode.APPLICATION_ERROR
    status = 400
    title = "The request was refused"

    def __init__(
        self,
        message: str,
        *,
        code: BaseErrorCode | None = None,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.errors = errors or {}
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    """Input broke a rule; ``errors`` maps field names to messages."""

    code = ErrorCode.INVALID
    title = "Invalid input"


class NotFound(ApplicationError):
    """The object does not exist for this actor (another tenant's object is "not found" too)."""

    code = ErrorCode.NOT_FOUND
    status = 404
    title = "Not found"


class PermissionDenied(ApplicationError):
    code = ErrorCode.PERMISSION_DENIED
    status = 403
    title = "Not allowed"


class Conflict(ApplicationError):
    """The request collides with the current state (a duplicate, a resource already taken)."""

    code = ErrorCode.CONFLICT
    status = 409
    title = "Conflict"


class InvalidTransition(Conflict):
    """A state machine refused a move that its transition table does not list."""

    code = ErrorCode.INVALID_TRANSITION
    title = "Invalid state transition"

    def __init__(self, *, entity: str, current: str, target: str) -> None:
        super().__init__(
            f"{entity} cannot move from '{current}' to '{target}'.",
            extra={"entity": entity, "from": current, "to": target},
        )
        self.entity = entity
        self.current = current
        self.target = target


class HasHistory(Conflict):
    """A row that other rows refer to (orders, plans, events, pay…) was about to be deleted.

    Such rows are archived instead, so the history that names them stays whole.
    """

    code = ErrorCode.HAS_HISTORY
    title = "Has history"

    @classmethod
    def refusing(cls, obj: Any, history: list[str], *, instead: str = "archive it") -> "HasHistory":
        """The refusal to delete ``obj``, naming what refers to it and what to do instead."""
        name = f"{obj._meta.verbose_name.capitalize()} {obj}"
        return cls(
            f"{name} cannot be deleted: it has history ({', '.join(history)}). {instead.capitalize()}"
            " instead.",
            extra={"history": history},
        )
