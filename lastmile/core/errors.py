"""Domain errors: one base class with a stable code, rendered the same way everywhere.

Services raise these; the API exception handler turns them into problem+json responses and
forms show their message to a person. A view never decides an error's status code itself.
"""

from typing import Any


class ApplicationError(Exception):
    """A rule of the domain refused the request. ``code`` is stable for clients to branch on."""

    code = "application_error"
    status = 400
    title = "The request was refused"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
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

    code = "invalid"
    title = "Invalid input"


class NotFound(ApplicationError):
    """The object does not exist for this actor (another tenant's object is "not found" too)."""

    code = "not_found"
    status = 404
    title = "Not found"


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status = 403
    title = "Not allowed"


class Conflict(ApplicationError):
    """The request collides with the current state (a duplicate, a resource already taken)."""

    code = "conflict"
    status = 409
    title = "Conflict"


class InvalidTransition(Conflict):
    """A state machine refused a move that its transition table does not list."""

    code = "invalid_transition"
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

    code = "has_history"
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
