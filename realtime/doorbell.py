"""Ringing the doorbell after commit: Redis pub/sub between processes, or the process-local hubs.

The doorbell carries the already serialised push frame so that a hub never re-encodes it, behind a
one-line header the hub parses without JSON::

    e <room> <epoch> <seq> <stream> <sseq>\\n<frame>     an event was committed
    x <room> <epoch>                                    the room started a new epoch
    p <room>                                            presence changed
    c disconnect_user <user id>                         close every socket of a user
    c revoke <room> <user id>                           take a user out of a room

A lost doorbell loses nothing: the hubs poll the rooms' heads in the database (``RT_POLL_SECONDS``)
and fetch what they missed. A failure to ring is logged, never raised into the committed action.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings

log = logging.getLogger(__name__)
_local = threading.local()


def room_channel(room_key: str) -> str:
    return f"{settings.RT_REDIS_PREFIX}room:{room_key}"


def control_channel() -> str:
    return f"{settings.RT_REDIS_PREFIX}ctl"


def _redis():
    client = getattr(_local, "client", None)
    if client is None:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _local.client = client
    return client


def _ring(channel: str, data: str) -> None:
    if settings.REDIS_URL:
        try:
            _redis().publish(channel, data)
        except Exception as exc:  # noqa: BLE001 - the event is committed; hubs' polling recovers it
            log.warning("doorbell %s not rung (%s); hubs will find it by polling", channel, exc)
            _local.client = None
        return
    from .hubs import ring_local_hubs

    ring_local_hubs(channel, data)


def ring_event(record) -> None:
    header = f"e {record.room} {record.epoch} {record.seq} {record.stream} {record.sseq}"
    _ring(room_channel(record.room), header + "\n" + record.frame_text())


def ring_epoch(room_key: str, epoch: str) -> None:
    _ring(room_channel(room_key), f"x {room_key} {epoch}")


def ring_presence(room_key: str) -> None:
    _ring(room_channel(room_key), f"p {room_key}")


def ring_control(*words: str) -> None:
    _ring(control_channel(), "c " + " ".join(words))
