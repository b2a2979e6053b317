"""Staff endpoints check the same model permissions the back-office's roles grant."""

from rest_framework.permissions import BasePermission


def require_perms(*perms: str) -> type[BasePermission]:
    """A permission class that lets through signed-in users holding every one of ``perms``."""

    class HasPerms(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perms(perms))

    HasPerms.__name__ = f"HasPerms({', '.join(perms)})"
    return HasPerms
