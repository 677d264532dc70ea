"""Translation for the pure rules, which import no Django: they mark the messages people read with
``_`` from here, and the platform plugs in Django's ``gettext`` when it starts (``bidding.apps``).
Unplugged (the rules on their own, as their tests run them) a message reads as its English msgid."""

from __future__ import annotations

from typing import Callable

_gettext: Callable[[str], str] = str


def use(gettext: Callable[[str], str]) -> None:
    """Translate with ``gettext`` from now on (called once, in an ``AppConfig.ready``)."""
    global _gettext
    _gettext = gettext


def _(message: str) -> str:
    """The message in the active language (``makemessages`` extracts the calls by this name)."""
    return _gettext(message)
