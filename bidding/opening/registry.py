"""Registers the hall's room kind and timers, from ``BiddingConfig.ready()``, so every process that
loads the apps (workers, the ticker, tests) knows them; the callbacks import their modules on first
use.

Timers (applied once each by ``manage.py ticker`` under a row lock):
- ``bidding.opening.signin``: a published lot without an opening whose ``signin_opens_at`` passed;
- ``bidding.opening.deadline``: a published lot whose ``bid_deadline`` passed (it leaves the set:
  its status becomes ``opening`` or ``failed``);
- ``bidding.opening.window``: an opening whose running window (``next_check``) closed.
"""

from __future__ import annotations

from realtime.kinds import register_room_kind
from realtime.timers import register_timer

from .hall import HallRoom


def _signin(lot, now):
    from .actions import on_signin_opens

    on_signin_opens(lot, now)


def _deadline(lot, now):
    from .actions import on_deadline

    on_deadline(lot, now)


def _window(opening, now):
    from .actions import on_window

    on_window(opening, now)


class _LotsWithoutOpening:
    """``pk__in`` value built when the ticker's query is (the models are not ready at registration).
    A subquery, not a join: PostgreSQL refuses FOR UPDATE on the nullable side of an outer join."""

    def resolve_expression(self, *args, **kwargs):
        from ..models import Lot

        return Lot.objects.filter(opening__isnull=True).values("pk").query.resolve_expression(*args, **kwargs)


def register() -> None:
    from ..models import Lot
    from ..models_opening import Opening

    register_room_kind("hall", HallRoom())
    without_opening = _LotsWithoutOpening()
    register_timer("bidding.opening.signin", Lot, _signin, field="signin_opens_at", status="published",
                   pk__in=without_opening, deadline=True)
    register_timer("bidding.opening.deadline", Lot, _deadline, field="bid_deadline", status="published",
                   deadline=True)
    register_timer("bidding.opening.window", Opening, _window, deadline=True)
