"""The recordings for supervisors (docs/media.md, "Recordings"): each sealed segment of a tender's
media rooms with its time, hash, storage location and the index of its audit entry
(``realtime.media.recording_closed``), so it is played next to the entries of the same moment
(``GET /audit/entries?tender=…``); and the segment itself, converted to a playable file."""

from __future__ import annotations

import json
from datetime import datetime

from ninja import Field, Path, Query, Router, Schema

from common.access import require_cap
from common.errors import ErrorCode, NotFound, PlatformError
from common.http_range import ranged_file_response
from common.roles import Cap
from realtime.models import MediaSegment

from .models import AuditEntry

router = Router(tags=["audit"])
MAX_PAGE = 500
ID_MAX = 2**63 - 1


class RecordingFilter(Schema):
    tender: int = Field(..., ge=1, le=ID_MAX)
    after: datetime | None = None
    before: datetime | None = None


class RecordingOut(Schema):
    id: int
    media_room: str
    room: str
    kind: str
    name: str
    started_at: datetime | None
    closed_at: datetime
    sha256: str
    bytes: int
    location: str
    audit_index: int | None
    play: str


def tender_recordings(tender: int, after: datetime | None = None, before: datetime | None = None) -> list[dict]:
    """A tender's sealed segments, by start time, with the index of each one's audit entry (the API
    below and the supervisors' player page read the same)."""
    rows = MediaSegment.objects.filter(tender_id=tender)
    if after is not None:
        rows = rows.filter(started_at__gte=after)
    if before is not None:
        rows = rows.filter(started_at__lt=before)
    rows = list(rows.order_by("started_at", "name")[:MAX_PAGE])
    indexes = {}
    for index, body in AuditEntry.objects.filter(action="realtime.media.recording_closed", tender_id=tender,
                                                 object_id__in=[str(r.pk) for r in rows]).values_list("index", "body"):
        indexes[json.loads(body)["data"]["file"]] = index
    return [{"id": r.pk, "media_room": r.media_room, "room": r.room_key, "kind": r.kind, "name": r.name,
             "started_at": r.started_at, "closed_at": r.closed_at, "sha256": r.sha256, "bytes": r.size,
             "location": r.location, "audit_index": indexes.get(r.name),
             "play": f"/api/v1/audit/recordings/{r.pk}/media"} for r in rows]


@router.get("/audit/recordings", response=list[RecordingOut], summary="A tender's recordings (supervisors)")
def recordings(request, filters: Query[RecordingFilter]):
    require_cap(request.user, Cap.AUDIT_READ)
    return tender_recordings(filters.tender, filters.after, filters.before)


@router.get("/audit/recordings/{segment_id}/media", summary="A recording segment, playable (supervisors)")
def recording_media(request, segment_id: int = Path(..., ge=1, le=ID_MAX)):
    from realtime.recordings import convert

    require_cap(request.user, Cap.AUDIT_READ)
    segment = MediaSegment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise NotFound("no such recording")
    path = segment.converted or convert(segment)
    if not path:
        raise PlatformError(ErrorCode.UNAVAILABLE, "this segment cannot be converted here (janus-tools)")
    kind = "video/webm" if path.endswith(".webm") else "audio/ogg"
    return ranged_file_response(request, path, kind)  # a player seeks with Range: bytes=N-
