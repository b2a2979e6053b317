"""People who sign in: staff of the back-office, and (later) couriers and partner users."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """The one user model. Roles are groups (see ``roles.py``), not flags on this row."""

    email = models.EmailField("email address", blank=True)
    phone = models.CharField(max_length=32, blank=True, help_text="E.164, e.g. +4930123456")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_unique_ci",
                violation_error_message="A user with this email address already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def has_role(self, role: str) -> bool:
        return self.groups.filter(name=role).exists()
