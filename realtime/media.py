"""Media tokens: the ``media.token`` command (docs/protocol.md §3, docs/media.md).

Realtime knows no domain: a room kind says who may take part in its media room and how, through
``RoomKind.media_grant(user, room_key, role)`` (the evaluation venues and the bidding hall implement
it), and this module turns the grant into short-lived signed Janus tokens for exactly one media room,
creates that room on the media server if needed (recorded, token-only) and audits the issue.

A client must have joined the platform room first (its role there is what the grant reads), and the
grant is asked again on every request (the session may have ended, the member been replaced).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from common import clock
from common.canonical import format_time
from common.errors import ErrorCode, PlatformError
from crypto.media_tokens import feed_id, room_token, session_token, turn_credential

from . import frames
from .audit_hook import audit
from .db import run_db
from .janus import PLUGIN, MediaUnavailable, janus_api, media_configured, recordings_dir
from .kinds import resolve_room_kind
from .media_patrol import schedule_patrol

MEDIA_ROOM_RE = r"^[a-z][a-z0-9-]{0,40}$"


@dataclass(frozen=True)
class MediaGrant:
    """What a room kind allows one user in its media room."""

    room: str  # the media room on the server, e.g. "eval-12" (one per evaluation session)
    publish: bool  # may send audio/video (members, staff, the host); False: watch and listen only
    display: str  # the name the others see (a member's code, a venue's name, "主持人")
    description: str  # the room's description on the media server
    publishers: int = 16  # the most concurrent senders in the room
    tender_id: int | None = None  # what the room's audit entries (recordings) are filed under


def unavailable(why: str) -> PlatformError:
    return PlatformError(ErrorCode.MEDIA_UNAVAILABLE, "video is unavailable: the media server "
                         "is not configured or does not answer", temporary=True, details={"why": why})


def ice_servers(user_id: int, expires: int) -> list[dict]:
    if not (settings.MEDIA_TURN_URLS and settings.MEDIA_TURN_SECRET):
        return []
    username, credential = turn_credential(settings.MEDIA_TURN_SECRET, expires=expires, user=f"u{user_id}")
    return [{"urls": list(settings.MEDIA_TURN_URLS), "username": username, "credential": credential}]


def record_issue(actor, room_key: str, grant: MediaGrant, expires_at, now, created: bool) -> None:
    with transaction.atomic():
        if created:
            schedule_patrol(room_key, grant.room, grant.tender_id, now)
        audit("realtime.media.token_issued", actor=actor, room=room_key, now=now,
              data={"media_room": grant.room, "publish": grant.publish,
                    "expires_at": format_time(expires_at)})


async def cmd_media_token(conn, command: frames.Command) -> dict:
    from common.actor import Actor

    member = conn.rooms.get(command.room)
    if member is None:
        resolve_room_kind(command.room)  # bad_request / not_found for a bad key, as elsewhere
        raise PlatformError(ErrorCode.INVALID_STATE, "join the room first")
    grant = await run_db(member.kind.media_grant, conn.user, command.room, member.role)
    if grant is None:
        raise PlatformError(ErrorCode.FORBIDDEN, "this room has no media for your role")
    if not media_configured():
        raise unavailable("not_configured")
    now = clock.now()
    expires_at = now + timedelta(seconds=settings.MEDIA_TOKEN_SECONDS)
    expires = int(expires_at.timestamp())
    # The session token only lets its bearer talk to Janus (keepalives included, so it lives as
    # long as a working day); what opens a room is the room token, checked at each join.
    session_expires_at = now + timedelta(seconds=settings.MEDIA_SESSION_SECONDS)
    folder = recordings_dir(grant.room)
    try:
        created = await asyncio.to_thread(janus_api().ensure_room, grant.room, description=grant.description,
                                          publishers=grant.publishers, rec_dir=str(folder))
    except MediaUnavailable:
        raise unavailable("no_answer") from None
    if conn.actor is None:
        ip = (conn.scope.get("client") or ("",))[0] or ""
        conn.actor = await run_db(Actor.of, conn.user, ip)
    await run_db(record_issue, conn.actor, command.room, grant, expires_at, now, created)
    secret = settings.MEDIA_TOKEN_SECRET
    return {
        "server": settings.MEDIA_JANUS_WS,
        "plugin": PLUGIN,
        "media_room": grant.room,
        "session_token": session_token(secret, expires=int(session_expires_at.timestamp()), plugin=PLUGIN),
        "session_expires_at": format_time(session_expires_at),
        "room_token": room_token(secret, expires=expires, plugin=PLUGIN, room=grant.room),
        "publish": grant.publish,
        "feed": feed_id(secret, room=grant.room, user=conn.user.pk) if grant.publish else None,
        "display": grant.display,
        "expires_at": format_time(expires_at),
        "expires_in": settings.MEDIA_TOKEN_SECONDS,
        "ice_servers": ice_servers(conn.user.pk, expires),
    }
