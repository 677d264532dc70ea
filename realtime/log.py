"""The room event log: append in the caller's transaction, publish after commit, read for replay.

``append_event`` is the only way events enter a room. Call it inside the ``transaction.atomic()``
block that makes the state change (and writes the audit entry): the event commits or rolls back with
the change, and the doorbell rings only after commit (``transaction.on_commit``), as Zulip's
``send_event_on_commit``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from django.db import transaction
from django.db.models import Max, Q

from common.canonical import canonical_json, format_time

from . import frames
from .audience import Viewer, check_stream
from .models import Room, RoomEvent

ROOM_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}:[A-Za-z0-9_.:-]{1,150}$")
EVENT_RE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


def check_room_key(key: str) -> str:
    """Room keys are ``<kind>:<id>``; no spaces or newlines (they travel in doorbell headers)."""
    if not isinstance(key, str) or not ROOM_KEY_RE.match(key):
        raise ValueError(f"not a room key: {key!r}")
    return key


def new_epoch() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class EventRecord:
    room: str
    epoch: str
    seq: int
    stream: str
    sseq: int
    event: str
    payload: dict[str, Any]
    ts: str

    def frame_text(self) -> str:
        """The push frame, serialised once and shared by every recipient of the stream."""
        return frames.dumps(frames.push(self.room, self.sseq, self.epoch, self.ts, self.event,
                                        self.payload, stream=self.stream))


def _record(room_key: str, row: RoomEvent) -> EventRecord:
    return EventRecord(room=room_key, epoch=row.epoch, seq=row.seq, stream=row.stream, sseq=row.sseq,
                       event=row.event, payload=row.payload, ts=format_time(row.ts))


def lock_room(room_key: str, *, now: datetime) -> Room:
    """The room row, locked (created on first use). Row lock held: call inside ``atomic()``."""
    check_room_key(room_key)
    room = Room.objects.select_for_update().filter(key=room_key).first()
    if room is None:
        Room.objects.get_or_create(key=room_key, defaults={
            "epoch": new_epoch(), "last_seq": 0, "created_at": now, "updated_at": now})
        room = Room.objects.select_for_update().get(key=room_key)
    return room


def append_event(room_key: str, event: str, payload: dict[str, Any] | None = None, *,
                 audience: str = "all", now: datetime) -> EventRecord:
    """Append one event to ``room_key``'s log in the caller's transaction; publish after commit.

    ``audience`` is a stream name from ``realtime.audience`` (``to_all()``, ``to_org(id)``...).
    """
    return append_events(room_key, event, [payload or {}], audience=audience, now=now)[0]


def append_events(room_key: str, event: str, payloads: list[dict[str, Any]], *, audience: str = "all",
                  now: datetime) -> list[EventRecord]:
    """``append_event`` for many events of one kind and stream, in order, in the caller's
    transaction: one room lock, one read of the stream's position, one INSERT and one room update
    for all of them, instead of four statements each (the console feed copies hundreds of audit
    entries a tick). Same rows, same sequence numbers, same doorbells after commit."""
    if not EVENT_RE.match(event or ""):
        raise ValueError(f"not an event name: {event!r}")
    stream = check_stream(audience)
    if not payloads:
        return []
    for payload in payloads:
        canonical_json(payload)  # refuse what JSON cannot carry (floats NaN, objects) before writing
    # No savepoint (as ``log_action``): if the append fails, the caller's change must not commit
    # without its events; and SAVEPOINT plus RELEASE were two of a post's nine round trips, which
    # set the pace when many rooms post at once (bench/fanout.py, burst).
    with transaction.atomic(savepoint=False):
        room = lock_room(room_key, now=now)
        # Safe without its own lock: the room row lock serialises every append to this room.
        top = RoomEvent.objects.filter(room=room, epoch=room.epoch, stream=stream).aggregate(
            m=Max("sseq"))["m"] or 0
        rows = [RoomEvent(room=room, epoch=room.epoch, seq=room.last_seq + k, stream=stream, sseq=top + k,
                          event=event, payload=payload, ts=now) for k, payload in enumerate(payloads, 1)]
        RoomEvent.objects.bulk_create(rows)
        room.last_seq += len(rows)
        room.updated_at = now
        room.save(update_fields=["last_seq", "updated_at"])
        records = [_record(room_key, row) for row in rows]
        from .doorbell import ring_event

        transaction.on_commit(lambda: [ring_event(record) for record in records])
    return records


def reset_epoch(room_key: str, *, now: datetime) -> str:
    """Start a new epoch: sequences restart, every client takes a snapshot. Old events stay."""
    with transaction.atomic():
        room = lock_room(room_key, now=now)
        room.epoch = new_epoch()
        room.last_seq = 0
        room.updated_at = now
        room.save(update_fields=["epoch", "last_seq", "updated_at"])
        epoch = room.epoch
        from .doorbell import ring_epoch

        transaction.on_commit(lambda: ring_epoch(room_key, epoch))
    return epoch


def room_head(room_keys: Iterable[str]) -> dict[str, tuple[str, int]]:
    """``{key: (epoch, last_seq)}`` for the rooms that exist."""
    return {k: (e, s) for k, e, s in
            Room.objects.filter(key__in=list(room_keys)).values_list("key", "epoch", "last_seq")}


def events_after(room_key: str, epoch: str, after_seq: int, *, limit: int) -> list[EventRecord]:
    """Every stream's events after room-wide ``after_seq``, in order (a hub's gap repair)."""
    rows = RoomEvent.objects.filter(room__key=room_key, epoch=epoch, seq__gt=after_seq).order_by("seq")
    return [_record(room_key, row) for row in rows[:limit]]


def _visible_rows(room: Room, viewer: Viewer):
    rows = RoomEvent.objects.filter(room=room, epoch=room.epoch)
    if not viewer.sees_all:
        rows = rows.filter(stream__in=viewer.streams)
    return rows


def positions(room: Room, viewer: Viewer) -> dict[str, int]:
    """The last ``sseq`` of every stream the viewer sees (what a snapshot corresponds to)."""
    rows = _visible_rows(room, viewer).values("stream").annotate(m=Max("sseq"))
    return {row["stream"]: row["m"] for row in rows}


def missing_events(room: Room, viewer: Viewer, held: dict[str, int], *, limit: int) -> list[EventRecord] | None:
    """The events the viewer lacks given the positions it holds, in room order; ``None`` if more
    than ``limit`` (the caller sends a snapshot instead)."""
    cond = Q()
    known = {s: n for s, n in held.items() if viewer.check_visible(s)}
    for stream, sseq in known.items():
        cond |= Q(stream=stream, sseq__gt=sseq)
    # Streams the client never heard of: it holds none of their events.
    cond |= ~Q(stream__in=list(known))
    rows = _visible_rows(room, viewer).filter(cond).order_by("seq")
    rows = list(rows[:limit + 1])
    if len(rows) > limit:
        return None
    return [_record(room.key, row) for row in rows]


def replay_after(room_key: str, epoch: str, viewer: Viewer, held: dict[str, int], *,
                 limit: int) -> list[EventRecord] | None:
    """What a client holding ``held`` (stream → last ``sseq``) in ``epoch`` lacks, in room order, in
    one query (a join's or a catch-up's replay); ``None`` when that is no replay: the room is in
    another epoch or does not exist, the client is ahead of the log in a stream, or more than
    ``limit`` events are missing (the caller sends a snapshot or a resync instead).

    The query also fetches each held stream's last held event, its *anchor*: a stream's ``sseq``
    is gap-free, so finding the anchor proves the client is not ahead of the log, and finding it
    through the room's current epoch proves the epoch, without reading the room's positions first.
    Only when nothing at all comes back does a second query tell "current, nothing missing" from
    "another epoch"."""
    known = {s: n for s, n in held.items() if viewer.check_visible(s)}
    anchors = {s: n for s, n in known.items() if n > 0}
    cond = ~Q(stream__in=list(known))  # streams the client never heard of: replayed from the start
    for stream, sseq in known.items():
        cond |= Q(stream=stream, sseq__gte=sseq) if sseq else Q(stream=stream)
    visible = {} if viewer.sees_all else {"stream__in": viewer.streams}
    rows = list(RoomEvent.objects.filter(cond, room__key=room_key, room__epoch=epoch, epoch=epoch, **visible)
                .order_by("seq").values_list("stream", "sseq", "seq", "event", "payload", "ts")
                [:limit + len(anchors) + 1])
    if len(rows) > limit + len(anchors):
        return None
    if sum(1 for row in rows if anchors.get(row[0]) == row[1]) < len(anchors):
        return None
    if not rows and not Room.objects.filter(key=room_key, epoch=epoch).exists():
        return None
    return [EventRecord(room=room_key, epoch=epoch, seq=seq, stream=stream, sseq=sseq, event=event,
                        payload=payload, ts=format_time(ts))
            for stream, sseq, seq, event, payload, ts in rows if anchors.get(stream) != sseq]
