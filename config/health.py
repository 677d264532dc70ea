"""``/healthz``: is the database answering, and does a message go round the channel layer? It also
reports the clock's synchronisation state (``common.clocksync``), which does not change the status:
an unsynchronised clock holds the deadlines (the ticker), it does not take the workers out of the
proxy."""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse

from common import clocksync

TIMEOUT_S = 2.0


def _database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # the probe reports every failure, it does not raise
        return {"ok": False, "error": type(exc).__name__}
    finally:
        connection.close_if_unusable_or_obsolete()
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def _channel_layer() -> dict:
    layer = get_channel_layer()
    started = time.perf_counter()
    try:
        channel = await layer.new_channel("healthz.")
        await asyncio.wait_for(layer.send(channel, {"type": "healthz.ping"}), TIMEOUT_S)
        message = await asyncio.wait_for(layer.receive(channel), TIMEOUT_S)
        ok = message.get("type") == "healthz.ping"
    except Exception as exc:
        return {"ok": False, "backend": type(layer).__name__, "error": type(exc).__name__}
    return {"ok": ok, "backend": type(layer).__name__,
            "ms": round((time.perf_counter() - started) * 1000, 1)}


async def healthz(request):
    database, layer, clock = await asyncio.gather(sync_to_async(_database)(), _channel_layer(),
                                                  sync_to_async(clocksync.current, thread_sensitive=False)())
    ok = database["ok"] and layer["ok"]
    return JsonResponse({"status": "ok" if ok else "degraded", "database": database,
                         "channel_layer": layer, "clock": clock.as_dict()}, status=200 if ok else 503)
