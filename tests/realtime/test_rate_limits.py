"""Rate limits per user and per address, not per socket (#19): five sockets of one bidder share one
budget of frames; anonymous handshakes share one budget per address; in Redis the budgets are the
same for every worker (common.ratelimit)."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from common import ratelimit
from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
HOST = (b"host", b"127.0.0.1:8000")
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


async def test_five_sockets_of_one_bidder_share_one_budget(people, connect, settings):
    settings.RT_RATE_BURST = 10
    settings.RT_RATE_PER_SECOND = 0.01  # no refill to speak of within the test
    sockets = [await connect(people["alice"]) for _ in range(5)]
    answers = []
    for _ in range(4):
        for client in sockets:
            answers.append(await client.command("ping"))
    ok = [a["ok"] for a in answers]
    assert ok.count(True) == 10 and ok[:10] == [True] * 10, ok
    limited = [a for a in answers if not a["ok"]]
    assert {a["error"]["code"] for a in limited} == {"rate_limited"}
    assert all(a["error"]["temporary"] and a["error"]["details"]["retry_after_ms"] > 0 for a in limited)
    # A new socket of the same user starts with nothing left; another user has a budget of its own.
    assert (await (await connect(people["alice"])).command("ping"))["error"]["code"] == "rate_limited"
    assert (await (await connect(people["bob"])).command("ping"))["ok"]


async def _anonymous(ip: str, cookie: bytes | None = None) -> tuple[bool, dict | None]:
    headers = [HOST, ORIGIN] + ([(b"cookie", cookie)] if cookie else [])
    ws = WebsocketCommunicator(application, "/ws/v1/", headers=headers)
    ws.scope["client"] = (ip, 40000)  # read by the application when the handshake starts
    connected, _ = await ws.connect()
    first = await ws.receive_output(timeout=3) if connected else None
    if connected:
        await ws.disconnect()
    return connected, first


async def test_anonymous_handshakes_have_a_budget_per_address(people, settings):
    settings.RT_ANON_HANDSHAKE_BURST = 3
    settings.RT_ANON_HANDSHAKES_PER_MINUTE = 0.01  # no refill within the test
    for cookie in (None, b"sessionid=forged", None):
        connected, first = await _anonymous("203.0.113.9", cookie)
        assert connected and first == {"type": "websocket.close", "code": 4401}
    assert (await _anonymous("203.0.113.9"))[0] is False  # refused at the handshake
    assert (await _anonymous("203.0.113.9", b"sessionid=forged"))[0] is False
    assert (await _anonymous("203.0.113.10"))[0] is True  # another address
    # A signed-in user behind the same address is not anonymous: its socket opens.
    client = Client()
    await database_sync_to_async(client.force_login)(people["alice"])
    connected, first = await _anonymous("203.0.113.9", f"sessionid={client.cookies['sessionid'].value}".encode())
    assert connected and '"hello"' in first["text"]
    from realtime.hubs import _HUBS

    hub = _HUBS.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()


def _bucket_checks(take):
    assert [take("t:a", rate=0.01, burst=3) for _ in range(3)] == [0, 0, 0]
    wait = take("t:a", rate=0.01, burst=3)
    assert 99 < wait <= 100  # one token at 0.01 a second
    assert take("t:b", rate=0.01, burst=3, cost=3) == 0 and take("t:b", rate=0.01, burst=3, dry=True) > 0
    assert take("t:c", rate=0.01, burst=3, dry=True) == 0 and take("t:c", rate=0.01, burst=3, cost=3) == 0


def test_a_bucket_in_memory(settings):
    settings.REDIS_URL = ""
    ratelimit.clear()
    _bucket_checks(ratelimit.take)


def test_a_bucket_in_redis_is_one_for_every_client(settings, redis_url):
    settings.REDIS_URL = redis_url
    settings.RATE_LIMIT_REDIS_PREFIX = "kaibiao-test:rl:"
    ratelimit.clear()
    ratelimit._clients.pop("sync", None)
    try:
        _bucket_checks(ratelimit.take)
        # An async client (another worker's event loop) sees the same bucket.
        assert asyncio.run(ratelimit.take_async("t:a", rate=0.01, burst=3)) > 99
        assert asyncio.run(ratelimit.take_async("t:d", rate=0.01, burst=1)) == 0
        assert ratelimit.take("t:d", rate=0.01, burst=1) > 0
    finally:
        ratelimit.clear()
        ratelimit._clients.pop("sync", None)


def test_a_redis_outage_counts_in_memory_instead_of_refusing(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    ratelimit._clients.pop("sync", None)
    try:
        assert ratelimit.take("t:e", rate=0.01, burst=1) == 0
        assert ratelimit.take("t:e", rate=0.01, burst=1) > 0
    finally:
        ratelimit._clients.pop("sync", None)
        settings.REDIS_URL = ""
        ratelimit.clear()


def test_memory_forgets_full_buckets_only_when_it_holds_many(settings, monkeypatch):
    settings.REDIS_URL = ""
    ratelimit.clear()
    monkeypatch.setattr(ratelimit, "MEMORY_KEYS", 5)
    for i in range(6):
        ratelimit.take(f"t:full{i}", rate=1000, burst=1)  # full again within a millisecond
    ratelimit.take("t:spent", rate=0.001, burst=1)
    import time

    time.sleep(0.01)
    ratelimit.take("t:other", rate=1000, burst=1)  # over the size: the full ones go
    assert "t:spent" in ratelimit._memory and not any(k.startswith("t:full") for k in ratelimit._memory)
    assert ratelimit.take("t:spent", rate=0.001, burst=1) > 0  # a spent budget is never forgotten
