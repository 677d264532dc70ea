"""The fan-out's fast paths: WebSocket frames built once and written straight to a Daphne socket,
the ASGI ``send`` driven without a task, the handshake's session check, the GC tuning."""

from __future__ import annotations

import asyncio
import functools
import gc
import socket
import struct

import pytest

from realtime import transport
from realtime.transport import DaphneSender, QueuedSender, make_sender, ws_text_frame


def parse_frames(data: bytes) -> list[str]:
    """Unmasked server frames (RFC 6455 §5.2) back to texts."""
    out = []
    while data:
        assert data[0] == 0x81 and not data[1] & 0x80  # FIN + text, unmasked
        n, at = data[1], 2
        if n == 126:
            n, at = struct.unpack(">H", data[2:4])[0], 4
        elif n == 127:
            n, at = struct.unpack(">Q", data[2:10])[0], 10
        out.append(data[at:at + n].decode())
        data = data[at + n:]
    return out


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_a_text_frame_is_framed_as_rfc_6455_says(size):
    text = ("开" * size)[:size] if size % 2 else "x" * size
    assert parse_frames(ws_text_frame(text)) == [text]


def test_one_text_is_framed_once_for_a_whole_fan_out():
    text = "{\"v\":1}" * 10
    first = ws_text_frame(text)
    assert ws_text_frame(text) is first  # the same object: no second encoding
    assert ws_text_frame("other") is not first


# --- a fake Daphne, as far as the sender sees it ------------------------------------------------

class FakeTCP:
    """What the sender reads of Twisted's tcp.Server: a real socket and its buffer."""

    TLS = False

    def __init__(self, sock):
        self.socket, self.connected, self.disconnecting = sock, True, False
        self.dataBuffer, self.offset, self._tempDataLen = b"", 0, 0
        self.buffered: list[bytes] = []

    def write(self, data: bytes) -> None:  # Twisted buffers what the kernel did not take
        self.buffered.append(bytes(data))
        self._tempDataLen += len(data)


class FakeProtocol:
    STATE_CONNECTING, STATE_OPEN, STATE_CLOSING = 3, 1, 2
    SEND_STATE_GROUND = 0

    def __init__(self, transport_):
        self.transport, self.state, self.send_state = transport_, 1, 0
        self._perMessageCompress, self.send_queue, self.autoFragmentSize = None, [], 0
        self.replies: list[dict] = []

    def handle_reply(self, message: dict) -> None:
        self.replies.append(message)


FakeServer = type("Server", (), {"__module__": "daphne.server"})


def fake_daphne(sock):
    server = FakeServer()
    protocol = FakeProtocol(FakeTCP(sock))
    server.connections = {protocol: {"connected": 0}}

    async def handle_reply(protocol, message):
        protocol.handle_reply(message)

    server.handle_reply = handle_reply.__get__(server)  # a bound method, as Daphne's is
    return server, protocol


class SessionWrapper:
    """Channels' InstanceSessionWrapper: ``send`` is a bound method, ``real_send`` the server's."""

    def __init__(self, send):
        self.real_send = send

    async def send(self, message):
        return await self.real_send(message)


def test_under_daphne_frames_go_straight_to_the_socket_in_order():
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        server, protocol = fake_daphne(a)
        send = SessionWrapper(functools.partial(server.handle_reply, protocol)).send
        sender = make_sender(send, limit_bytes=1 << 20, on_overflow=lambda: None)
        assert isinstance(sender, DaphneSender)  # found under the session middleware's wrapper
        for i in range(3):
            sender.send_text(f"push {i}")
        got = b""
        while len(got) < 3 * 8:
            got += b.recv(65536)
        assert parse_frames(got) == ["push 0", "push 1", "push 2"]
        assert protocol.replies == [] and protocol.transport.buffered == []
    finally:
        a.close()
        b.close()


