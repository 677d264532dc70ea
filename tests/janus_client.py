"""A headless WebRTC client of Janus's VideoRoom for the tests and the bench: aiortc (a WebRTC stack
in Python: ICE, DTLS-SRTP, RTP) over Janus's WebSocket API, with the platform's tokens, as janus.js
does in the browser. ``need_aiortc`` skips (or fails in CI) without it. Also used by
``bench/media_watchers.py`` (so nothing here imports the test configuration at module level)."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

PLUGIN = "janus.plugin.videoroom"


def need_aiortc():
    try:
        import aiortc
    except ImportError:
        from tests.conftest import need_service

        need_service("aiortc", "the Python package is not installed (pip install '.[test]')")
    return aiortc


class JanusWs:
    """One Janus session over one WebSocket."""

    def __init__(self, ws, token: str):
        self.ws, self.token = ws, token
        self.session: int | None = None
        self.waiting: dict[str, asyncio.Future] = {}
        self.events: dict[int, asyncio.Queue] = {}
        self.reader = asyncio.create_task(self._read())
        self.keepalive: asyncio.Task | None = None

    @classmethod
    async def open(cls, url: str, token: str) -> "JanusWs":
        import websockets

        ws = await websockets.connect(url, subprotocols=["janus-protocol"], max_size=None, open_timeout=30)
        self = cls(ws, token)
        self.session = (await self.request({"janus": "create"}))["data"]["id"]
        self.keepalive = asyncio.create_task(self._keepalive())
        return self

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            kind, tx = msg.get("janus"), msg.get("transaction")
            if kind in ("success", "error", "server_info") and tx in self.waiting:
                self.waiting.pop(tx).set_result(msg)
            elif kind == "event" or kind in ("webrtcup", "hangup", "media", "slowlink", "detached"):
                self.events.setdefault(msg.get("sender"), asyncio.Queue()).put_nowait(msg)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(20)
            await self.ws.send(json.dumps({"janus": "keepalive", "session_id": self.session, "token": self.token,
                                           "transaction": secrets.token_hex(6)}))

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        tx = secrets.token_hex(8)
        future = asyncio.get_running_loop().create_future()
        self.waiting[tx] = future
        body = {**body, "transaction": tx, "token": self.token}
        if self.session is not None:
            body.setdefault("session_id", self.session)
        await self.ws.send(json.dumps(body))
        return await asyncio.wait_for(future, 30)

    async def attach(self) -> int:
        answer = await self.request({"janus": "attach", "plugin": PLUGIN})
        if answer.get("janus") == "error":
            raise RuntimeError(answer)
        handle = answer["data"]["id"]
        self.events.setdefault(handle, asyncio.Queue())
        return handle

    async def message(self, handle: int, body: dict, jsep: dict | None = None) -> None:
        msg = {"janus": "message", "handle_id": handle, "body": body}
        if jsep:
            msg["jsep"] = jsep
        tx = secrets.token_hex(8)
        await self.ws.send(json.dumps({**msg, "transaction": tx, "token": self.token, "session_id": self.session}))

    async def event(self, handle: int, timeout: float = 30) -> dict:
        """The next plugin event of ``handle`` (``plugindata.data`` and the ``jsep``)."""
        while True:
            msg = await asyncio.wait_for(self.events.setdefault(handle, asyncio.Queue()).get(), timeout)
            if msg.get("janus") == "event":
                return {**(msg.get("plugindata") or {}).get("data", {}), "_jsep": msg.get("jsep")}

    async def close(self) -> None:
        if self.keepalive:
            self.keepalive.cancel()
        try:
            await self.request({"janus": "destroy"})
        except Exception:  # noqa: BLE001 (closing anyway)
            pass
        await self.ws.close()
        self.reader.cancel()


async def publish(janus: JanusWs, room: str, room_token: str, *, feed: str | None = None, display: str = "x",
                  tracks=None):
    """Join ``room`` as a publisher (with ``feed`` as its id) and send ``tracks`` (default: aiortc's
    silent audio). Returns ``(handle, peer connection, joined event)``."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack

    handle = await janus.attach()
    body = {"request": "join", "ptype": "publisher", "room": room, "display": display, "token": room_token}
    if feed is not None:
        body["id"] = feed
    await janus.message(handle, body)
    joined = await janus.event(handle)
    if joined.get("videoroom") != "joined":
        raise RuntimeError(joined)
    pc = RTCPeerConnection()
    for track in tracks or [AudioStreamTrack()]:
        pc.addTrack(track)
    await pc.setLocalDescription(await pc.createOffer())
    await janus.message(handle, {"request": "configure", "audio": True, "video": True},
                        {"type": "offer", "sdp": pc.localDescription.sdp})
    while True:
        answer = await janus.event(handle)
        if answer.get("_jsep"):
            break
        if answer.get("error_code"):
            raise RuntimeError(answer)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["_jsep"]["sdp"], type="answer"))
    return handle, pc, joined


async def subscribe(janus: JanusWs, room: str, room_token: str, feed: str, *, on_track=None):
    """Subscribe to ``feed`` in ``room``; returns the peer connection (``on_track(track)`` per track)."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    handle = await janus.attach()
    await janus.message(handle, {"request": "join", "ptype": "subscriber", "room": room, "token": room_token,
                                 "streams": [{"feed": feed}]})
    attached = await janus.event(handle)
    if not attached.get("_jsep"):
        raise RuntimeError(attached)
    pc = RTCPeerConnection()
    if on_track:
        pc.on("track", on_track)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=attached["_jsep"]["sdp"], type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    await janus.message(handle, {"request": "start", "room": room}, {"type": "answer", "sdp": pc.localDescription.sdp})
    return pc
