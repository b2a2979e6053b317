"""Roles are groups created by migrations; what each may do in the back-office."""

import pytest
from django.contrib.auth.models import Group

from lastmile.accounts.roles import ROLE_PERMISSIONS, Role, sync_role_permissions
from tests.factories import StaffFactory
from tests.hubs.factories import HubFactory

pytestmark = pytest.mark.django_db


def test_migrations_create_every_role_with_its_permissions():
    for role in Role.ALL:
        group = Group.objects.get(name=role)
        granted = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert ROLE_PERMISSIONS[role] <= granted


def test_syncing_roles_again_adds_nothing():
    before = {g.name: g.permissions.count() for g in Group.objects.all()}

    sync_role_permissions()

    assert {g.name: g.permissions.count() for g in Group.objects.all()} == before


def test_dispatcher_sees_hubs_but_cannot_change_them(client):
    # given
    hub = HubFactory()
    client.force_login(StaffFactory(role=Role.DISPATCHER))

    # then
    assert client.get("/admin/hubs/hub/").status_code == 200
    change = client.get(f"/admin/hubs/hub/{hub.pk}/change/")
    assert change.status_code == 200
    assert b'name="_save"' not in change.content  # read-only view
    assert client.get("/admin/hubs/hub/add/").status_code == 403


def test_hub_manager_can_add_a_hub(client):
    client.force_login(StaffFactory(role=Role.HUB_MANAGER))

    assert client.get("/admin/hubs/hub/add/").status_code == 200


def test_staff_without_a_role_sees_no_hubs(client):
    client.force_login(StaffFactory())

    assert client.get("/admin/hubs/hub/").status_code == 403


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get("/admin/hubs/hub/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
