from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "审计日志 / Audit log"

    def ready(self) -> None:
        from realtime.audit_hook import register_audit_hook

        from . import console, integrity, sequencer, witnesses
        from .log import log_action

        register_audit_hook(log_action)  # realtime's own rooms (demo) audit through it
        sequencer.register()  # first: the ticker sequences leftovers before it feeds the console
        integrity.register()  # before the feed: an alert it raises is shown in the same tick
        witnesses.register()
        console.register()
