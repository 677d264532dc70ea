from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "账户 / Accounts"

    def ready(self) -> None:
        from realtime.connection import register_socket_token_auth

        from . import socket_tokens, views  # noqa: F401  (views connects the sign-in signal receivers)

        register_socket_token_auth(socket_tokens.consume_now)
