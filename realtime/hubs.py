"""The hubs of this process, one per event loop (tests run a loop per test; a worker process has one
loop, hence one hub). The in-process doorbell (no Redis) hands its messages to them; ``hub_stats``
reports them. Kept apart from ``realtime.hub`` so the doorbell needs no import of the hub itself."""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from typing import Any

_HUBS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = weakref.WeakKeyDictionary()


def of_loop(loop: asyncio.AbstractEventLoop):
    """The hub of ``loop``, or None."""
    return _HUBS.get(loop)


def add(loop: asyncio.AbstractEventLoop, hub):
    _HUBS[loop] = hub
    return hub


def ring_local_hubs(channel: str, data: str) -> None:
    """The in-process doorbell (no Redis): hand the message to every hub's loop, thread-safely."""
    for loop, hub in list(_HUBS.items()):
        if loop.is_closed():
            continue
        try:
            # A fresh context: the caller's (an ORM thread's) would make tasks spawned by the hub
            # believe they run inside asgiref's single-thread executor.
            loop.call_soon_threadsafe(hub.on_doorbell, data, context=contextvars.Context())
        except RuntimeError:  # the loop closed meanwhile
            pass


def hub_stats() -> dict[str, Any]:
    return {hub.worker: dict(hub.stats, rooms=len(hub.rooms), conns=len(hub.conns))
            for hub in list(_HUBS.values())}
