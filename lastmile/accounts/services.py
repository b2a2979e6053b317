"""Writes of people: creating back-office staff with a role."""

from django.contrib.auth.models import Group
from django.db import transaction

from lastmile.accounts.models import User
from lastmile.accounts.roles import Role


@transaction.atomic
def staff_user_upsert(
    *,
    username: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> User:
    """Create (or update) a staff user who signs in to the back-office with ``role``.

    The role's group is created by migrations; an unknown role is a programming error.
    """
    if role not in Role.ALL:
        raise ValueError(f"unknown role {role!r}; expected one of {Role.ALL}")
    user = User.objects.filter(username=username).first() or User(username=username)
    user.first_name, user.last_name, user.email = first_name, last_name, email
    user.is_staff = True
    user.is_active = True
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user
