"""What a reconnect storm (issue 4) costs per socket: a lean ``room.join`` (the replay decided and
fetched in one query, presence written in batches) giving the same answers as the plan it replaced
(docs/protocol.md §5), and no eager debug formatting in the handshake."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import clock
from realtime.audience import Viewer, to_org, to_user
from realtime.commands import do_join
from realtime.demo import DemoRoom
from realtime.log import append_event, replay_after, reset_epoch
from realtime.models import Presence, Room
from realtime.presence import CLOSED, apply_changes, entry

pytestmark = pytest.mark.django_db
ROOM = "demo:lean"
BIDDER = Viewer(user_id=3, org_id=8, role="bidder")


def _log(*audiences: str) -> str:
    now = clock.now()
    for audience in audiences:
        append_event(ROOM, "demo.posted", {"text": audience}, audience=audience, now=now)
    return Room.objects.get(key=ROOM).epoch


def _seqs(records) -> list[int]:
    return [r.seq for r in records]


def test_the_replay_is_what_the_client_lacks_of_its_streams_in_room_order():
    epoch = _log("all", to_org(8), "all", to_org(9), to_user(3), "all")  # seq 1..6
    # org:8 not mentioned: replayed from its start; org:9 is another audience: never.
    assert _seqs(replay_after(ROOM, epoch, BIDDER, {"all": 1}, limit=10)) == [2, 3, 5, 6]
    assert _seqs(replay_after(ROOM, epoch, BIDDER, {"all": 2, "org:8": 1, "user:3": 1}, limit=10)) == [6]
    assert replay_after(ROOM, epoch, BIDDER, {"all": 3, "org:8": 1, "user:3": 1}, limit=10) == []
    assert _seqs(replay_after(ROOM, epoch, BIDDER, {"all": 0}, limit=10)) == [1, 2, 3, 5, 6]
    # A held position of a stream the viewer cannot see is ignored, as the live filter ignores it.
    assert _seqs(replay_after(ROOM, epoch, BIDDER, {"all": 3, "org:9": 5, "org:8": 1, "user:3": 1},
                              limit=10)) == []
    supervisor = Viewer(user_id=1, org_id=None, role="supervisor", sees_all=True)
    assert _seqs(replay_after(ROOM, epoch, supervisor, {"all": 3}, limit=10)) == [2, 4, 5]


def test_no_replay_when_ahead_of_the_log_in_another_epoch_too_far_behind_or_no_room():
    epoch = _log("all", "all", to_org(8))
    assert replay_after(ROOM, epoch, BIDDER, {"all": 3}, limit=10) is None  # ahead: only 2 in "all"
    assert replay_after(ROOM, epoch, BIDDER, {"all": 2, "org:8": 2}, limit=10) is None
    assert replay_after(ROOM, "0" * 16, BIDDER, {"all": 1}, limit=10) is None
    assert replay_after(ROOM, "0" * 16, BIDDER, {"all": 0}, limit=10) is None  # nothing back: asked
    assert replay_after("demo:nowhere", epoch, BIDDER, {"all": 0}, limit=10) is None
    assert _seqs(replay_after(ROOM, epoch, BIDDER, {"all": 0}, limit=3)) == [1, 2, 3]
    assert replay_after(ROOM, epoch, BIDDER, {"all": 0}, limit=2) is None  # 3 missing > 2
    assert _seqs(replay_after(ROOM, epoch, BIDDER, {"all": 1}, limit=2)) == [2, 3]
    new = reset_epoch(ROOM, now=clock.now())
    assert replay_after(ROOM, epoch, BIDDER, {"all": 2}, limit=10) is None  # the old epoch
    assert replay_after(ROOM, new, BIDDER, {"all": 0}, limit=10) == []


def test_a_join_that_replays_is_one_query_after_the_kinds_authorisation(people):
    epoch = _log("all", "all", "all")
    alice, now = people["alice"], clock.now()
    with CaptureQueriesContext(connection) as queries:
        plan = do_join(DemoRoom(), ROOM, alice, held={"all": 1}, epoch=epoch, now=now)
    assert plan.mode == "replay" and _seqs(plan.events) == [2, 3] and plan.positions == {"all": 1}
    assert len(queries) == 1  # the demo kind authorises without the database
    # Ahead, stale epoch, no positions: a snapshot under the room lock, as before.
    for held, ep in [({"all": 9}, epoch), ({"all": 1}, "0" * 16), (None, None), ({"all": 1}, None)]:
        plan = do_join(DemoRoom(), ROOM, alice, held=held, epoch=ep, now=now)
        assert plan.mode == "snapshot" and plan.positions == {"all": 3} and plan.epoch == epoch
        assert len(plan.snapshot["posts"]) == 3


def test_presence_changes_apply_in_order_in_one_batch(people):
    alice, bob, now = people["alice"], people["bob"], clock.now()

    def joined(conn, key, user):
        return entry(conn_id=conn, room_key=key, user=user, role="bidder", worker="w1", now=now)

    apply_changes([(c, [k], joined(c, k, alice)) for c in ("c1", "c2") for k in ("demo:a", "demo:b")])
    assert Presence.objects.count() == 4
    apply_changes([
        ("c1", ["demo:a"], None),                       # left one room
        ("c2", ["demo:a"], CLOSED),                     # closed: every row of it, even unnamed rooms
        ("c3", ["demo:a"], joined("c3", "demo:a", bob)),
        ("c3", ["demo:a"], None),                       # a leave after its join is not undone
        ("c4", ["demo:a"], joined("c4", "demo:a", bob)),
        ("c1", ["demo:b"], joined("c1", "demo:b", bob)),  # a repeated join updates its row
    ])
    rows = set(Presence.objects.values_list("conn_id", "room_key", "user_id"))
    assert rows == {("c1", "demo:b", bob.pk), ("c4", "demo:a", bob.pk)}


def test_autobahn_formats_a_new_sockets_settings_only_if_its_debug_line_is_logged(monkeypatch):
    import inspect
    import pprint

    from autobahn.websocket import protocol

    from realtime.transport import lazy_autobahn_settings_log

    # Where autobahn formats them eagerly, for every connection (an upgrade that moves it shows here).
    assert "pformat(configAttrLog)" in inspect.getsource(protocol.WebSocketProtocol._connectionMade)
    monkeypatch.setattr(protocol, "pformat", pprint.pformat)
    lazy_autobahn_settings_log()
    lazy_autobahn_settings_log()  # once per process: not wrapped twice
    settings = [("openHandshakeTimeout", 30, "WebSocketServerFactory"), ("autoPingInterval", 0, "x")]
    text = protocol.pformat(settings)
    assert not isinstance(text, str)
    assert str(text) == f"{text}" == pprint.pformat(settings)
    assert protocol.pformat({"a": 1}) == pprint.pformat({"a": 1})  # Timings.__str__ needs a str now
    assert protocol.pformat.__closure__[0].cell_contents is pprint.pformat


async def test_no_socket_joins_before_its_worker_has_subscribed_to_the_doorbells(settings, monkeypatch):
    """Sockets arriving together at a fresh worker: the second must wait for the first's Redis
    connection, else its room is never subscribed and its events come only by polling."""
    import asyncio

    import redis.asyncio as aioredis

    from realtime.doorbell import room_channel
    from realtime.hub import Hub, HubRoom

    loop = asyncio.get_running_loop()
    hub = Hub(loop)
    connected, subscribed = asyncio.Event(), []

    class PubSub:
        async def subscribe(self, *channels):
            if not subscribed:
                # A room joined while the connection is being made (as on a reconnect).
                hub.rooms["demo:meanwhile"] = HubRoom("demo:meanwhile")
                await connected.wait()
            subscribed.extend(channels)

    class Client:
        def pubsub(self, **kwargs):
            return PubSub()

    async def idle():
        await asyncio.Event().wait()

    settings.REDIS_URL, settings.RT_GC_TUNING = "redis://127.0.0.1:1/0", False
    monkeypatch.setattr(aioredis.Redis, "from_url", lambda *a, **kw: Client())
    monkeypatch.setattr(hub, "_read_redis", idle)
    monkeypatch.setattr(hub, "_maintain", idle)
    hub.rooms["demo:before"] = HubRoom("demo:before")
    first, second = loop.create_task(hub.start()), loop.create_task(hub.start())
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done() and hub.pubsub is None
    connected.set()
    await asyncio.wait_for(asyncio.gather(first, second), 2)
    assert hub.pubsub is not None
    assert room_channel("demo:before") in subscribed and room_channel("demo:meanwhile") in subscribed
    await hub.stop()
