"""``media.token`` (docs/protocol.md §3, docs/media.md): the platform issues short-lived Janus tokens
from its own access rules, and the real media server (Debian's Janus, started from the platform's
rendered configuration) admits exactly those: the right room, in time, signed by the platform."""

from __future__ import annotations

import json
import random
import time
import urllib.parse
import urllib.request

import pytest
from channels.db import database_sync_to_async

from crypto.media_tokens import check_janus_token, feed_id, room_token, session_token
from evaluation.state import room_key

pytestmark = pytest.mark.django_db(transaction=True)
PLUGIN = "janus.plugin.videoroom"


@pytest.fixture
def janus(tmp_path, settings):
    from tests.media_server import start_janus

    server = start_janus(tmp_path / "janus")
    server.settings(settings)
    yield server
    server.stop()


@pytest.fixture
def scenario():
    from evaluation.testing import build

    return build()


def _post(url: str, body: dict) -> dict:
    body = {**body, "transaction": str(random.random())}
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def janus_join(api: str, session_tok: str, room_tok: str | None, room: str, *, display: str = "x",
               feed: str | None = None) -> dict:
    """Join ``room`` as a publisher through Janus's own API, as janus.js does: the session token in
    every request, the room token in the join body. Returns Janus's answer (an error of the core,
    or the VideoRoom's event)."""
    created = _post(api, {"janus": "create", "token": session_tok})
    if created.get("janus") == "error":
        return created
    session = created["data"]["id"]
    handle = _post(f"{api}/{session}", {"janus": "attach", "plugin": PLUGIN, "token": session_tok})
    if handle.get("janus") == "error":
        return handle
    body = {"request": "join", "ptype": "publisher", "room": room, "display": display}
    if room_tok is not None:
        body["token"] = room_tok
    if feed is not None:
        body["id"] = feed
    _post(f"{api}/{session}/{handle['data']['id']}", {"janus": "message", "body": body, "token": session_tok})
    query = urllib.parse.urlencode({"token": session_tok, "maxev": 1})
    with urllib.request.urlopen(f"{api}/{session}?{query}", timeout=10) as response:
        event = json.loads(response.read())
    return event["plugindata"]["data"]


async def joined_token(connect, user, room: str) -> dict:
    client = await connect(user)
    reply = await client.join(room)
    assert reply["ok"], reply
    return await client.command("media.token", room)


async def test_the_media_room_admits_the_token_the_platform_issued_and_nothing_else(connect, scenario, janus):
    sc = scenario
    main, sub = sc.venues[0], sc.venues[1]
    expert = next(u for c, u in sc.experts.items() if sc.members[c].venue_id == sub.pk)
    reply = await joined_token(connect, expert, room_key(sc.session.pk, sub.pk))
    assert reply["ok"], reply
    got = reply["payload"]
    assert got["server"] == janus.ws_url and got["plugin"] == PLUGIN
    assert got["media_room"] == f"eval-{sc.session.pk}" and got["publish"] is True
    assert got["expires_in"] == 120 and got["ice_servers"] == []
    assert "副场1" in got["display"]
    assert got["feed"] == feed_id(janus.token_secret, room=got["media_room"], user=expert.pk)
    expires, realm, descriptors = check_janus_token(janus.token_secret, got["room_token"], now=int(time.time()))
    assert realm == PLUGIN and descriptors == [f"room={got['media_room']}"]
    assert int(time.time()) + 110 < expires <= int(time.time()) + 121

    ok = await database_sync_to_async(janus_join)(janus.api_url, got["session_token"], got["room_token"],
                                                  got["media_room"], feed=got["feed"])
    assert ok.get("videoroom") == "joined" and ok["id"] == got["feed"], ok
    # The patrol sees it (a participant, not sending yet) and leaves it alone.
    from realtime.janus import janus_api
    from realtime.media_patrol import patrol_room

    listed = await database_sync_to_async(janus_api().participants)(got["media_room"])
    assert [p["id"] for p in listed] == [got["feed"]]
    done = await database_sync_to_async(patrol_room)(janus_api(), got["media_room"], room_key="x",
                                                     tender_id=None, now=None)
    assert done == {"exists": True, "removed": [], "sealed": 0, "senders": []}  # joined, not sending yet

    # Another session's room (the id guessed): the token does not name it.
    other = f"eval-{sc.session.pk + 1000}"
    await database_sync_to_async(_create_room)(janus, other)
    refused = await database_sync_to_async(janus_join)(janus.api_url, got["session_token"], got["room_token"], other)
    assert refused.get("error_code") == 433, refused
    # No room token at all, a room token re-signed with another key, an expired one.
    none = await database_sync_to_async(janus_join)(janus.api_url, got["session_token"], None, got["media_room"])
    assert none.get("error_code") == 433, none
    forged = room_token("not-the-platform-secret", expires=expires, plugin=PLUGIN, room=got["media_room"])
    refused = await database_sync_to_async(janus_join)(janus.api_url, got["session_token"], forged,
                                                       got["media_room"])
    assert refused.get("error_code") == 433, refused
    late = int(time.time()) - 1
    stale = await database_sync_to_async(janus_join)(
        janus.api_url, session_token(janus.token_secret, expires=late, plugin=PLUGIN),
        room_token(janus.token_secret, expires=late, plugin=PLUGIN, room=got["media_room"]), got["media_room"])
    assert stale.get("janus") == "error" and stale["error"]["code"] == 403, stale
    # A session token edited to another expiry keeps its old signature: refused by the core.
    data, _, signature = got["session_token"].partition(":")
    edited = f"{int(data.split(',')[0]) + 3600},{data.split(',', 1)[1]}:{signature}"
    bad = await database_sync_to_async(janus_join)(janus.api_url, edited, got["room_token"], got["media_room"])
    assert bad.get("janus") == "error" and bad["error"]["code"] == 403, bad

    # The main venue's staff share the session's one media room; the supervisor watches, muted.
    staff = await joined_token(connect, sc.staff[main.pk], room_key(sc.session.pk, main.pk))
    assert staff["payload"]["media_room"] == got["media_room"] and staff["payload"]["publish"] is True
    watch = await joined_token(connect, sc.supervisor, room_key(sc.session.pk, sub.pk))
    assert watch["payload"]["media_room"] == got["media_room"] and watch["payload"]["publish"] is False
    assert watch["payload"]["feed"] is None

    issued = await database_sync_to_async(audited)("realtime.media.token_issued")
    assert len(issued) == 3 and {d["publish"] for d in issued} == {True, False}
    assert {d["media_room"] for d in issued} == {got["media_room"]}


