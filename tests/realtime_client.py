"""Signed-in WebSocket clients for any app's tests: they check the protocol's invariants (one reply
per command, gap-free sequences per stream) on everything they receive. The ``connect`` fixture is
offered to every test by tests/conftest.py."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator


class ProtocolClient:
    """A WebSocket client that records pushes and asserts gap-free sequences per stream."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.ws = communicator
        self.pushes: list[dict] = []
        self.notices: list[dict] = []
        self.positions: dict[tuple[str, str], int] = {}
        self.epochs: dict[str, str] = {}
        self.n = 0
        self.unread: list[dict] = []  # frames read while waiting for a reply, for until()/drain()

    def _take(self, frame: dict) -> dict:
        if "seq" in frame and "event" in frame:
            key = (frame["room"], frame["stream"])
            if self.epochs.get(frame["room"]) not in (None, frame["epoch"]):
                raise AssertionError(f"push of another epoch without a join: {frame}")
            expected = self.positions.get(key, 0) + 1
            assert frame["seq"] == expected, f"gap or repeat on {key}: got {frame['seq']}, want {expected}"
            self.positions[key] = frame["seq"]
            self.pushes.append(frame)
        elif "id" not in frame:
            self.notices.append(frame)
        return frame

    async def _read(self, timeout: float) -> dict:
        return self._take(await self.ws.receive_json_from(timeout=timeout))

    async def recv(self, timeout: float = 3) -> dict:
        if self.unread:
            return self.unread.pop(0)
        return await self._read(timeout)

    async def command(self, cmd: str, room: str = "", timeout: float = 5, **payload) -> dict:
        self.n += 1
        cid = f"c{self.n}"
        await self.ws.send_to(text_data=json.dumps({"v": 1, "id": cid, "cmd": cmd, "room": room,
                                                    "payload": payload}))
        while True:
            frame = await self._read(timeout)
            if frame.get("id") == cid:
                return frame
            self.unread.append(frame)

    async def join(self, room: str, **payload) -> dict:
        reply = await self.command("room.join", room, **payload)
        if reply.get("ok"):
            body = reply["payload"]
            self.epochs[room] = body["epoch"]
            if body["mode"] == "snapshot":
                for stream, seq in body["positions"].items():
                    self.positions[(room, stream)] = seq
        return reply

    def held(self, room: str) -> dict[str, int]:
        return {s: n for (r, s), n in self.positions.items() if r == room}

    async def drain(self, timeout: float = 0.3) -> list[dict]:
        got = []
        while True:
            try:
                got.append(await self.recv(timeout))
            except asyncio.TimeoutError:
                return got

    async def until(self, predicate, timeout: float = 5) -> dict:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, end - loop.time()))
            if predicate(frame):
                return frame


@pytest.fixture
async def connect():
    """``await connect(user)`` → a signed-in ``ProtocolClient`` past its hello frame."""
    from channels.db import database_sync_to_async
    from django.test import Client

    from config.asgi import application

    opened = []

    async def make(user, origin=b"http://127.0.0.1:8000") -> ProtocolClient:
        client = Client()
        await database_sync_to_async(client.force_login)(user)
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        ws = WebsocketCommunicator(application, "/ws/v1/", headers=[(b"host", b"127.0.0.1:8000"), (b"origin", origin),
                                                                     (b"cookie", cookie)])
        connected, _ = await ws.connect()
        assert connected
        pc = ProtocolClient(ws)
        hello = await ws.receive_json_from()
        assert "hello" in hello
        opened.append(ws)
        return pc

    yield make
    for ws in opened:
        if ws.future.done():
            continue  # closed by the test or by the server
        try:
            await ws.disconnect()
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - closed meanwhile
            pass
    from realtime.hubs import _HUBS

    hub = _HUBS.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()


class LiveClient:
    """A client of a real server (``websockets``), for the multi-worker tests: joins one room,
    holds every push once, checks gap-free order per stream, resumes from its positions after a
    reconnect. Subclasses keep what they need of the pushes (``on_push``, ``on_snapshot``)."""

    def __init__(self, cookie: str, room: str, name: str = ""):
        self.cookie, self.room, self.name = cookie, room, name
        self.ws = self.reader = None
        self.held: dict[str, int] = {}
        self.epoch = None
        self.replies: dict[str, asyncio.Future] = {}
        self.closed = asyncio.Event()
        self.n = 0

    def on_push(self, frame: dict) -> None:
        pass

    def on_snapshot(self, snapshot: dict) -> None:
        pass

    async def open(self, port: int, read: bool = True) -> dict:
        from websockets.asyncio.client import connect

        self.closed.clear()
        self.ws = await connect(f"ws://127.0.0.1:{port}/ws/v1/", origin="http://127.0.0.1",
                                additional_headers={"Cookie": "sessionid=" + self.cookie},
                                compression=None, ping_interval=None, max_size=2**24)
        json.loads(await self.ws.recv())
        payload = {"last_seq": dict(self.held), "epoch": self.epoch} if self.epoch else {}
        await self.ws.send(json.dumps({"v": 1, "id": "join", "cmd": "room.join", "room": self.room,
                                       "payload": payload}))
        while True:
            frame = self._take(json.loads(await self.ws.recv()))
            if frame.get("id") == "join":
                assert frame["ok"], (self.name, frame)
                body = frame["payload"]
                if body["mode"] == "snapshot":
                    self.held = dict(body["positions"])
                    self.on_snapshot(body.get("snapshot") or {})
                self.epoch = body["epoch"]
                if read:
                    self.reader = asyncio.create_task(self._read())
                return body

    def _take(self, frame: dict) -> dict:
        if "seq" in frame and "event" in frame:
            want = self.held.get(frame["stream"], 0) + 1
            assert frame["seq"] == want, f"{self.name}: gap or repeat: got {frame['seq']} want {want}"
            self.held[frame["stream"]] = frame["seq"]
            self.on_push(frame)
        elif frame.get("id") in self.replies:
            self.replies.pop(frame["id"]).set_result(frame)
        return frame

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                self._take(json.loads(message))
        except Exception:  # noqa: BLE001 - its worker died: the test reconnects
            pass
        self.closed.set()

    async def command(self, cmd: str, **payload) -> dict:
        self.n += 1
        cid = f"c{self.n}"
        self.replies[cid] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"v": 1, "id": cid, "cmd": cmd, "room": self.room, "payload": payload}))
        return await asyncio.wait_for(self.replies[cid], 10)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.wait([self.reader], timeout=2)


async def eventually(predicate, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    assert predicate()
