"""Create the back-office roles (dispatcher, hub manager, workforce manager) as groups."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from lastmile.accounts.roles import sync_role_permissions

    # Permissions are normally created after migrate; create them now so the roles get them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_permissions(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor):
    from lastmile.accounts.roles import Role

    apps.get_model("auth", "Group").objects.filter(name__in=Role.ALL).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("hubs", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
