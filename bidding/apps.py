from django.apps import AppConfig


class BiddingConfig(AppConfig):
    name = "bidding"

    def ready(self) -> None:
        from .archive import register

        register()
