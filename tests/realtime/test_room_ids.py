"""One canonical spelling per room (#19): a room id is parsed, and served only when the key equals
its canonical form; anything else — ``hall:02``, ``HALL 1``, over 183 characters — is
``bad_request`` (docs/protocol.md §4), reaches no action and never creates a ``Room`` row.

Probed with a raw client written from docs/protocol.md alone (JSON text frames over the ASGI
WebSocket, no helper of the project's own clients), as an attacker would."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from bidding.models import Opening
from config.asgi import application
from realtime.kinds import decimal_id
from realtime.models import Room
from realtime.timers import run_due_timers
from tests.bidding.conftest import bid_storage  # noqa: F401
from tests.bidding.test_opening_support import five, hall  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


class RawClient:
    """docs/protocol.md §1–§3 and nothing else: a cookie, an Origin, JSON text frames."""

    def __init__(self, ws: WebsocketCommunicator):
        self.ws, self.n, self.frames = ws, 0, []

    @classmethod
    async def open(cls, user) -> "RawClient":
        client = Client()
        await database_sync_to_async(client.force_login)(user)
        ws = WebsocketCommunicator(application, "/ws/v1/", headers=[
            (b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())])
        connected, _ = await ws.connect()
        assert connected
        assert "hello" in json.loads(await ws.receive_from(timeout=3))
        return cls(ws)

    async def send(self, cmd: str, room: str = "", **payload) -> dict:
        self.n += 1
        cid = f"r{self.n}"
        await self.ws.send_to(text_data=json.dumps({"v": 1, "id": cid, "cmd": cmd, "room": room,
                                                    "payload": payload}))
        while True:
            frame = json.loads(await self.ws.receive_from(timeout=5))
            if frame.get("id") == cid:
                return frame
            self.frames.append(frame)

    async def read_all(self, timeout: float = 0.3) -> list[dict]:
        while not await self.ws.receive_nothing(timeout=timeout):
            self.frames.append(json.loads(await self.ws.receive_from()))
        return self.frames


@pytest.fixture(autouse=True)
async def _stop_hub():
    yield
    import asyncio

    from realtime.hubs import _HUBS

    hub = _HUBS.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()


def aliases(lot_id: int) -> list[str]:
    n = str(lot_id)
    return [f"hall:0{n}", f"hall:00{n}", f"hall:{'0' * 140}{n}", f"HALL:{n}", f"HALL {n}", f"hall: {n}",
            f"hall:{n} ", f"hall:{n}:", f"hall:{n}.0", f"hall:{n}_", f"hall:{n[0]}_{n[1:]}" if len(n) > 1
            else f"hall:_{n}", "hall:0", "hall:-1", "hall:" + "9" * 179, "hall:" + "1" * 200,
            "venue:01:1", "venue:1:01", "venue:1", "console:ALL", "console:all:", " "]


def test_decimal_ids_have_one_spelling():
    assert decimal_id("2") == 2 and decimal_id("1234567890") == 1234567890
    for text in ("02", "0", "+2", "-2", "1_0", "٢", "2 ", " 2", "2.0", "", "1" * 19, None, 2):
        with pytest.raises(ValueError):
            decimal_id(text)


async def test_an_alias_of_a_hall_is_bad_request_and_reaches_nothing(hall, settings):
    settings.RT_RATE_BURST = 1000  # many probes from one client
    people, lot = hall["people"], hall["lot"]
    await database_sync_to_async(run_due_timers)(lot.signin_opens_at + timedelta(seconds=1))
    await database_sync_to_async(run_due_timers)(lot.bid_deadline + timedelta(seconds=1))
    room = f"hall:{lot.pk}"
    host, alice = await RawClient.open(people["host"]), await RawClient.open(people["alice"])
    assert (await host.send("room.join", room))["ok"]
    rooms = await database_sync_to_async(Room.objects.count)()

    for alias in aliases(lot.pk):
        joined = await alice.send("room.join", alias)
        assert joined["ok"] is False and joined["error"]["code"] == "bad_request", (alias, joined)
        chat = await alice.send("hall.chat", alias, text="经别名发送")
        assert chat["error"]["code"] == "bad_request", (alias, chat)
        pause = await host.send("hall.pause", alias, reason="经别名暂停")
        assert pause["error"]["code"] == "bad_request", (alias, pause)

    # Nothing happened: no row for any alias, the hall is not paused, the host got no chat.
    assert await database_sync_to_async(Room.objects.count)() == rooms
    assert not await database_sync_to_async(Room.objects.filter(key__startswith="hall:0").exists)()
    op = await database_sync_to_async(Opening.objects.get)(lot=lot)
    assert not op.paused
    assert not [f for f in await host.read_all() if f.get("event") == "hall.chat"]

    # The canonical key still works for both, so the refusals above were about the spelling.
    assert (await alice.send("room.join", room))["ok"]
    assert (await alice.send("hall.chat", room, text="正常发送"))["ok"]
    assert (await host.send("hall.pause", room, reason="正常暂停"))["ok"]
    await database_sync_to_async(op.refresh_from_db)()
    assert op.paused
    assert await database_sync_to_async(Room.objects.count)() == rooms
    for client in (host, alice):
        await client.ws.disconnect()


async def test_a_malformed_room_is_bad_request_and_an_unknown_kind_not_found(people):
    alice = await RawClient.open(people["alice"])
    for room in ("HALL 1", "hall:" + "1" * 179, "x" * 184, "a:" + "b" * 182, "hall:1\n", "hall:", ":1"):
        reply = await alice.send("room.join", room)
        assert reply["error"]["code"] == "bad_request", (room, reply)
    assert (await alice.send("room.join", "nosuchkind:1"))["error"]["code"] == "not_found"
    assert await database_sync_to_async(Room.objects.count)() == 0
    await alice.ws.disconnect()
