"""The media rooms' patrol (docs/media.md, "The patrol"): a ``RoomTimer`` of kind ``media.patrol``
per media room, scheduled when the platform creates the room, run by the ticker every
``MEDIA_PATROL_SECONDS`` while the room exists on the media server. Each round:

- **senders the platform did not grant are removed**: a participant that publishes with an id that
  is not a platform-issued feed id (``crypto.media_tokens.check_feed_id``: only publishing grants
  get one) is kicked with the room's secret and audited (``realtime.media.sender_removed``) — so a
  supervisor's or a bidder's crafted client cannot send into a venue or a hall;
- **recordings are sealed as they close**: the files of senders no longer in the room are hashed
  into the audit log (``realtime.recordings.seal_segments``), not only when the room ends;
- **who sends is recorded** on the timer (``media_senders``): the evaluation treats a venue whose
  media were up and are gone like a venue that dropped off the platform (its lock and resume).

Without an answer from the media server the round is retried later; a room gone from the server
ends its timer.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from common.actor import Actor
from crypto.media_tokens import check_feed_id

from .audit_hook import audit
from .janus import MediaUnavailable, janus_api, media_configured, recordings_dir
from .models import RoomTimer
from .recordings import seal_segments
from .timers import register_room_timer, schedule_room_timer

KIND = "media.patrol"


def schedule_patrol(room_key: str, media_room: str, tender_id: int | None, now) -> None:
    if RoomTimer.objects.filter(kind=KIND, payload__media_room=media_room, next_check__isnull=False).exists():
        return
    schedule_room_timer(room_key, KIND, now + timedelta(seconds=settings.MEDIA_PATROL_SECONDS),
                        {"media_room": media_room, "tender_id": tender_id})


def granted(media_room: str, feed) -> bool:
    """Whether ``feed`` is a sender id the platform issued for ``media_room``."""
    return check_feed_id(settings.MEDIA_TOKEN_SECRET, room=media_room, feed=feed)


def remove_sender(api, media_room: str, feed, *, display: str, room_key: str, tender_id: int | None, now,
                  seen_by: str) -> bool:
    """Kick a sender the platform did not grant and audit it (``seen_by``: "event" or "patrol");
    nothing when it was already gone (the event and the patrol, or two events, saw the same one)."""
    if not api.kick(media_room, feed):
        return False
    audit("realtime.media.sender_removed", actor=Actor.system("media"), room=room_key, tender_id=tender_id,
          now=now, data={"media_room": media_room, "feed": str(feed), "display": str(display or "")[:100],
                         "seen_by": seen_by})
    return True


def patrol_room(api, media_room: str, *, room_key: str, tender_id: int | None, now) -> dict:
    """One round on ``media_room``; returns what it did (for the timer and the tests)."""
    actor = Actor.system("media")
    if not api.request({"request": "exists", "room": media_room}).get("exists"):
        return {"exists": False, "removed": [], "sealed": 0}
    participants = api.participants(media_room)
    removed = []
    for p in participants:
        if p.get("publisher") and not granted(media_room, p.get("id")):
            remove_sender(api, media_room, p.get("id"), display=p.get("display", ""), room_key=room_key,
                          tender_id=tender_id, now=now, seen_by="patrol")
            removed.append(str(p.get("id")))
    still_open = {str(p.get("id")) for p in participants if str(p.get("id")) not in removed}
    senders = sorted({int(str(p["id"]).split("-")[0][1:]) for p in participants
                      if p.get("publisher") and str(p.get("id")) not in removed})
    sealed = seal_segments(recordings_dir(media_room), media_room, room_key=room_key, tender_id=tender_id,
                           actor=actor, now=now, still_open=still_open)
    return {"exists": True, "removed": removed, "sealed": len(sealed), "senders": senders}


def run_patrol(timer: RoomTimer, now) -> None:
    if not media_configured():
        return
    try:
        done = patrol_room(janus_api(), timer.payload["media_room"], room_key=timer.room_key,
                           tender_id=timer.payload.get("tender_id"), now=now)
    except MediaUnavailable:
        timer.next_check = now + timedelta(seconds=settings.MEDIA_PATROL_SECONDS * 3)
        return
    if done["exists"]:
        timer.next_check = now + timedelta(seconds=settings.MEDIA_PATROL_SECONDS)
        # Who is sending now, and who ever sent: a venue that had media and lost it is a venue
        # down for the evaluation's lock (``media_senders``).
        ever = sorted(set(timer.payload.get("ever", [])) | set(done["senders"]))
        timer.payload = {**timer.payload, "senders": done["senders"], "ever": ever, "at": now.isoformat()}


def media_senders(media_room: str, *, now) -> tuple[set[int], set[int]] | None:
    """``(users sending now, users who ever sent)`` in ``media_room`` as the patrol last saw it, or
    None when the room has no patrol or its last round is older than three periods (unknown: a
    caller must not conclude that media were lost)."""
    from datetime import datetime

    timer = (RoomTimer.objects.filter(kind=KIND, payload__media_room=media_room)
             .order_by("-pk").values_list("payload", flat=True).first())
    if not timer or "at" not in timer:
        return None
    if (now - datetime.fromisoformat(timer["at"])).total_seconds() > 3 * settings.MEDIA_PATROL_SECONDS:
        return None
    return set(timer.get("senders", [])), set(timer.get("ever", []))


def register() -> None:
    register_room_timer(KIND, run_patrol)
