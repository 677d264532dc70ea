from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollusionConfig(AppConfig):
    name = "collusion"
    verbose_name = _("Collusion analysis")
    default_auto_field = "django.db.models.BigAutoField"
