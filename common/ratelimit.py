"""Token buckets that every process of a deployment shares: in Redis when ``REDIS_URL`` is set (the
channel layer is Redis, several workers: one budget for all of them), else in this process's memory
(the embedded defaults: one process).

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second. ``take`` removes
``cost`` tokens and answers 0, or removes nothing and answers the seconds until they are there;
``dry=True`` only asks. Keys name what is limited (``rt:user:42``, ``login:account:alice``); the
caller chooses them, this module only counts. Redis computes a bucket in one script with its own
clock (``TIME``), so workers with skewed clocks agree, and a bucket left alone expires once full.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

_SCRIPT = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(data[1]), tonumber(data[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then
  if ARGV[4] ~= '1' then tokens = tokens - cost end
else
  wait = (cost - tokens) / rate
end
if ARGV[4] ~= '1' or data[1] then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
end
return tostring(wait)
"""

log = logging.getLogger(__name__)
_memory: dict[str, tuple[float, float, float]] = {}  # key → (tokens, at, when full again)
_lock = threading.Lock()
_clients: dict[str, object] = {}


def _key(key: str) -> str:
    return settings.RATE_LIMIT_REDIS_PREFIX + key


MEMORY_KEYS = 10_000  # beyond this many buckets, the full ones are forgotten (a full one is no news)


def _take_memory(key: str, rate: float, burst: float, cost: float, dry: bool) -> float:
    now = time.monotonic()
    with _lock:
        if len(_memory) > MEMORY_KEYS:
            for name in [k for k, (_, _, full_at) in _memory.items() if full_at <= now]:
                del _memory[name]
        tokens, at, _ = _memory.get(key, (burst, now, now))
        tokens = min(burst, tokens + max(0.0, now - at) * rate)
        wait = 0.0
        if tokens >= cost:
            if not dry:
                tokens -= cost
        else:
            wait = (cost - tokens) / rate
        if not dry or key in _memory:
            _memory[key] = (tokens, now, now + (burst - tokens) / rate)
        return wait


def take(key: str, *, rate: float, burst: float, cost: float = 1, dry: bool = False) -> float:
    """Sync (views, the ORM threads): 0 when ``cost`` tokens were taken, else seconds to wait."""
    if not settings.REDIS_URL:
        return _take_memory(key, rate, burst, cost, dry)
    import redis

    client = _clients.get("sync")
    if client is None:
        client = _clients["sync"] = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2,
                                                         socket_connect_timeout=2)
    try:
        return float(client.eval(_SCRIPT, 1, _key(key), rate, burst, cost, int(dry)))
    except redis.RedisError as exc:
        # Redis is down: count in this process until it is back, rather than refuse everyone.
        log.warning("rate limit %s counted in memory: %s", key, exc)
        return _take_memory(key, rate, burst, cost, dry)


async def take_async(key: str, *, rate: float, burst: float, cost: float = 1, dry: bool = False) -> float:
    """On the event loop (the WebSocket connections): one Redis round trip, or memory."""
    if not settings.REDIS_URL:
        return _take_memory(key, rate, burst, cost, dry)
    import asyncio

    import redis.asyncio as aioredis

    # One async client per event loop: redis.asyncio connections belong to the loop that made them.
    name = f"async:{id(asyncio.get_running_loop())}"
    client = _clients.get(name)
    if client is None:
        client = _clients[name] = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=2,
                                                          socket_connect_timeout=2)
    try:
        return float(await client.eval(_SCRIPT, 1, _key(key), rate, burst, cost, int(dry)))
    except aioredis.RedisError as exc:
        log.warning("rate limit %s counted in memory: %s", key, exc)
        return _take_memory(key, rate, burst, cost, dry)


def clear() -> None:
    """Forget every bucket (tests): this process's memory, and the prefix's keys in Redis."""
    with _lock:
        _memory.clear()
    for name in [n for n in _clients if n.startswith("async:")]:
        _clients.pop(name)  # their loops are gone between tests
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        keys = list(client.scan_iter(match=_key("*"), count=1000))
        if keys:
            client.delete(*keys)
        client.close()
