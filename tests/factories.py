"""Factories for plain rows shared by several apps' tests."""

import factory
from factory.django import DjangoModelFactory

from lastmile.accounts.models import User
from lastmile.accounts.roles import Role


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("s3cret-pass")


class StaffFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs) -> None:
        from django.contrib.auth.models import Group

        if create and extracted:
            assert extracted in Role.ALL
            self.groups.add(Group.objects.get(name=extracted))
