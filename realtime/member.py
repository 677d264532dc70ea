"""One connection in one room (``Member``): what the hub offers events to, in room ``seq`` order,
and what a join, a replay and a resync act on."""

from __future__ import annotations

from common import metrics

from . import frames
from .audience import Viewer


class Member:
    """One connection in one room: its viewer, its positions per stream and its join buffer."""

    __slots__ = ("conn", "key", "kind", "role", "viewer", "streams", "sees_all", "positions",
                 "epoch", "buffering", "buffer", "presence_watch", "__weakref__")

    def __init__(self, conn, key: str, kind):
        self.conn, self.key, self.kind = conn, key, kind
        self.role = ""
        self.viewer: Viewer | None = None
        self.streams: frozenset[str] = frozenset()
        self.sees_all = False
        self.positions: dict[str, int] = {}
        self.epoch: str | None = None
        self.buffering = True
        self.buffer: list = []
        self.presence_watch = False

    def set_viewer(self, viewer: Viewer) -> None:
        self.viewer, self.role = viewer, viewer.role
        self.streams, self.sees_all = viewer.streams, viewer.sees_all
        self.presence_watch = viewer.role in self.kind.presence_roles
        if self.presence_watch and self.conn.hub is not None:
            self.conn.hub.watch(self.key, self)

    def offer(self, item) -> None:
        """Called by the hub, in room ``seq`` order, for every event of the room."""
        if self.buffering:
            self.buffer.append(item)
            return
        if not (self.sees_all or item.stream in self.streams):
            return
        held = self.positions.get(item.stream, 0)
        if item.sseq <= held:
            return  # already sent (replayed at join, or a repeated doorbell)
        if item.sseq != held + 1:
            # A hole the hub could not close: fetch it from the database before going on.
            self.buffering = True
            self.buffer.append(item)
            self.conn.spawn(self.conn.catch_up(self))
            return
        self.positions[item.stream] = item.sseq
        self.conn.send_text(item.text)

    def flush(self) -> None:
        buffered, self.buffer = self.buffer, []
        self.buffering = False
        for item in buffered:
            self.offer(item)
            if self.buffering:  # a hole again: the rest waits for the catch-up
                self.buffer.extend(buffered[buffered.index(item) + 1:])
                return

    def resync(self, reason: str) -> None:
        metrics.RESYNCS.labels(reason).inc()
        self.conn.drop_member(self)
        self.conn.send_text(frames.dumps(frames.resync(self.key, reason)))
