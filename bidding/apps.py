from django.apps import AppConfig


class BiddingConfig(AppConfig):
    name = "bidding"

    def ready(self) -> None:
        from django.utils.translation import gettext

        from common import i18n

        from .archive import register as register_archive
        from .opening.registry import register as register_hall

        register_archive()
        register_hall()  # the hall: room kind and timers
        i18n.use(gettext)  # the pure rules' messages (bidding.lifecycle) in the request's language
