from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "审计日志 / Audit log"

    def ready(self) -> None:
        from .console import register

        register()
