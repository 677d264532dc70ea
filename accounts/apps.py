from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "账户 / Accounts"

    def ready(self) -> None:
        from . import views  # noqa: F401  (connects the sign-in signal receivers)
