"""The hub's figures for ``/metrics`` (``common.metrics``): sockets per room kind, push latency,
send backlogs. Kept out of the hub's logic: each call is one line there."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from common import metrics

_TS = re.compile(r'"ts":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z"')


def joined(key: str) -> None:
    metrics.ROOM_SOCKETS.labels(metrics.room_kind(key)).inc()


def left(key: str, count: int = 1) -> None:
    if count:
        metrics.ROOM_SOCKETS.labels(metrics.room_kind(key)).dec(count)


def event_time(text: str) -> float | None:
    """The event's server timestamp (``ts``, written in its transaction), as Unix time."""
    found = _TS.search(text[:400])
    if found is None:
        return None
    return datetime.fromisoformat(found.group(1)).replace(tzinfo=timezone.utc).timestamp()


def delivered(key: str, text: str) -> None:
    """Called once the event's frame is handed to every local member: the latency from its commit."""
    at = event_time(text)
    if at is not None:
        metrics.PUSH_LATENCY.labels(metrics.room_kind(key)).observe(max(0.0, time.time() - at))


def sample_backlog(conns) -> None:
    sizes = [conn.sender.backlog() for conn in conns if getattr(conn, "sender", None) is not None]
    metrics.SEND_BACKLOG.labels("sum").set(sum(sizes))
    metrics.SEND_BACKLOG.labels("max").set(max(sizes, default=0))
