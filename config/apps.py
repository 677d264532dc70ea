from django.apps import AppConfig


class ConfigAppConfig(AppConfig):
    """Hosts the platform's own system checks (config/checks.py)."""

    name = "config"
    label = "platform_config"
    verbose_name = "Platform configuration"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
