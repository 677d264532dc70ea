"""The room event log, presence rows and timers. The database is the record; Redis only rings.

- ``Room``: one row per room key; its row lock serialises appends, so ``last_seq`` is gap-free and
  commits happen in ``seq`` order (the lock is held to the end of the appending transaction).
- ``RoomEvent``: one row per event; ``seq`` is room-wide (internal ordering), ``sseq`` is the
  gap-free position inside the event's stream (its audience) — the number clients see.
- ``Presence``: one row per (connection, room), refreshed by its worker's heartbeat; rows of a dead
  worker go stale and stop counting.
- ``RoomTimer``: a due timestamp (``next_check``) that the ticker applies once under a row lock.
"""

from __future__ import annotations

from django.db import models


class Room(models.Model):
    key = models.CharField(max_length=200, unique=True)
    epoch = models.CharField(max_length=32)
    last_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}@{self.epoch}#{self.last_seq}"


class RoomEvent(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="events")
    epoch = models.CharField(max_length=32)
    seq = models.BigIntegerField()
    stream = models.CharField(max_length=64)
    sseq = models.BigIntegerField()
    event = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    ts = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "epoch", "seq"], name="roomevent_seq_unique"),
            models.UniqueConstraint(fields=["room", "epoch", "stream", "sseq"],
                                    name="roomevent_stream_seq_unique"),
        ]


class Presence(models.Model):
    conn_id = models.CharField(max_length=64)
    room_key = models.CharField(max_length=200, db_index=True)
    user_id = models.BigIntegerField()
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=32)
    org_id = models.BigIntegerField(null=True)
    worker = models.CharField(max_length=64, db_index=True)
    joined_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conn_id", "room_key"], name="presence_unique")]


class RoomTimer(models.Model):
    """A generic timer row for room kinds that have no model of their own to carry ``next_check``."""

    room_key = models.CharField(max_length=200, db_index=True)
    kind = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    next_check = models.DateTimeField(null=True, db_index=True)
    fired_at = models.DateTimeField(null=True)
    fire_count = models.IntegerField(default=0)


class MediaSegment(models.Model):
    """A closed recording file of a media room (Janus's ``.mjr``, one per sender and track and
    join), sealed by ``realtime.recordings``: its SHA-256 is in the audit log (``audit_index``:
    the entry's index, once sequenced, or null while batched), its bytes stay where Janus wrote them
    (``location``, under ``MEDIA_RECORDINGS_DIR``). ``room_key`` and ``tender_id`` are what the
    domain passed when it closed the room; realtime knows nothing more of them."""

    media_room = models.CharField(max_length=64, db_index=True)
    room_key = models.CharField(max_length=200, blank=True)
    tender_id = models.BigIntegerField(null=True, db_index=True)
    name = models.CharField(max_length=255)
    location = models.CharField(max_length=1000)
    kind = models.CharField(max_length=10)  # audio, video, data
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    started_at = models.DateTimeField(null=True)  # from Janus's file name (its clock, µs)
    closed_at = models.DateTimeField()
    converted = models.CharField(max_length=1000, blank=True)  # a playable file (janus-pp-rec), if made

    class Meta:
        constraints = [models.UniqueConstraint(fields=["media_room", "name"], name="mediasegment_unique")]
        ordering = ["media_room", "started_at", "name"]
