"""Presence in the opening hall over real WebSockets (issue #7): a bidder sees the host come and go,
and nothing of the other bidders — not a name, not a count (招标投标法 22); host and supervisor keep
the whole summary."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from common import clock
from realtime.presence import summary
from tests.bidding.test_opening_support import five, hall  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_hashing", "bid_storage")]
HOST_SIDE = {"online", "users", "connections"}


def recording(client) -> list[dict]:
    """Every frame ``client`` reads from now on, replies included."""
    seen = []
    take = client._take

    def record(frame):
        seen.append(frame)
        return take(frame)

    client._take = record
    return seen


def presence_frames(seen) -> list[dict]:
    return [f["presence"] for f in seen if "presence" in f]


async def test_a_bidder_sees_the_host_come_and_go_and_nothing_of_other_bidders(hall, connect, settings):
    settings.RT_PRESENCE_DEBOUNCE_SECONDS = 0.05
    people, room = hall["people"], f"hall:{hall['lot'].pk}"
    alice = await connect(people["alice"])
    seen = recording(alice)
    assert (await alice.join(room))["payload"]["role"] == "bidder"
    first = await alice.until(lambda f: "presence" in f)
    assert first["presence"] == {"host": {"online": False, "users": 0, "connections": 0}}

    host = await connect(people["host"])
    await host.join(room)
    frame = await alice.until(lambda f: "presence" in f)
    assert frame["presence"] == {"host": {"online": True, "users": 1, "connections": 1}}

    # Other bidders and a supervisor come in: the host sees them; alice's view does not change,
    # so she is sent nothing, and each newcomer gets its own view once.
    others = []
    for name in ("bob", "carol", "dave"):
        other = await connect(people[name])
        await other.join(room)
        others.append(other)
    supervisor = await connect(people["supervisor"])
    await supervisor.join(room)
    await host.until(lambda f: "presence" in f and f["presence"]["roles"].get("bidder", {}).get("users") == 4
                     and "supervisor" in f["presence"]["roles"])
    for other in others:
        got = await other.until(lambda f: "presence" in f)
        assert got["presence"] == {"host": {"online": True, "users": 1, "connections": 1}}

    # presence.get: the bidder's view is filtered the same way; host and supervisor see it all.
    reply = await alice.command("presence.get", room)
    assert reply["payload"] == {"host": {"online": True, "users": 1, "connections": 1}}
    full = await database_sync_to_async(summary)(room, now=clock.now())
    assert full["roles"]["bidder"] == {"users": 4, "connections": 4}
    for watcher in (host, supervisor):
        reply = await watcher.command("presence.get", room)
        assert reply["payload"] == full
    assert {u["name"] for u in full["users"] if u["role"] == "bidder"} >= {"bob", "carol", "dave"}

    # The host leaves and comes back: alice hears both, once each.
    await host.ws.disconnect()
    frame = await alice.until(lambda f: "presence" in f)
    assert frame["presence"] == {"host": {"online": False, "users": 0, "connections": 0}}
    again = await connect(people["host"])
    await again.join(room)
    frame = await alice.until(lambda f: "presence" in f)
    assert frame["presence"]["host"]["online"] is True
    await alice.drain(0.3)

    pushed = presence_frames(seen)
    assert [p["host"]["online"] for p in pushed] == [False, True, False, True]
    assert all(set(p) == {"host"} and set(p["host"]) == HOST_SIDE for p in pushed)
    everything, presence_text = json.dumps(seen, ensure_ascii=False), json.dumps(pushed, ensure_ascii=False)
    for name in ("bob", "carol", "dave", "erin"):
        org = people[name].organisation
        assert org.name not in everything and org.credit_code not in everything, name
        assert name not in presence_text
