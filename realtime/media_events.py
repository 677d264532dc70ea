"""The media server's events, as they happen (docs/media.md, "The patrol"): Janus's HTTP event
handler (``janus.eventhandler.sampleevh``, rendered by ``realtime.media_config`` when
``MEDIA_EVENTS_URL`` is set) posts the VideoRoom's events to ``POST /media/events``.

When a participant starts sending (``published``, also ``configured``) with a sender id the
platform did not issue, it is kicked at once and audited (``realtime.media.sender_removed`` with
``seen_by: "event"``), so a forged sender is cut in the time of one HTTP round trip instead of up
to one patrol period; the patrol stays as the net under it (an event lost, the platform down).
A granted sender that starts or stops (``published``, ``unpublished``, ``leaving``) updates the
patrol's view of who sends at once, so the evaluation's lock on lost media starts counting then.

Only Janus may post: HTTP Basic with user ``janus`` and ``MEDIA_EVENTS_SECRET``, compared in
constant time; without that secret the endpoint does not exist (404). Bad bodies get 400 with a
stable code; events of other kinds are acknowledged and ignored.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import json
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from common import clock
from common.errors import ErrorCode

from .janus import PLUGIN, MediaUnavailable, janus_api, media_configured
from .media_patrol import KIND, granted, remove_sender
from .models import RoomTimer

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024
SENDING = {"published", "configured"}
STOPPED = {"unpublished", "leaving"}


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _authorised(header: str) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected = settings.MEDIA_EVENTS_SECRET.encode()
    return secrets.compare_digest(password.encode(), expected) & (user == "janus")


def forged_senders(events: list) -> list[tuple[str, str]]:
    """``(media room, sender id)`` of each event saying a sender the platform did not issue sends."""
    out = []
    for event in events:
        if not isinstance(event, dict) or event.get("type") != 64:
            continue
        body = event.get("event")
        if not isinstance(body, dict):
            continue
        data = body.get("data")
        if body.get("plugin") != PLUGIN or not isinstance(data, dict) or data.get("event") not in SENDING:
            continue
        room, feed = data.get("room"), data.get("id")
        if isinstance(room, str) and feed is not None and not granted(room, feed):
            out.append((room, str(feed)))
    return out


def sender_changes(events: list) -> list[tuple[str, int, bool]]:
    """``(media room, user, sends)`` of each event saying a granted sender started or stopped."""
    out = []
    for event in events:
        body = event.get("event") if isinstance(event, dict) and event.get("type") == 64 else None
        data = body.get("data") if isinstance(body, dict) and body.get("plugin") == PLUGIN else None
        if not isinstance(data, dict) or data.get("event") not in SENDING | STOPPED:
            continue
        room, feed = data.get("room"), data.get("id")
        if isinstance(room, str) and feed is not None and granted(room, feed):
            out.append((room, int(str(feed).split("-")[0][1:]), data["event"] in SENDING))
    return out


def note_senders(changes: list[tuple[str, int, bool]]) -> None:
    """Bring the patrol's view of who sends (``media_senders``) up to date as senders start and
    stop, so a venue's lost media count from the moment they drop, not from the next round. The
    view's time (``at``) stays the patrol's: only a round vouches for the whole room."""
    from django.db import transaction

    for room in dict.fromkeys(r for r, _, _ in changes):
        with transaction.atomic():
            timer = (RoomTimer.objects.select_for_update().filter(kind=KIND, payload__media_room=room)
                     .order_by("-pk").first())
            if timer is None or "at" not in timer.payload:
                continue
            senders, ever = set(timer.payload.get("senders", [])), set(timer.payload.get("ever", []))
            for r, user, sends in changes:
                if r == room:
                    (senders.add if sends else senders.discard)(user)
                    if sends:
                        ever.add(user)
            timer.payload = {**timer.payload, "senders": sorted(senders), "ever": sorted(ever)}
            timer.save(update_fields=["payload"])


@csrf_exempt
@require_POST
def media_events(request):
    if not settings.MEDIA_EVENTS_SECRET:
        return _refuse(404, ErrorCode.NOT_FOUND.value, "media events are not enabled")
    if not _authorised(request.headers.get("Authorization", "")):
        response = _refuse(401, ErrorCode.UNAUTHENTICATED.value, "only the media server posts here")
        response["WWW-Authenticate"] = 'Basic realm="media-events"'
        return response
    if len(request.body) > MAX_BODY:
        return _refuse(413, ErrorCode.BODY_TOO_LARGE.value, f"at most {MAX_BODY} bytes")
    try:
        events = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _refuse(400, ErrorCode.BAD_REQUEST.value, "the body is not JSON")
    if isinstance(events, dict):
        events = [events]  # grouping off: one event per post
    if not isinstance(events, list):
        return _refuse(400, ErrorCode.BAD_REQUEST.value, "an event or a list of events is expected")
    note_senders(sender_changes(events))
    forged = forged_senders(events)
    if forged and media_configured():
        api, now = janus_api(), clock.now()
        for room, feed in dict.fromkeys(forged):
            timer = (RoomTimer.objects.filter(kind=KIND, payload__media_room=room)
                     .order_by("-pk").values("room_key", "payload").first())
            if timer is None:
                continue  # not a room the platform made: nothing of ours to protect or file under
            try:
                remove_sender(api, room, feed, display="", room_key=timer["room_key"],
                              tender_id=timer["payload"].get("tender_id"), now=now, seen_by="event")
            except MediaUnavailable as exc:
                log.warning("media event: could not kick %s from %s: %s", feed, room, exc)  # the patrol will
    return HttpResponse(status=200)
