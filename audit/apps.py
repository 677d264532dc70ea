from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "审计日志 / Audit log"

    def ready(self) -> None:
        from . import console, sequencer

        sequencer.register()  # first: the ticker sequences leftovers before it feeds the console
        console.register()
