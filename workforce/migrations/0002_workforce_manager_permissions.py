"""Grant the workforce manager role its permissions on the workforce tables.

Same pattern as ``accounts.0002_roles``: create this app's permissions now (Django would
only create them after migrate) and let ``roles.sync_role_permissions`` grant what the role
table lists. ``post_migrate`` runs the same sync again, so this only makes it immediate.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_permissions(apps, schema_editor):
    from lastmile.accounts.roles import sync_role_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_permissions(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [
        ("workforce", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant_permissions, migrations.RunPython.noop)]