def test_under_daphne_what_the_kernel_does_not_take_is_buffered_behind_and_counts_as_backlog():
    a, b = socket.socketpair()
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    overflowed = []
    try:
        server, protocol = fake_daphne(a)
        sender = DaphneSender(server, protocol, 100_000, lambda: overflowed.append(True))
        big = "y" * 60_000
        sender.send_text(big)  # the kernel takes part; Twisted's buffer gets the rest
        assert protocol.transport.buffered and not overflowed
        sender.send_text("after")  # something is buffered: it must queue behind, not overtake
        assert protocol.transport.buffered[-1] == ws_text_frame("after")
        sender.send_text(big)
        assert overflowed  # over the bound: told (resync + close 4409), never dropped silently
        kernel = b""
        b.setblocking(False)
        try:
            while True:
                kernel += b.recv(1 << 20)
        except BlockingIOError:
            pass
        assert parse_frames(kernel + b"".join(protocol.transport.buffered)) == [big, "after", big]
    finally:
        a.close()
        b.close()


def test_under_daphne_a_closing_socket_gets_nothing_and_compression_takes_autobahns_path():
    a, b = socket.socketpair()
    try:
        server, protocol = fake_daphne(a)
        sender = DaphneSender(server, protocol, 1 << 20, lambda: None)
        protocol.state = protocol.STATE_CLOSING
        sender.send_text("late")
        protocol.state = protocol.STATE_OPEN
        protocol._perMessageCompress = object()
        sender.send_text("deflated")
        assert protocol.replies == [{"type": "websocket.send", "text": "deflated"}]
    finally:
        a.close()
        b.close()


async def test_a_send_that_does_not_suspend_costs_no_task(monkeypatch):
    sent = []

    async def send(message):
        sent.append(message["text"])

    created = []
    loop = asyncio.get_running_loop()
    real = loop.create_task
    monkeypatch.setattr(loop, "create_task", lambda *a, **k: created.append(1) or real(*a, **k))
    sender = QueuedSender(send, 1000, lambda: None)
    for i in range(50):
        sender.send_text(f"m{i}")
    assert sent == [f"m{i}" for i in range(50)] and created == []


async def test_a_send_that_suspends_is_finished_by_one_writer_and_keeps_order():
    gate, sent = asyncio.Event(), []

    async def send(message):
        if message["text"] == "m0":
            await gate.wait()
        sent.append(message["text"])

    sender = QueuedSender(send, 10_000, lambda: None)
    for i in range(5):
        sender.send_text(f"m{i}")
    assert sent == [] and sender.backlog() == 10
    gate.set()
    await asyncio.sleep(0.01)
    assert sent == [f"m{i}" for i in range(5)] and sender.backlog() == 0
    sender.send_text("m5")  # the writer is done: straight through again
    assert sent[-1] == "m5"


@pytest.mark.django_db(transaction=True)
async def test_the_handshake_session_check_sets_the_user_or_an_anonymous_one(people):
    from channels.db import database_sync_to_async
    from django.contrib.sessions.backends.db import SessionStore

    from realtime.connection import SessionAuthMiddleware

    alice = people["alice"]

    def sign_in():
        s = SessionStore()
        s["_auth_user_id"] = str(alice.pk)
        s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        s["_auth_user_hash"] = alice.get_session_auth_hash()
        s.create()
        forged = SessionStore()
        forged.update({"_auth_user_id": str(alice.pk), "_auth_user_hash": "0" * 64,
                       "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"})
        forged.create()
        return s.session_key, forged.session_key

    good, forged = await database_sync_to_async(sign_in)()
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["user"])

    app = SessionAuthMiddleware(inner)
    for cookie in (f"a=1; sessionid={good}", f"sessionid={forged}", "sessionid=nope", ""):
        headers = [(b"cookie", cookie.encode())] if cookie else []
        await app({"type": "websocket", "headers": headers}, None, None)
    assert seen[0].pk == alice.pk
    assert [u.is_authenticated for u in seen[1:]] == [False, False, False]


def test_gc_tuning_freezes_the_start_up_objects_and_raises_the_young_threshold(settings, monkeypatch):
    from realtime import gc_tuning

    before = gc.get_threshold()
    monkeypatch.setattr(gc_tuning, "_gc_tuned", False)
    settings.RT_GC_GEN0 = 12_345
    try:
        gc_tuning.tune_gc()
        assert gc.get_threshold()[0] == 12_345 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_frame_cache_is_only_an_identity_cache():
    text = "".join(["a", "b"])
    wire = ws_text_frame(text)
    twin = "".join(["a", "b"])  # equal, not identical: framed again, same bytes
    assert ws_text_frame(twin) == wire
    assert transport._framed[0] is twin
