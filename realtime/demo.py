"""The ``demo`` room kind: a small room used by the protocol tests, the benchmarks and as an example
for real kinds. Registered only when ``RT_DEMO_ROOMS`` is on (never in production by default).

Any signed-in user joins ``demo:<name>`` with their platform role as room role. Hosts post messages
to an audience (``all``, ``role:x``, ``org:n``, ``user:n``); supervisors see every stream. The state
is the list of posts the viewer may see, so the snapshot is built from the log itself.
"""

from __future__ import annotations

from django.db import transaction

from common.errors import BadRequest, ErrorCode, PlatformError

from .audience import Viewer, check_stream
from .audit_hook import audit
from .db import run_db
from .kinds import CommandContext, RoomKind
from .log import append_event, reset_epoch
from .models import RoomEvent

SNAPSHOT_POSTS = 200


def do_post(ctx: CommandContext, text: str, audience: str) -> dict:
    with transaction.atomic():
        record = append_event(ctx.room, "demo.posted", {"text": text, "by": ctx.actor.username},
                              audience=audience, now=ctx.now)
        audit("realtime.demo.posted", actor=ctx.actor, room=ctx.room,
                   data={"audience": audience, "seq": record.seq}, now=ctx.now)
    return {"stream": record.stream, "seq": record.sseq}


async def cmd_post(ctx: CommandContext) -> dict:
    text = ctx.payload.get("text")
    audience = ctx.payload.get("audience", "all")
    if not isinstance(text, str) or not 0 < len(text) <= 300:
        raise BadRequest("'text' is 1 to 300 characters")
    try:
        check_stream(audience)
    except ValueError:
        raise BadRequest("unknown audience") from None
    return await run_db(do_post, ctx, text, audience)


async def cmd_reset(ctx: CommandContext) -> dict:
    def do_reset():
        with transaction.atomic():
            epoch = reset_epoch(ctx.room, now=ctx.now)
            audit("realtime.demo.reset", actor=ctx.actor, room=ctx.room, now=ctx.now)
        return {"epoch": epoch}

    return await run_db(do_reset)


async def cmd_fail(ctx: CommandContext) -> dict:
    raise PlatformError(ErrorCode.INVALID_STATE, "this demo command always fails")


class DemoRoom(RoomKind):
    sees_all_roles = frozenset({"supervisor", "admin"})
    presence_roles = frozenset({"host", "supervisor", "admin"})
    commands = {"demo.post": cmd_post, "demo.reset": cmd_reset, "demo.fail": cmd_fail}
    command_roles = {"demo.post": frozenset({"host", "admin"}),
                     "demo.reset": frozenset({"host", "admin"}),
                     "demo.fail": frozenset({"host", "bidder", "supervisor", "admin"})}

    def authorise(self, user, room_key: str) -> str:
        return user.role

    def snapshot(self, room_key: str, viewer: Viewer) -> dict:
        rows = RoomEvent.objects.filter(room__key=room_key, epoch=models_epoch(room_key))
        if not viewer.sees_all:
            rows = rows.filter(stream__in=viewer.streams)
        posts = list(rows.order_by("-seq").values_list("payload", flat=True)[:SNAPSHOT_POSTS])
        return {"posts": posts[::-1]}

    def apply(self, snapshot: dict, event: dict) -> dict:
        if event["event"] == "demo.posted":
            return {"posts": (snapshot["posts"] + [event["payload"]])[-SNAPSHOT_POSTS:]}
        return snapshot


def models_epoch(room_key: str) -> str:
    from .models import Room

    return Room.objects.filter(key=room_key).values_list("epoch", flat=True).first() or ""
