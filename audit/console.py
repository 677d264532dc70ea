"""The supervisors' console: a live stream of every audit entry, over the real-time protocol.

Audit entries are copied into the room ``console:all`` by a timer the ticker applies (each round,
up to ``BATCH`` entries, exactly once under the feed row's lock), so appending an entry never waits
on the console. Supervisors (and platform administrators) join it and see every entry with its
alert classification; they filter by tender, room, actor and action in the page, and can annotate —
the note is itself an audit entry — but change nothing else.
"""

from __future__ import annotations

from datetime import datetime, timezone

from django.db import models, transaction

from common.canonical import format_time
from common.errors import BadRequest, NotFound
from common.roles import Cap, has_cap
from realtime.audience import Viewer
from realtime.db import run_db
from realtime.kinds import CommandContext, RoomKind
from realtime.log import append_events
from realtime.models import RoomEvent

from .alerts import classify
from .log import log_action
from .models import AuditEntry, ConsoleFeed

ROOM = "console:all"
BATCH = 500
SNAPSHOT_ENTRIES = 300


def entry_summary(entry: AuditEntry) -> dict:
    alert = classify(entry.action)
    return {
        "index": entry.index, "time": format_time(entry.created_at), "action": entry.action,
        "actor": entry.actor_name, "role": entry.role, "org": entry.organisation_name,
        "ip": entry.ip, "object": f"{entry.object_type}:{entry.object_id}" if entry.object_type else "",
        "tender": entry.tender_id, "room": entry.room,
        "alert": {"level": alert.level, "code": alert.code, "label": alert.label} if alert else None,
    }


def checkpoint_panel() -> dict | None:
    """What the console shows of the latest checkpoint: its number, size, root and issue time,
    each witness's cosignature with the time the witness states (quorum: how many it needs), and
    the TSA's time on it."""
    from .models import AuditCheckpoint, AuditTimestamp
    from .witnesses import quorum, witnesses

    latest = AuditCheckpoint.objects.exclude(number=None).order_by("-number").first()
    if latest is None:
        return None
    cosignatures = [{"witness": c.witness, "time": datetime.fromtimestamp(c.timestamp, tz=timezone.utc)}
                    for c in latest.cosignatures.order_by("witness")]
    from . import timestamps

    stamp = AuditTimestamp.objects.filter(checkpoint=latest).values_list("gen_time", flat=True).first()
    return {"number": latest.number, "size": latest.size, "root": bytes(latest.root).hex(),
            "created_at": latest.created_at, "cosignatures": cosignatures,
            "timestamp": stamp, "tsa": timestamps.configured(),
            "witnesses": len(witnesses()), "quorum": quorum(),
            "quorum_met": len(cosignatures) >= quorum() and bool(witnesses())}


def do_feed(feed: ConsoleFeed, now: datetime) -> int:
    """Copy the next entries into the console room. Feed row lock held (timer or caller)."""
    entries = list(AuditEntry.objects.filter(index__gt=feed.fed_up_to).order_by("index")[:BATCH])
    append_events(ROOM, "audit.entry", [entry_summary(entry) for entry in entries], now=now)
    if entries:
        feed.fed_up_to = entries[-1].index
    feed.next_check = now  # due again on the next tick
    feed.save(update_fields=["fed_up_to", "next_check"])
    return len(entries)


def feed_console(now: datetime) -> int:
    """Feed now (tests, and the join of the first supervisor); safe next to tickers."""
    with transaction.atomic():
        ConsoleFeed.objects.get_or_create(pk=1, defaults={"next_check": now})
        feed = ConsoleFeed.objects.select_for_update().get(pk=1)
        return do_feed(feed, now)


async def cmd_annotate(ctx: CommandContext) -> dict:
    text = ctx.payload.get("text")
    about = ctx.payload.get("about")
    if not isinstance(text, str) or not 0 < len(text.strip()) <= 1000:
        raise BadRequest("'text' is 1 to 1000 characters")
    if about is not None and (type(about) is not int or about < 0):
        raise BadRequest("'about' is an audit entry index")

    def do():
        with transaction.atomic():
            entry = log_action("audit.annotation.added", actor=ctx.actor, object_type="audit.entry",
                               object_id="" if about is None else about, room=ROOM,
                               data={"text": text.strip(), "about": about}, now=ctx.now,
                               sequenced=True)  # the reply names the note's index
        return {"index": entry.index}

    return await run_db(do)


class ConsoleRoom(RoomKind):
    sees_all_roles = frozenset({"supervisor"})
    presence_roles = frozenset({"supervisor"})
    commands = {"console.annotate": cmd_annotate}
    command_roles = {"console.annotate": frozenset({"supervisor"})}

    def canonical_id(self, raw: str) -> str:
        """One console, ``console:all``: any other id is no room of this kind."""
        if raw != ROOM.split(":", 1)[1]:
            raise ValueError("the console's only room is console:all")
        return raw

    def authorise(self, user, room_key: str) -> str:
        if room_key != ROOM or not has_cap(getattr(user, "role", None), Cap.AUDIT_READ):
            raise NotFound("room not found")
        return "supervisor"

    def snapshot(self, room_key: str, viewer: Viewer) -> dict:
        rows = RoomEvent.objects.filter(room__key=room_key, room__epoch=models.F("epoch"))
        entries = list(rows.order_by("-seq").values_list("payload", flat=True)[:SNAPSHOT_ENTRIES])
        return {"entries": entries[::-1]}

    def apply(self, snapshot: dict, event: dict) -> dict:
        if event["event"] == "audit.entry":
            return {"entries": (snapshot["entries"] + [event["payload"]])[-SNAPSHOT_ENTRIES:]}
        return snapshot


def register() -> None:
    from realtime.kinds import register_room_kind
    from realtime.timers import register_timer

    from .models import AuditHead

    # Due only while the log holds entries the console has not had: an idle feed is not a
    # timer that fires (and counts) on every tick.
    last_index = AuditHead.objects.filter(pk=1).annotate(last=models.F("size") - 1).values("last")[:1]
    register_room_kind("console", ConsoleRoom())
    register_timer("audit.console_feed", ConsoleFeed, do_feed, fed_up_to__lt=models.Subquery(last_index))
