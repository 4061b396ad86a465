"""App config for the providers library."""

from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Video providers"

    def ready(self) -> None:
        # Importing the registry connects its setting_changed receiver for override_settings.
        from providers import registry  # noqa: F401
