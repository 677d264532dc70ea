"""The room protocol through real connections (in-memory doorbell, one process)."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from realtime import frames

pytestmark = pytest.mark.django_db(transaction=True)
ROOM = "demo:hall-1"


async def test_a_late_joiner_gets_a_snapshot_then_live_events(people, connect):
    host = await connect(people["host"])
    reply = await host.join(ROOM)
    assert reply["ok"] and reply["payload"]["mode"] == "snapshot"
    assert reply["payload"]["role"] == "host" and reply["payload"]["snapshot"] == {"posts": []}
    posted = await host.command("demo.post", ROOM, text="开标会开始")
    assert posted["ok"] and posted["payload"] == {"stream": "all", "seq": 1}
    push = await host.until(lambda f: f.get("event") == "demo.posted")
    assert push["payload"]["text"] == "开标会开始" and push["seq"] == 1 and push["stream"] == "all"
    assert push["ts"].endswith("Z") and push["epoch"] == reply["payload"]["epoch"]

    alice = await connect(people["alice"])
    reply = await alice.join(ROOM)
    assert reply["payload"]["snapshot"]["posts"][0]["text"] == "开标会开始"
    assert reply["payload"]["positions"] == {"all": 1}
    await host.command("demo.post", ROOM, text="第二条")
    push = await alice.until(lambda f: f.get("event") == "demo.posted")
    assert push["seq"] == 2


async def test_a_reconnecting_client_gets_what_it_missed_in_order_exactly_once(people, connect):
    host = await connect(people["host"])
    await host.join(ROOM)
    alice = await connect(people["alice"])
    first = await alice.join(ROOM)
    for i in range(3):
        await host.command("demo.post", ROOM, text=f"m{i}")
    for _ in range(3):
        await alice.until(lambda f: f.get("event") == "demo.posted")
    held, epoch = alice.held(ROOM), first["payload"]["epoch"]
    await alice.ws.disconnect()
    for i in range(3, 6):
        await host.command("demo.post", ROOM, text=f"m{i}")

    again = await connect(people["alice"])
    again.positions = dict(alice.positions)
    again.epochs = dict(alice.epochs)
    reply = await again.join(ROOM, last_seq=held, epoch=epoch)
    assert reply["payload"]["mode"] == "replay" and reply["payload"]["replayed"] == 3
    assert [p["payload"]["text"] for p in again.pushes] == ["m3", "m4", "m5"]
    assert reply["payload"]["positions"] == {"all": 6}
    await host.command("demo.post", ROOM, text="m6")
    push = await again.until(lambda f: f.get("payload", {}).get("text") == "m6")
    assert push["seq"] == 7 and await again.drain() == []


async def test_a_new_epoch_forces_a_snapshot(people, connect):
    host = await connect(people["host"])
    await host.join(ROOM)
    alice = await connect(people["alice"])
    joined = await alice.join(ROOM)
    await host.command("demo.post", ROOM, text="before")
    await alice.until(lambda f: f.get("event") == "demo.posted")
    reset = await host.command("demo.reset", ROOM)
    assert reset["ok"]
    notice = await alice.until(lambda f: "resync" in f)
    assert notice == frames.resync(ROOM, "epoch")
    alice.epochs.clear()
    alice.positions.clear()
    reply = await alice.join(ROOM, last_seq={"all": 1}, epoch=joined["payload"]["epoch"])
    assert reply["payload"]["mode"] == "snapshot" and reply["payload"]["snapshot"] == {"posts": []}
    assert reply["payload"]["epoch"] == reset["payload"]["epoch"] != joined["payload"]["epoch"]


async def test_a_client_too_far_behind_gets_a_snapshot(people, connect, settings):
    settings.RT_MAX_REPLAY = 2
    host = await connect(people["host"])
    joined = await host.join(ROOM)
    for i in range(4):
        await host.command("demo.post", ROOM, text=f"m{i}")
    alice = await connect(people["alice"])
    reply = await alice.join(ROOM, last_seq=1, epoch=joined["payload"]["epoch"])
    assert reply["payload"]["mode"] == "snapshot" and reply["payload"]["positions"] == {"all": 4}
    # A client claiming more than the log holds is not trusted either.
    bob = await connect(people["bob"])
    reply = await bob.join(ROOM, last_seq=99, epoch=joined["payload"]["epoch"])
    assert reply["payload"]["mode"] == "snapshot"


async def test_a_bidder_never_receives_another_audience_live_or_on_replay(people, connect):
    alice_u, bob_u = people["alice"], people["bob"]
    host = await connect(people["host"])
    await host.join(ROOM)
    alice, bob, sup = (await connect(alice_u), await connect(bob_u), await connect(people["supervisor"]))
    a_join = await alice.join(ROOM)
    await bob.join(ROOM)
    await sup.join(ROOM)
    audiences = ["all", f"org:{bob_u.organisation_id}", f"user:{bob_u.pk}", "role:host",
                 f"org:{alice_u.organisation_id}", "role:bidder", "all"]
    for i, audience in enumerate(audiences):
        assert (await host.command("demo.post", ROOM, text=f"m{i}", audience=audience))["ok"]
    await asyncio.sleep(0.2)
    for c in (alice, bob, sup):
        await c.drain()
    seen = {name: [p["payload"]["text"] for p in c.pushes]
            for name, c in (("alice", alice), ("bob", bob), ("sup", sup))}
    assert seen["alice"] == ["m0", "m4", "m5", "m6"]
    assert seen["bob"] == ["m0", "m1", "m2", "m5", "m6"]
    assert seen["sup"] == [f"m{i}" for i in range(7)]
    # Alice's positions name only her own streams; the others' sizes stay hidden.
    assert set(alice.held(ROOM)) == {"all", f"org:{alice_u.organisation_id}", "role:bidder"}
    assert alice.held(ROOM)["all"] == 2

    # Replay applies the same filter.
    late = await connect(alice_u)
    reply = await late.join(ROOM, last_seq={"all": 0}, epoch=a_join["payload"]["epoch"])
    assert reply["payload"]["mode"] == "replay"
    assert [p["payload"]["text"] for p in late.pushes] == ["m0", "m4", "m5", "m6"]
    # And so does the snapshot.
    fresh = await connect(alice_u)
    reply = await fresh.join(ROOM)
    assert [p["text"] for p in reply["payload"]["snapshot"]["posts"]] == ["m0", "m4", "m5", "m6"]


async def test_commands_are_authorised_by_role_in_the_room(people, connect):
    alice = await connect(people["alice"])
    reply = await alice.command("demo.post", ROOM, text="x")
    assert reply["error"]["code"] == "invalid_state"  # not joined yet
    await alice.join(ROOM)
    reply = await alice.command("demo.post", ROOM, text="x")
    assert reply["error"]["code"] == "forbidden" and reply["error"]["temporary"] is False
    reply = await alice.command("demo.nope", ROOM)
    assert reply["error"]["code"] == "unknown_command"
    reply = await alice.command("room.join", "nosuchkind:1")
    assert reply["error"]["code"] == "not_found"
    reply = await alice.command("room.join", "bad key")
    assert reply["error"]["code"] == "bad_request"  # docs/protocol.md §4: a malformed room
    reply = await alice.command("demo.fail", ROOM)
    assert reply["error"]["code"] == "invalid_state"
    reply = await alice.command("room.join", ROOM, last_seq={"secret": 1})
    assert reply["error"]["code"] == "bad_request"
    assert await alice.drain() == []


async def test_rate_and_size_limits(people, connect, settings):
    settings.RT_RATE_BURST = 3
    settings.RT_RATE_PER_SECOND = 1.0
    alice = await connect(people["alice"])
    big = json.dumps({"v": 1, "id": "big", "cmd": "ping", "payload": {"pad": "x" * frames.MAX_FRAME_BYTES}})
    await alice.ws.send_to(text_data=big)
    reply = await alice.recv()
    assert reply["id"] is None or reply["id"] == "big"
    assert reply["error"]["code"] == "bad_request"
    codes = []
    for _ in range(4):
        codes.append((await alice.command("ping"))["ok"])
    assert codes[:2] == [True, True] and codes[-1] is False
    await alice.ws.send_to(text_data=json.dumps({"v": 1, "id": "r", "cmd": "ping"}))
    reply = await alice.recv()
    assert reply["error"]["code"] == "rate_limited" and reply["error"]["temporary"] is True
    assert reply["error"]["details"]["retry_after_ms"] > 0


async def test_logout_closes_every_socket_of_the_user_only(people, connect):
    from realtime.notify import disconnect_user

    a1, a2, bob = await connect(people["alice"]), await connect(people["alice"]), await connect(people["bob"])
    await database_sync_to_async(disconnect_user)(people["alice"].pk)
    for ws in (a1.ws, a2.ws):
        assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}
    assert (await bob.command("ping"))["ok"]


async def test_revoked_access_takes_the_user_out_of_the_room(people, connect):
    from realtime.notify import revoke_room_access

    alice = await connect(people["alice"])
    await alice.join(ROOM)
    await database_sync_to_async(revoke_room_access)(ROOM, people["alice"].pk)
    notice = await alice.until(lambda f: "resync" in f)
    assert notice["resync"]["reason"] == "access_revoked"


async def test_presence_counts_users_and_devices_for_watchers_only(people, connect, settings):
    settings.RT_PRESENCE_DEBOUNCE_SECONDS = 0.05
    host = await connect(people["host"])
    await host.join(ROOM)
    a1, a2 = await connect(people["alice"]), await connect(people["alice"])
    await a1.join(ROOM)
    await a2.join(ROOM)
    frame = await host.until(lambda f: "presence" in f and
                             f["presence"]["roles"].get("bidder", {}).get("connections") == 2)
    assert frame["presence"]["roles"]["bidder"] == {"users": 1, "connections": 2}
    reply = await a1.command("presence.get", ROOM)
    assert reply["error"]["code"] == "forbidden"
    assert not [n for n in a1.notices if "presence" in n]
    await a2.ws.disconnect()
    frame = await host.until(lambda f: "presence" in f and
                             f["presence"]["roles"].get("bidder", {}).get("connections") == 1)
    reply = await host.command("presence.get", ROOM)
    assert reply["payload"]["roles"]["host"] == {"users": 1, "connections": 1}


async def test_time_sync_and_ping(people, connect):
    alice = await connect(people["alice"])
    reply = await alice.command("time.sync", client_sent=123)
    assert reply["payload"]["client_sent"] == 123 and reply["payload"]["server_ms"] > 0
    assert (await alice.command("ping"))["ok"]
