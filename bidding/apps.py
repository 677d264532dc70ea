from django.apps import AppConfig


class BiddingConfig(AppConfig):
    name = "bidding"

    def ready(self) -> None:
        from django.utils.translation import gettext

        from common import i18n

        from .archive import register as register_archive
        from .escrow_recovery import register as register_recovery_timer
        from .opening.registry import register as register_hall
        from .pending_ticker import register as register_pending

        register_archive()
        register_hall()  # the hall: room kind and timers
        register_recovery_timer()  # a recovery lapses at its bid's window's end
        register_pending()  # the ticker completes bids whose receipts could not be signed
        i18n.use(gettext)  # the pure rules' messages (bidding.lifecycle) in the request's language
