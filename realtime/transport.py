"""Writing frames to one socket without a task per frame, and measuring its backlog.

The hub writes one serialised frame to thousands of local sockets; awaiting a coroutine per socket
(or a channel-layer message per socket, as a consumer per socket with ``group_send`` does) is what
made the textbook fan-out 15-30x slower than a plain broadcast (docs/protocol.md, "Fan-out").

- Under Daphne the ASGI ``send`` is ``partial(Server.handle_reply, protocol)``, a coroutine that never
  suspends: the protocol's ``handle_reply`` is called directly (the same checks Daphne makes), and
  the backlog is the bytes buffered in the Twisted transport.
- Under any other server (uvicorn, the test communicator) frames go to an outbox drained by one
  writer task per socket; the backlog is the outbox's length in bytes.

Either way ``send_text`` is synchronous and keeps order, and a backlog over the bound calls
``on_overflow`` (the connection tells the client to resync and closes): never a silent drop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from typing import Callable

log = logging.getLogger(__name__)


class Sender:
    def __init__(self, limit_bytes: int, on_overflow: Callable[[], None]):
        self.limit = limit_bytes
        self.on_overflow = on_overflow
        self.closed = False
        # Bytes a replay the client asked for may add on top of the limit, until it has drained.
        self.grace = 0

    def allow_burst(self) -> None:
        """Called after a join's replay: what it queued does not count as falling behind."""
        self.grace = self.backlog()

    def check_backlog(self) -> None:
        backlog = self.backlog()
        if backlog <= self.limit:
            self.grace = 0
        elif backlog > self.limit + self.grace:
            self.on_overflow()

    def send_text(self, text: str) -> None:
        raise NotImplementedError

    def close(self, code: int) -> None:
        raise NotImplementedError

    def backlog(self) -> int:
        return 0


class DaphneSender(Sender):
    def __init__(self, server, protocol, limit_bytes, on_overflow):
        super().__init__(limit_bytes, on_overflow)
        self.server, self.protocol = server, protocol

    def _gone(self) -> bool:
        state = self.server.connections.get(self.protocol)
        return state is None or bool(state.get("disconnected"))

    def send_text(self, text: str) -> None:
        if self.closed or self._gone():
            return
        self.protocol.handle_reply({"type": "websocket.send", "text": text})
        self.check_backlog()

    def close(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        if not self._gone():
            self.protocol.handle_reply({"type": "websocket.close", "code": code})

    def backlog(self) -> int:
        t = getattr(self.protocol, "transport", None)
        # TLS or proxy-protocol wrappers keep the TCP transport underneath.
        while t is not None and not hasattr(t, "dataBuffer") and hasattr(t, "transport"):
            t = t.transport
        try:
            return len(t.dataBuffer) - t.offset + t._tempDataLen
        except (AttributeError, TypeError):
            return 0


class QueuedSender(Sender):
    def __init__(self, send, limit_bytes, on_overflow):
        super().__init__(limit_bytes, on_overflow)
        self.send = send
        self.outbox: deque[dict] = deque()
        self.queued_bytes = 0
        self.writer: asyncio.Task | None = None

    def _put(self, message: dict, size: int) -> None:
        self.outbox.append(message)
        self.queued_bytes += size
        if self.writer is None or self.writer.done():
            self.writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self.outbox:
            message = self.outbox.popleft()
            self.queued_bytes -= len(message.get("text", ""))
            try:
                await self.send(message)
            except Exception:  # noqa: BLE001 - the socket is gone; the receive loop ends it
                self.outbox.clear()
                return

    def send_text(self, text: str) -> None:
        if self.closed:
            return
        self._put({"type": "websocket.send", "text": text}, len(text))
        self.check_backlog()

    def close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            self._put({"type": "websocket.close", "code": code}, 0)

    def backlog(self) -> int:
        return self.queued_bytes


def make_sender(send, *, limit_bytes: int, on_overflow: Callable[[], None]) -> Sender:
    if isinstance(send, functools.partial) and send.args:
        server = getattr(send.func, "__self__", None)
        protocol = send.args[0]
        if (type(server).__module__.startswith("daphne") and hasattr(protocol, "handle_reply")
                and hasattr(server, "connections")):
            return DaphneSender(server, protocol, limit_bytes, on_overflow)
    return QueuedSender(send, limit_bytes, on_overflow)