def audited(action: str) -> list[dict]:
    from audit.models import AuditEntry

    return [json.loads(b)["data"] for b in AuditEntry.objects.filter(action=action).values_list("body", flat=True)]


def _create_room(janus, room: str) -> None:
    from realtime.janus import janus_api

    assert janus_api().ensure_room(room, description="guessed", publishers=4, rec_dir="")


async def test_no_token_without_joining_the_platform_room_first(connect, scenario, janus):
    sc = scenario
    outsider = sc.bidder_users[next(iter(sc.bidder_users))]
    client = await connect(outsider)
    key = room_key(sc.session.pk, sc.venues[0].pk)
    refused = await client.command("media.token", key)
    assert not refused["ok"] and refused["error"]["code"] == "invalid_state"
    joined = await client.join(key)  # a bidder is no member of the committee's rooms
    assert not joined["ok"] and joined["error"]["code"] == "not_found"
    refused = await client.command("media.token", key)
    assert refused["error"]["code"] == "invalid_state"
    bad = await client.command("media.token", "venue:01:1")
    assert bad["error"]["code"] == "bad_request"


async def test_without_a_media_server_the_answer_is_media_unavailable(connect, scenario, settings):
    sc = scenario
    settings.MEDIA_JANUS_WS = ""
    reply = await joined_token(connect, sc.staff[sc.venues[0].pk], room_key(sc.session.pk, sc.venues[0].pk))
    assert reply["error"]["code"] == "media_unavailable" and reply["error"]["temporary"] is True


async def test_a_configured_but_silent_media_server_is_media_unavailable(connect, scenario, settings):
    from tests.media_server import free_port

    sc = scenario
    settings.MEDIA_JANUS_WS = "ws://127.0.0.1:1"
    settings.MEDIA_JANUS_API = f"http://127.0.0.1:{free_port()}/janus"
    settings.MEDIA_TOKEN_SECRET, settings.MEDIA_ADMIN_KEY, settings.MEDIA_ROOM_SECRET = "s", "a", "r"
    reply = await joined_token(connect, sc.staff[sc.venues[0].pk], room_key(sc.session.pk, sc.venues[0].pk))
    assert reply["error"]["code"] == "media_unavailable", reply
    assert reply["error"]["details"]["why"] == "no_answer"


async def test_no_media_once_the_evaluation_is_done(connect, scenario, janus):
    from evaluation.models import EvaluationSession

    sc = scenario

    def finish():
        session = EvaluationSession.objects.get(pk=sc.session.pk)
        session.state = {**session.state, "step": "done"}
        session.save(update_fields=["state"])

    client = await connect(sc.staff[sc.venues[0].pk])
    key = room_key(sc.session.pk, sc.venues[0].pk)
    assert (await client.join(key))["ok"]
    await database_sync_to_async(finish)()
    reply = await client.command("media.token", key)
    assert reply["error"]["code"] == "invalid_state", reply


async def test_a_room_without_media_forbids_the_command(connect, people):
    client = await connect(people["host"])
    assert (await client.join("demo:m"))["ok"]
    reply = await client.command("media.token", "demo:m")
    assert reply["error"]["code"] == "forbidden"
