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
    HUB_MANAGER = "hub_manager"  # runs hubs, vehicles, chargers (lockers and returns, planned)
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
        # fleet: what routes can be planned with, and whether tonight's charging covers them
        "fleet.view_vehicle",
        "fleet.view_vehicletype",
        "fleet.view_chargingplan",
        # dispatch: plans with their routes, stops and re-plans; ask for a run or cancel one
        "dispatch.view_plan",
        "dispatch.view_planevent",
        "dispatch.view_route",
        "dispatch.view_stop",
        "dispatch.view_unassignedorder",
        "dispatch.view_replan",
        "dispatch.request_plan",
        "dispatch.cancel_plan",
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
        # fleet: vehicles and their devices, chargers, tariffs, sessions, charging plans
        "fleet.view_vehicletype",
        "fleet.add_vehicletype",
        "fleet.change_vehicletype",
        "fleet.view_vehicle",
        "fleet.add_vehicle",
        "fleet.change_vehicle",
        "fleet.view_device",
        "fleet.add_device",
        "fleet.change_device",
        "fleet.view_telematicsping",
        "fleet.view_fleetevent",
        "fleet.view_tariff",
        "fleet.add_tariff",
        "fleet.change_tariff",
        "fleet.view_tariffrate",
        "fleet.add_tariffrate",
        "fleet.change_tariffrate",
        "fleet.delete_tariffrate",
        "fleet.view_chargingsite",
        "fleet.add_chargingsite",
        "fleet.change_chargingsite",
        "fleet.view_charger",
        "fleet.add_charger",
        "fleet.change_charger",
        "fleet.view_chargingsession",
        "fleet.add_chargingsession",
        "fleet.view_chargingplan",
        "fleet.plan_charging",
    },
    Role.WORKFORCE_MANAGER: {
        "hubs.view_hub",
        # workforce: vetting, availability and coverage, shifts, pay rules, ledger, payouts
        "workforce.view_courier",
        "workforce.change_courier",
        "workforce.view_courierapplication",
        "workforce.change_courierapplication",
        "workforce.view_courierdocument",
        "workforce.view_courierevent",
        "workforce.view_availabilityslot",
        "workforce.view_coverageneed",
        "workforce.add_coverageneed",
        "workforce.change_coverageneed",
        "workforce.delete_coverageneed",
        "workforce.view_shift",
        "workforce.add_shift",
        "workforce.change_shift",
        "workforce.view_payrule",
        "workforce.add_payrule",
        "workforce.change_payrule",
        "workforce.view_peakwindow",
        "workforce.add_peakwindow",
        "workforce.change_peakwindow",
        "workforce.delete_peakwindow",
        "workforce.view_earningentry",
        "workforce.correct_earningentry",
        "workforce.view_payoutweek",
        "workforce.view_payoutbatch",
        "workforce.change_payoutbatch",
        "workforce.close_payout_week",
        "workforce.export_payoutbatch",
        "workforce.view_payoutexport",
        "workforce.view_deliveryrating",
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

    # post_migrate is sent once per app with models, in INSTALLED_APPS order; by the last one
    # every app's permissions exist. An app without models (the project's commands) gets none.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is not with_models[-1]:
        return
    sync_role_permissions()
