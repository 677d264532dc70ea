"""Senders checked as they publish (docs/media.md, "The patrol"): Janus's event handler posts the
VideoRoom's events to ``/media/events`` and a sender the platform did not grant is kicked at once.
The patrol is set to an hour and no ticker runs, so only the event can have cut the forged sender;
a granted sender is left alone; only Janus (Basic with the events secret) may post."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time

import pytest
from channels.db import database_sync_to_async

from crypto.media_tokens import feed_id, room_token, session_token

pytestmark = pytest.mark.django_db(transaction=True)
PLUGIN = "janus.plugin.videoroom"


@pytest.fixture
def janus(tmp_path, settings, live_server):
    from tests.media_server import start_janus

    secret = secrets.token_urlsafe(24)
    settings.MEDIA_EVENTS_SECRET = secret
    settings.MEDIA_PATROL_SECONDS = 3600
    server = start_janus(tmp_path / "janus", events_url=f"{live_server.url}/media/events", events_secret=secret)
    server.settings(settings)
    yield server
    server.stop()


def _room(janus, room: str) -> None:
    from common import clock
    from realtime.janus import janus_api
    from realtime.media_patrol import schedule_patrol

    janus_api().ensure_room(room, description="t", publishers=4, rec_dir="")
    schedule_patrol("hall:1", room, None, clock.now())


def _removed() -> list[dict]:
    from audit.models import AuditEntry

    return [json.loads(e.body)["data"] for e in AuditEntry.objects.filter(action="realtime.media.sender_removed")]


async def _participants(room: str) -> dict[str, bool]:
    from realtime.janus import janus_api

    listed = await asyncio.to_thread(janus_api().participants, room)
    return {str(p["id"]): bool(p.get("publisher")) for p in listed}


async def test_a_forged_sender_is_cut_as_it_publishes_and_a_granted_one_stays(janus):
    from tests.janus_client import JanusWs, need_aiortc, publish

    need_aiortc()
    room = "hall-1"
    await database_sync_to_async(_room)(janus, room)
    expires = int(time.time()) + 120
    tokens = (session_token(janus.token_secret, expires=expires, plugin=PLUGIN),
              room_token(janus.token_secret, expires=expires, plugin=PLUGIN, room=room))
    honest_ws = await JanusWs.open(janus.ws_url, tokens[0])
    forged_ws = await JanusWs.open(janus.ws_url, tokens[0])
    pcs = []
    try:
        good = feed_id(janus.token_secret, room=room, user=7)
        _, pc, _ = await publish(honest_ws, room, tokens[1], feed=good, display="host")
        pcs.append(pc)
        # A watcher (it has a room token) crafts a sender with an id of its own.
        _, pc, _ = await publish(forged_ws, room, tokens[1], feed="u8-forged", display="intruder")
        pcs.append(pc)
        started, seen = time.monotonic(), {}
        while time.monotonic() - started < 5:
            seen = await _participants(room)
            if seen.get(good) and "u8-forged" not in seen:
                break
            await asyncio.sleep(0.1)
        took = time.monotonic() - started
        assert seen.get(good) is True and "u8-forged" not in seen, seen
        assert took < 3, took  # the patrol's period is an hour here: this was the event
        removed = await database_sync_to_async(_removed)()
        assert removed == [{"media_room": room, "feed": "u8-forged", "display": "", "seen_by": "event"}], removed
        # The patrol (or a late second event) seeing the same sender again audits nothing more.
        from realtime.janus import janus_api
        from realtime.media_patrol import remove_sender

        again = await database_sync_to_async(remove_sender)(janus_api(), room, "u8-forged", display="", room_key="hall:1",
                                                            tender_id=None, now=None, seen_by="patrol")
        assert again is False and len(await database_sync_to_async(_removed)()) == 1
    finally:
        for pc in pcs:
            await pc.close()
        await honest_ws.close()
        await forged_ws.close()


def test_only_the_media_server_may_post_events(client, settings):
    settings.MEDIA_EVENTS_SECRET = "s3cret"
    event = [{"type": 64, "event": {"plugin": PLUGIN, "data": {"event": "published", "room": "hall-1", "id": "x"}}}]

    def post(auth: str | None, body=json.dumps(event)):
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        return client.post("/media/events", body, content_type="application/json", **headers)

    basic = lambda user, pw: "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()  # noqa: E731
    assert post(None).status_code == 401
    assert post(basic("janus", "wrong")).status_code == 401
    assert post(basic("other", "s3cret")).status_code == 401
    assert post("Basic %%%").status_code == 401
    assert post(basic("janus", "s3cret"), "{not json").json()["error"]["code"] == "bad_request"
    assert post(basic("janus", "s3cret"), "42").status_code == 400
    big = post(basic("janus", "s3cret"), "x" * (300 * 1024))
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    assert post(basic("janus", "s3cret")).status_code == 200  # a room the platform never made: ignored
    assert client.get("/media/events").status_code == 405
    settings.MEDIA_EVENTS_SECRET = ""
    assert post(basic("janus", "")).status_code == 404


def test_which_events_name_a_forged_sender(settings):
    from realtime.media_events import forged_senders

    settings.MEDIA_TOKEN_SECRET = "k" * 32
    good = feed_id(settings.MEDIA_TOKEN_SECRET, room="hall-1", user=3)
    ev = lambda kind, feed, plugin=PLUGIN, t=64: {"type": t, "event": {"plugin": plugin, "data": {  # noqa: E731
        "event": kind, "room": "hall-1", "id": feed}}}
    assert forged_senders([ev("published", "u3-bad"), ev("configured", "z"), ev("published", good),
                           ev("joined", "watcher"), ev("published", "y", plugin="janus.plugin.other"),
                           ev("published", "y", t=32), "junk", {"type": 64, "event": "x"}]) == [
        ("hall-1", "u3-bad"), ("hall-1", "z")]


def test_the_event_handler_is_rendered_only_with_its_secret():
    from realtime.media_config import JanusSetup, render

    base = dict(folder="/x", token_secret="t", admin_key="a")
    plain = render(JanusSetup(**base))
    assert "janus.eventhandler.sampleevh.jcfg" not in plain and "broadcast = false" in plain["janus.jcfg"]
    assert "libjanus_sampleevh.so" in plain["janus.jcfg"]  # disabled with the other handlers
    with pytest.raises(ValueError):
        render(JanusSetup(**base, events_url="http://127.0.0.1:8000/media/events"))
    on = render(JanusSetup(**base, events_url="http://127.0.0.1:8000/media/events", events_secret="s"))
    evh = on["janus.eventhandler.sampleevh.jcfg"]
    assert 'backend = "http://127.0.0.1:8000/media/events"' in evh and 'backend_pwd = "s"' in evh
    assert "broadcast = true" in on["janus.jcfg"] and "libjanus_sampleevh.so" not in on["janus.jcfg"]
    assert "events = true" in on["janus.plugin.videoroom.jcfg"]


def test_a_granted_sender_that_stops_counts_as_gone_at_once(client, settings):
    """The patrol last saw users 3 and 4 sending; an event says 4 left: the view used by the
    evaluation's media-loss lock drops 4 now (its time stays the patrol's); a forged id changes nothing."""
    from common import clock
    from realtime.media_patrol import media_senders
    from realtime.models import RoomTimer

    settings.MEDIA_EVENTS_SECRET, settings.MEDIA_TOKEN_SECRET = "s3cret", "k" * 32
    now = clock.now()
    RoomTimer.objects.create(kind="media.patrol", room_key="venue:1:1", next_check=now,
                             payload={"media_room": "eval-1", "senders": [3, 4], "ever": [3, 4],
                                      "at": now.isoformat()})
    feed = lambda user: feed_id(settings.MEDIA_TOKEN_SECRET, room="eval-1", user=user)  # noqa: E731
    ev = lambda kind, f: {"type": 64, "event": {"plugin": PLUGIN, "data": {"event": kind, "room": "eval-1", "id": f}}}  # noqa: E731
    auth = "Basic " + base64.b64encode(b"janus:s3cret").decode()

    def post(*events):
        res = client.post("/media/events", json.dumps(list(events)), content_type="application/json",
                          HTTP_AUTHORIZATION=auth)
        assert res.status_code == 200

    post(ev("leaving", feed(4)), ev("unpublished", "u3-forged"))
    assert media_senders("eval-1", now=now) == ({3}, {3, 4})
    post(ev("published", feed(5)))
    assert media_senders("eval-1", now=now) == ({3, 5}, {3, 4, 5})
    post(ev("unpublished", feed(3)), ev("leaving", feed(5)))
    assert media_senders("eval-1", now=now) == (set(), {3, 4, 5})
