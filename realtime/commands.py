"""The built-in commands (``room.join``, ``room.leave``, ``time.sync``, ``ping``, ``presence.get``)
and the dispatch of room commands to their kind's table."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from common import clock, metrics
from common.actor import Actor, scope_user_agent
from common.canonical import format_time
from common.errors import BadRequest, ErrorCode, NotFound, PlatformError

from . import frames
from .audience import Viewer, check_stream
from .db import run_db
from .kinds import CommandContext, resolve_room_kind
from .media import cmd_media_token
from .log import EventRecord, lock_room, positions, replay_after
from .member import Member
from .presence import entry


@dataclass
class JoinPlan:
    mode: str  # "replay" or "snapshot"
    epoch: str
    viewer: Viewer
    positions: dict[str, int]
    snapshot: dict[str, Any] | None = None
    events: list[EventRecord] = field(default_factory=list)


def check_held(payload: dict) -> tuple[dict[str, int] | None, str | None]:
    """The positions a client says it holds: ``{"stream": seq}``, or an int for the ``all`` stream."""
    held, epoch = payload.get("last_seq"), payload.get("epoch")
    if epoch is not None and not isinstance(epoch, str):
        raise BadRequest("'epoch' is a string")
    if held is None:
        return None, epoch
    if isinstance(held, int) and not isinstance(held, bool):
        held = {"all": held}
    if not isinstance(held, dict) or len(held) > 1000:
        raise BadRequest("'last_seq' is an object of stream → seq")
    out = {}
    for stream, seq in held.items():
        try:
            check_stream(stream)
        except ValueError:
            raise BadRequest(f"unknown stream {stream!r}") from None
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise BadRequest("positions are non-negative integers")
        out[stream] = seq
    return out, epoch


def do_join(kind, room_key: str, user, *, held, epoch, now) -> JoinPlan:
    """Authorise (the kind checks the user's access, role and phase on every join), then plan the
    catch-up: a replay from the log when the client's epoch is current, its positions are not ahead
    of the log and it lacks at most ``RT_MAX_REPLAY`` events — one query, ``log.replay_after`` —
    else a snapshot. Sync, ORM. The caller records presence (batched by the hub)."""
    role = kind.authorise(user, room_key)
    viewer = kind.viewer(user, role)
    if held is not None and epoch is not None:
        events = replay_after(room_key, epoch, viewer, held, limit=settings.RT_MAX_REPLAY)
        if events is not None:
            known = {s: n for s, n in held.items() if viewer.check_visible(s)}
            return JoinPlan("replay", epoch, viewer, known, events=events)
    with transaction.atomic():
        # Row lock held: no append can slip between the snapshot and its positions.
        room = lock_room(room_key, now=now)
        return JoinPlan("snapshot", room.epoch, viewer, positions(room, viewer),
                        snapshot=kind.snapshot(room_key, viewer))


async def cmd_room_join(conn, command: frames.Command) -> dict:
    key = command.room
    kind = resolve_room_kind(key)
    held, epoch = check_held(command.payload)
    old = conn.rooms.get(key)
    if old is not None:
        conn.drop_member(old)  # a re-join starts over from the positions the client states now
    member = Member(conn, key, kind)
    await conn.hub.join(key, member)
    try:
        now = clock.now()
        plan = await run_db(do_join, kind, key, conn.user, held=held, epoch=epoch, now=now)
    except BaseException:
        conn.hub.leave(key, member)
        raise
    conn.hub.enter_presence(entry(conn_id=conn.id, room_key=key, user=conn.user,
                                  role=plan.viewer.role, worker=conn.hub.worker, now=now))
    conn.present = True
    member.set_viewer(plan.viewer)
    member.positions = dict(plan.positions)
    member.epoch = plan.epoch
    conn.rooms[key] = member
    # No await from here on: the replay, the reply and the buffered live events go out in order.
    if plan.events:
        conn.sender.grace = 1 << 62  # the replay is bounded by RT_MAX_REPLAY, not by the backlog
    for record in plan.events:
        if record.sseq > member.positions.get(record.stream, 0):
            member.positions[record.stream] = record.sseq
            conn.send_text(record.frame_text())
    if plan.events:
        conn.sender.allow_burst()
    metrics.JOINS.labels(plan.mode).inc()
    metrics.REPLAYED.inc(len(plan.events))
    reply = {"room": key, "mode": plan.mode, "epoch": plan.epoch, "role": plan.viewer.role,
             "positions": dict(member.positions), "replayed": len(plan.events)}
    if plan.snapshot is not None:
        reply["snapshot"] = plan.snapshot
    conn.send_frame(frames.ok_reply(command.id, reply))
    member.flush()
    return None  # replied above, before the buffered events


async def replay_missing(conn, member) -> None:
    records = await run_db(replay_after, member.key, member.epoch, member.viewer,
                           dict(member.positions), limit=settings.RT_MAX_REPLAY)
    if records is None:
        member.resync("too_far_behind")
        return
    metrics.REPLAYED.inc(len(records))
    conn.sender.grace = 1 << 62
    for record in records:
        if record.sseq == member.positions.get(record.stream, 0) + 1:
            member.positions[record.stream] = record.sseq
            conn.send_text(record.frame_text())
    conn.sender.allow_burst()
    member.flush()


async def cmd_room_leave(conn, command: frames.Command) -> dict:
    member = conn.rooms.get(command.room)
    if member is None:
        raise PlatformError(ErrorCode.INVALID_STATE, "not in this room")
    conn.drop_member(member)
    conn.hub.leave_presence(conn.id, [command.room])  # queued behind this socket's join
    return {"room": command.room}


async def cmd_time_sync(conn, command: frames.Command) -> dict:
    """Server time, so clients show countdowns of the server's clock, never their own."""
    return {"server_time": format_time(clock.now()), "server_ms": int(time.time() * 1000),
            "client_sent": command.payload.get("client_sent")}


async def cmd_ping(conn, command: frames.Command) -> dict:
    return {"server_ms": int(time.time() * 1000)}


async def cmd_presence_get(conn, command: frames.Command) -> dict:
    from .presence import summary

    member = conn.rooms.get(command.room)
    if member is None:
        raise PlatformError(ErrorCode.INVALID_STATE, "not in this room")
    if not member.presence_watch:
        raise PlatformError(ErrorCode.FORBIDDEN, "your role in this room does not see presence")
    # The same view the hub pushes to this role (a hall's bidders: the host side only).
    view = member.kind.presence_view(member.role, await run_db(summary, command.room, now=clock.now()))
    if view is None:
        raise PlatformError(ErrorCode.FORBIDDEN, "your role in this room does not see presence")
    return view


BUILTIN = {
    "room.join": cmd_room_join,
    "room.leave": cmd_room_leave,
    "time.sync": cmd_time_sync,
    "ping": cmd_ping,
    "presence.get": cmd_presence_get,
    "media.token": cmd_media_token,
}


async def dispatch(conn, command: frames.Command) -> dict | None:
    fn = BUILTIN.get(command.cmd)
    if fn is not None:
        return await fn(conn, command)
    if not command.room:
        raise PlatformError(ErrorCode.UNKNOWN_COMMAND, f"unknown command {command.cmd!r}")
    try:
        kind = resolve_room_kind(command.room)
    except NotFound:
        raise PlatformError(ErrorCode.UNKNOWN_COMMAND, f"unknown command {command.cmd!r}") from None
    if command.cmd not in kind.commands:
        raise PlatformError(ErrorCode.UNKNOWN_COMMAND, f"unknown command {command.cmd!r}")
    member = conn.rooms.get(command.room)
    if member is None:
        raise PlatformError(ErrorCode.INVALID_STATE, "join the room first")
    fn = kind.check_command(command.cmd, member.role)
    if conn.actor is None:
        ip = (conn.scope.get("client") or ("",))[0] or ""
        conn.actor = await run_db(Actor.of, conn.user, ip, scope_user_agent(conn.scope))  # reads the organisation: ORM
    ctx = CommandContext(user=conn.user, viewer=member.viewer, room=command.room, role=member.role,
                         cmd=command.cmd, payload=command.payload, actor=conn.actor,
                         now=clock.now())
    return await fn(ctx)
