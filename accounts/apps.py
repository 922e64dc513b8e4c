from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Vendor accounts"

    def ready(self):
        from accounts.roles import sync_roles

        # Later apps add permissions that roles grant; sync once every app migrated.
        post_migrate.connect(sync_roles, sender=self, dispatch_uid="accounts.sync_roles")
