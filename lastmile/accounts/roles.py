"""Roles of the back-office and the permissions each carries.

A role is a Django group. This table is the single place that says what a role may do; apps
added later append their permissions here, and :func:`sync_role_permissions` grants them
(run by the data migration and again after every ``migrate``).
"""

import logging
from typing import Any

from django.contrib.auth.models import Group, Permission

logger = logging.getLogger(__name__)


class Role:
    DISPATCHER = "dispatcher"  # plans routes, watches the day, handles failed deliveries
    HUB_MANAGER = "hub_manager"  # runs hubs, vehicles, chargers, lockers, returns
    WORKFORCE_MANAGER = "workforce_manager"  # vets couriers, approves and exports payouts

    ALL = (DISPATCHER, HUB_MANAGER, WORKFORCE_MANAGER)


ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.DISPATCHER: {
        "hubs.view_hub",
        "hubs.view_openinghours",
        "partners.view_partner",
        "orders.view_order",
        "orders.change_order",
        "orders.import_orders",
        "orders.view_orderimport",
        "orders.view_parcel",
        "orders.view_orderevent",
        "orders.view_deliveryattempt",
    },
    Role.HUB_MANAGER: {
        "hubs.view_hub",
        "hubs.add_hub",
        "hubs.change_hub",
        "hubs.view_openinghours",
        "hubs.add_openinghours",
        "hubs.change_openinghours",
        "hubs.delete_openinghours",
        "partners.view_partner",
        "orders.view_order",
    },
    Role.WORKFORCE_MANAGER: {
        "hubs.view_hub",
    },
}


def sync_role_permissions(
    group_model: Any = Group, permission_model: Any = Permission
) -> dict[str, int]:
    """Create the role groups and grant each the permissions the table lists.

    Only adds: a permission granted by hand stays. Permissions of apps not installed yet are
    skipped and granted on a later run. Returns how many permissions each role now has.
    """
    counts = {}
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = [code.split(".", 1) for code in sorted(codes)]
        found = []
        for app_label, codename in wanted:
            found.extend(
                permission_model.objects.filter(
                    content_type__app_label=app_label, codename=codename
                ).values_list("pk", flat=True)
            )
        group.permissions.add(*found)
        counts[role] = group.permissions.count()
    return counts


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    from django.apps import apps

    # post_migrate is sent once per app, in INSTALLED_APPS order; by the last one every app's
    # permissions exist.
    if sender is not list(apps.get_app_configs())[-1]:
        return
    sync_role_permissions()
