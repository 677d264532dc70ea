"""Labels the pages' ES modules show, translated on the server (the pages hold no msgids)."""

from django.utils.translation import gettext as _


def conn_labels() -> dict:
    """The realtime connection's states, as the pages' status line shows them."""
    return {"connecting": _("Connecting…"), "connected": _("Connected"),
            "reconnecting": _("Reconnecting…"), "resynced": _("Resynced"), "signed_out": _("Signed out")}
