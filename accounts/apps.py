"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # Imported here, not at the top: they load models, which must wait for the registry.
        from django.contrib.auth.signals import user_logged_out

        from accounts import receivers

        # Every logout (ours, the admin's) goes through django.contrib.auth.logout().
        user_logged_out.connect(receivers.user_logged_out_close_sockets,
                                dispatch_uid="accounts-logout-sockets")
