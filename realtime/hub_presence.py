"""The hub's presence work: joins and leaves written in batches, and each room's presence summary
pushed to its watchers, each role's view serialised once (``send_presence``).

Mixed into ``realtime.hub.Hub``, which owns the rooms and the loop these methods use.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings

from common import clock

from . import frames
from .db import run_db

log = logging.getLogger("realtime.hub")


class PresenceMixin:
    """Presence batching and pushes of ``Hub`` (``self.loop``, ``self.presence_changes``,
    ``self.presence_task`` are the hub's)."""

    def enter_presence(self, row) -> None:
        """Record a joined socket's presence row (``presence.entry``), batched with the other joins
        of the moment: a reconnect storm's thousands of joins become one upsert per batch."""
        self._queue_presence((row.conn_id, [row.room_key], row))

    def leave_presence(self, conn_id: str, room_keys: list[str], *, closed: bool = False) -> None:
        """Delete a socket's presence rows in ``room_keys`` (``closed``: every row of the socket),
        batched like joins and after them, so a leave never comes before the join it undoes."""
        from .presence import CLOSED

        self._queue_presence((conn_id, list(room_keys), CLOSED if closed else None))

    def _queue_presence(self, change) -> None:
        self.presence_changes.append(change)
        if self.presence_task is None or self.presence_task.done():
            self.presence_task = self.loop.create_task(self._flush_presence())

    async def _flush_presence(self) -> None:
        from .presence import apply_changes

        await asyncio.sleep(0.02)
        while self.presence_changes:
            batch, self.presence_changes = self.presence_changes[:500], self.presence_changes[500:]
            try:
                await run_db(apply_changes, batch)
            except Exception:  # noqa: BLE001 - stale rows stop counting and are purged later
                log.exception("presence changes of %d sockets", len(batch))

    def _schedule_presence(self, room) -> None:
        if room.presence_handle is not None:
            return
        if not room.watching:
            return
        room.presence_handle = self.loop.call_later(
            settings.RT_PRESENCE_DEBOUNCE_SECONDS,
            lambda: self.loop.create_task(self._push_presence(room)))

    async def _push_presence(self, room) -> None:
        from .presence import summary

        room.presence_handle = None
        try:
            data = await run_db(summary, room.key, now=clock.now())
        except Exception:  # noqa: BLE001
            log.exception("presence of %s", room.key)
            return
        send_presence(room, data)


def send_presence(room, data: dict) -> None:
    """Send each watcher its role's view of the summary ``data`` (``RoomKind.presence_view``) when
    it differs from the last one that watcher got.

    Each role's view is computed once, and each distinct view serialised once (roles sharing a
    view object share the text). A text equal to one of the previous push is that same object, so
    an unchanged view is found by identity and not sent again: in a hall of 3,000 bidders a bidder
    joining changes the host's view but not the bidders' (the host side only), so the push reaches
    the host and the bidder who just joined, not 3,000 sockets. Sockets are written view by view,
    which keeps the transport's one-entry framing cache on one text at a time. A member still
    buffering its join is left out and gets the next push."""
    previous = {text: text for text in set(room.presence_sent.values())}
    texts: dict[str, str | None] = {}  # role → text (None: that role sees nothing)
    views: list[tuple[Any, str]] = []  # (view object, its text): one serialisation per view
    sent: dict = {}
    todo: dict[str, list] = {}
    for member in list(room.watching):
        if member.buffering:
            continue
        role = member.role
        if role not in texts:
            view = member.kind.presence_view(role, data)
            text = None if view is None else next((t for v, t in views if v is view), None)
            if view is not None and text is None:
                text = frames.dumps(frames.presence(room.key, view))
                text = previous.get(text, text)
                views.append((view, text))
            texts[role] = text
        text = texts[role]
        if text is None:
            continue
        sent[member] = text
        if room.presence_sent.get(member) is not text:
            todo.setdefault(text, []).append(member)
    room.presence_sent = sent
    for text, members in todo.items():
        for member in members:
            member.conn.send_text(text)
