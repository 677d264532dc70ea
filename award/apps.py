from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AwardConfig(AppConfig):
    name = "award"
    verbose_name = _("Candidates and award")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .archive import register as register_archive
        from .deadlines import register_timers

        register_archive()
        register_timers()
