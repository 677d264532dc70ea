from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "exchange"
    verbose_name = _("Data exchange")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit.log import ENTRY_HOOKS

        from .events import on_entry

        # The outbox is written in the transaction of every change it reports.
        if on_entry not in ENTRY_HOOKS:
            ENTRY_HOOKS.append(on_entry)
