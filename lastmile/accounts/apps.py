from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "lastmile.accounts"
    label = "accounts"
    verbose_name = "People and roles"

    def ready(self) -> None:
        from lastmile.accounts.roles import sync_roles_after_migrate

        # Apps that arrive later add their permissions to the role table; granting them after
        # every migrate keeps existing installations in step without a migration per app.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="accounts.sync_roles")
