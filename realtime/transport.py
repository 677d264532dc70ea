"""Writing frames to one socket without a task per frame, and measuring its backlog.

The hub writes one serialised frame to thousands of local sockets; awaiting a coroutine per socket
(or a channel-layer message per socket, as a consumer per socket with ``group_send`` does) is what
made the textbook fan-out 15-30x slower than a plain broadcast (docs/protocol.md, "Fan-out").

- Under Daphne the WebSocket frame is built once per text (header + UTF-8 bytes, cached for the
  whole fan-out of one frame) and written straight to the socket when nothing is buffered for it
  (``socket.send``: one system call, no reactor round trip), else appended to the Twisted
  transport's buffer behind what is already there. The ASGI ``send`` (Channels' session wrapper
  around Daphne's ``partial(Server.handle_reply, protocol)``) and autobahn's per-message framing are
  skipped for pushes; the backlog is the bytes buffered in the Twisted transport.
- Under any other server (uvicorn, the test communicator) the ASGI ``send`` coroutine is driven
  synchronously: a ``send`` that does not suspend (uvicorn's and the communicator's usually do not)
  costs no task. One that suspends is finished by a writer task, and later frames queue behind it
  in an outbox; the backlog is the outbox's length in bytes.

Either way ``send_text`` is synchronous and keeps order, and a backlog over the bound calls
``on_overflow`` (the connection tells the client to resync and closes): never a silent drop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import types
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


# --- Daphne ---------------------------------------------------------------------------------------

# The last text framed and its wire bytes: a fan-out sends the same ``str`` object to every socket,
# so one entry (compared by identity) frames each push, heartbeat or presence summary once.
_framed: tuple[str | None, bytes] = (None, b"")


def ws_text_frame(text: str) -> bytes:
    """An unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2) as a server sends it."""
    global _framed
    if _framed[0] is text:
        return _framed[1]
    data = text.encode("utf-8")
    n = len(data)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    wire = head + data
    _framed = (text, wire)
    return wire


class DaphneSender(Sender):
    def __init__(self, server, protocol, limit_bytes, on_overflow):
        super().__init__(limit_bytes, on_overflow)
        self.server, self.protocol = server, protocol
        self._open = getattr(protocol, "STATE_OPEN", 1)
        self._tcp = None  # the Twisted TCP transport, when frames may go straight to its socket

    def _gone(self) -> bool:
        state = self.server.connections.get(self.protocol)
        return state is None or bool(state.get("disconnected"))

    def _fast(self) -> bool:
        """True when autobahn would frame a text message exactly as ``ws_text_frame`` does."""
        p = self.protocol
        return (p.state == self._open and getattr(p, "_perMessageCompress", None) is None
                and not getattr(p, "send_queue", None) and not getattr(p, "autoFragmentSize", 0)
                and getattr(p, "send_state", 0) == getattr(p, "SEND_STATE_GROUND", 0))

    def send_text(self, text: str) -> None:
        if self.closed:
            return
        p = self.protocol
        if p.state != self._open:
            if p.state == getattr(p, "STATE_CONNECTING", 3) and not self._gone():
                p.handle_reply({"type": "websocket.send", "text": text})
            return  # closing or closed: the client resumes from its positions
        if not self._fast():
            p.handle_reply({"type": "websocket.send", "text": text})
            self.check_backlog()
            return
        self.write(ws_text_frame(text))

    def write(self, wire: bytes) -> None:
        t = self._tcp
        if t is None:
            t = self._tcp = _tcp_transport(self.protocol.transport)
        if t is not None and t.connected and not t.disconnecting and t._tempDataLen == 0 \
                and len(t.dataBuffer) == t.offset:
            # Nothing buffered: straight to the kernel, the rest (if any) into Twisted's buffer.
            try:
                sent = t.socket.send(wire)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return  # the connection is gone; Twisted notices on its next read
            if sent < len(wire):
                t.write(wire[sent:])
                self.check_backlog()
            elif self.grace:
                self.grace = 0
            return
        self.protocol.transport.write(wire)
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


class _LazyText:
    """``pprint.pformat(obj)`` deferred until the text is wanted, if ever."""

    __slots__ = ("format", "obj")

    def __init__(self, format, obj):
        self.format, self.obj = format, obj

    def __str__(self) -> str:
        return self.format(self.obj)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def lazy_autobahn_settings_log() -> None:
    """Stop autobahn formatting every new socket's settings for a debug line that is off.

    ``WebSocketProtocol._connectionMade`` passes ``pprint.pformat`` of its 30-odd settings to
    ``log.debug`` eagerly, for every connection: 13 % of a Daphne worker's CPU in a reconnect storm
    of 3,000 sockets (py-spy, docs/protocol.md §9). Its module's ``pformat`` is replaced by one that
    returns a lazy text for that list (formatted only if the line is logged); other callers, which
    need a ``str`` at once, get the real one. Once per process; nothing when autobahn is not loaded."""
    import sys

    module = sys.modules.get("autobahn.websocket.protocol")
    real = getattr(module, "pformat", None)
    if real is None or getattr(real, "lazy", False):
        return

    def pformat(obj, *args, **kwargs):
        if isinstance(obj, list) and not args and not kwargs:
            return _LazyText(real, obj)
        return real(obj, *args, **kwargs)

    pformat.lazy = True
    module.pformat = pformat


def _tcp_transport(t):
    """The plain TCP transport whose socket may be written directly, else None (TLS, wrappers,
    another reactor's transport: those take ``transport.write``)."""
    needed = ("socket", "dataBuffer", "offset", "_tempDataLen", "connected", "disconnecting")
    if t is None or getattr(t, "TLS", True) or not all(hasattr(t, a) for a in needed):
        return None
    return t


# --- any other ASGI server ------------------------------------------------------------------------

@types.coroutine
def _resume(coro, awaited):
    """Finish a coroutine that suspended (yielding ``awaited``) when it was driven by hand."""
    value = awaited
    while True:
        try:
            sent = yield value
        except BaseException as exc:  # noqa: BLE001 - forwarded into the coroutine
            try:
                value = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                value = coro.send(sent)
            except StopIteration as stop:
                return stop.value


class QueuedSender(Sender):
    def __init__(self, send, limit_bytes, on_overflow):
        super().__init__(limit_bytes, on_overflow)
        self.send = send
        self.outbox: deque[dict] = deque()
        self.queued_bytes = 0
        self.writer: asyncio.Task | None = None
        self.failed = False

    def _put(self, message: dict, size: int) -> None:
        if self.failed:
            return
        if self.writer is None and not self.outbox:
            # Drive the ASGI send by hand: most servers' send completes without suspending.
            coro = self.send(message)
            try:
                awaited = coro.send(None)
            except StopIteration:
                return
            except Exception:  # noqa: BLE001 - the socket is gone; the receive loop ends it
                self.failed = True
                return
            self.queued_bytes += size
            self.writer = asyncio.get_running_loop().create_task(
                self._finish(coro, awaited, size))
            return
        self.outbox.append(message)
        self.queued_bytes += size

    async def _finish(self, coro, awaited, size: int) -> None:
        try:
            await _resume(coro, awaited)
        except Exception:  # noqa: BLE001 - the socket is gone; the receive loop ends it
            self._fail()
            self.writer = None
            return
        self.queued_bytes -= size
        await self._drain()

    async def _drain(self) -> None:
        try:
            while self.outbox:
                message = self.outbox.popleft()
                self.queued_bytes -= len(message.get("text", ""))
                try:
                    await self.send(message)
                except Exception:  # noqa: BLE001 - the socket is gone; the receive loop ends it
                    self._fail()
                    return
        finally:
            self.writer = None

    def _fail(self) -> None:
        self.failed = True
        self.outbox.clear()
        self.queued_bytes = 0

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


def _server_send(send):
    """The server's own ``send`` under the middlewares that wrap it without changing what a
    ``websocket.send`` does (Channels' session middleware only acts on ``http.response.start``)."""
    for _ in range(8):
        if isinstance(send, functools.partial):
            break
        inner = getattr(getattr(send, "__self__", None), "real_send", None)
        if inner is None:
            break
        send = inner
    return send


def make_sender(send, *, limit_bytes: int, on_overflow: Callable[[], None]) -> Sender:
    inner = _server_send(send)
    if isinstance(inner, functools.partial) and inner.args:
        server = getattr(inner.func, "__self__", None)
        protocol = inner.args[0]
        if (type(server).__module__.startswith("daphne") and hasattr(protocol, "handle_reply")
                and hasattr(server, "connections")):
            lazy_autobahn_settings_log()
            return DaphneSender(server, protocol, limit_bytes, on_overflow)
    return QueuedSender(send, limit_bytes, on_overflow)
