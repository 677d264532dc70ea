"""Running ORM code from the event loop.

Channels' ``database_sync_to_async`` runs every call on one thread and closes the connection around
each call when ``CONN_MAX_AGE`` is 0. That is right for rare calls; a reconnect storm of thousands of
joins wants persistent connections on a few threads. ``RT_DB_THREADS`` > 0 gives the realtime code its
own small pool whose threads keep their connections (re-opened when found broken).
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection
from django.db.utils import InterfaceError, OperationalError

_pool: ThreadPoolExecutor | None = None


def _in_pool(fn: Callable, args, kwargs) -> Any:
    try:
        return fn(*args, **kwargs)
    except (InterfaceError, OperationalError):
        # A connection that died (database restart) is replaced once; a real error repeats.
        if connection.connection is not None and not connection.is_usable():
            connection.close()
            return fn(*args, **kwargs)
        raise


async def run_db(fn: Callable, *args, **kwargs) -> Any:
    global _pool
    threads = getattr(settings, "RT_DB_THREADS", 0)
    if threads <= 0:
        return await database_sync_to_async(fn)(*args, **kwargs)
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rt-db",
                                   initializer=close_old_connections)
    return await asyncio.get_running_loop().run_in_executor(
        _pool, functools.partial(_in_pool, fn, args, kwargs))
