from django.apps import AppConfig


class BiddingConfig(AppConfig):
    name = "bidding"

    def ready(self) -> None:
        from .archive import register as register_archive
        from .opening.registry import register as register_hall

        register_archive()
        register_hall()  # the hall: room kind and timers
