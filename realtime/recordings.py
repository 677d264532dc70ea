"""Recordings of the media rooms (docs/media.md, "Recordings").

Janus records every sender of a room the platform created (``record`` with the room's own folder
under ``MEDIA_RECORDINGS_DIR``): one ``.mjr`` file per sender, track and join, named
``videoroom-<room>-user-<feed>-<µs since 1970>-<audio|video|data>[-<mid>].mjr``. A file is closed
when its sender leaves or the room is destroyed.

``seal_segments`` hashes every closed file of a room not sealed yet and records it — a
``MediaSegment`` row and an audit entry ``realtime.media.recording_closed`` with the SHA-256, the
size and the storage location — in one transaction per file, through the audit hook (so realtime
needs no domain). ``close_media_room`` destroys the room on the media server first (closing every
file), then seals. The domain calls it when its room ends (the evaluation is done, the opening
closed), with the tender and the platform room the entries are filed under.

A file still open (its sender is in the room) is left for a later call: ``open_feeds`` lists the
senders Janus still has. ``convert`` makes a playable WebM/Opus file with ``janus-pp-rec``
(janus-tools) when it is installed; the hash is always of the original ``.mjr``.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from django.db import transaction

from common.tools import find_tool

from .audit_hook import audit
from .janus import MediaUnavailable, janus_api, media_configured, recordings_dir
from .models import MediaSegment

NAME_RE = re.compile(r"^videoroom-(?P<room>[a-z0-9-]+)-user-(?P<feed>[A-Za-z0-9_.-]+?)-(?P<us>\d{13,17})"
                     r"-(?P<kind>audio|video|data)(?:-(?P<mid>\d+))?\.mjr$")
CHUNK = 1 << 20


def sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def parse_name(name: str) -> dict | None:
    m = NAME_RE.match(name)
    return None if m is None else m.groupdict()


def open_feeds(api, room: str) -> set[str]:
    """Feed ids Janus still has in ``room`` (their files are open); all of them when unsure."""
    try:
        return {str(p.get("id")) for p in api.participants(room)}
    except MediaUnavailable:
        return {"*"}


def seal_segments(folder: Path, room: str, *, room_key: str, tender_id: int | None, actor, now,
                  still_open: set[str] = frozenset()) -> list[MediaSegment]:
    """Seal the closed, not yet sealed ``.mjr`` files of ``room`` in ``folder``; returns the new rows.
    ``still_open``: feed ids whose files are still being written (``{"*"}``: all)."""
    sealed = set(MediaSegment.objects.filter(media_room=room).values_list("name", flat=True))
    made = []
    if "*" in still_open or not folder.is_dir():
        return made
    for path in sorted(folder.glob("*.mjr")):
        parts = parse_name(path.name)
        if parts is None or parts["room"] != room or path.name in sealed or parts["feed"] in still_open:
            continue
        sha256, size = sha256_of(path)
        started = datetime.fromtimestamp(int(parts["us"]) / 1e6, tz=timezone.utc)
        with transaction.atomic():
            row = MediaSegment.objects.create(
                media_room=room, room_key=room_key, tender_id=tender_id, name=path.name,
                location=str(path.resolve()), kind=parts["kind"], sha256=sha256, size=size,
                started_at=started, closed_at=now)
            audit("realtime.media.recording_closed", actor=actor, object_type="media_segment",
                  object_id=row.pk, tender_id=tender_id, room=room_key, now=now,
                  data={"media_room": room, "file": path.name, "kind": parts["kind"], "feed": parts["feed"],
                        "sha256": sha256, "bytes": size, "location": row.location,
                        "started_at": started.isoformat().replace("+00:00", "Z")})
        made.append(row)
    return made


def close_media_room(room: str, *, room_key: str, tender_id: int | None, actor, now) -> list[MediaSegment]:
    """Destroy ``room`` on the media server (its recordings close) and seal its files. Without a
    media server the files already closed are sealed all the same. Sync; run after the commit that
    ended the platform room (``transaction.on_commit``)."""
    still_open: set[str] = set()
    if media_configured():
        try:
            janus_api().destroy(room)
        except MediaUnavailable:
            still_open = {"*"}  # the server is down: its files may be open; a later call seals them
    return seal_segments(recordings_dir(room), room, room_key=room_key, tender_id=tender_id, actor=actor,
                         now=now, still_open=still_open)


def convert(segment: MediaSegment) -> str:
    """A playable file next to the ``.mjr`` (``.webm`` for video, ``.opus`` for audio) made with
    ``janus-pp-rec``, or "" when janus-tools is not installed or the conversion fails."""
    tool = find_tool("janus-pp-rec")
    if not tool or segment.kind not in ("audio", "video"):
        return ""
    source = Path(segment.location)
    target = source.with_suffix(".webm" if segment.kind == "video" else ".opus")
    if not target.exists():
        done = subprocess.run([tool, str(source), str(target)], capture_output=True, timeout=300)
        if done.returncode != 0 or not target.exists():
            return ""
    MediaSegment.objects.filter(pk=segment.pk).update(converted=str(target))
    return str(target)
