from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollusionConfig(AppConfig):
    name = "collusion"
    verbose_name = _("Collusion analysis")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import conf
        from .archive import register as register_archive
        from .report import register as register_report

        register_archive()
        register_report()

        # Settings fail loudly: an unknown signal or threshold stops the start, not the first run.
        conf.analysis_settings()
        conf.graph_settings()
