"""The room kind ``hall:<lot id>``: who joins with which role, the snapshot, and the command table.

Roles in the room: ``host`` (a manager of the tender: its agency or tenderee), ``supervisor``
(watches every stream read-only, with presence), ``bidder`` (an organisation with a bid on the lot).
Commands are thin: parse, call the action on a database thread, reply.

Presence: host and supervisors see who is here; a bidder sees only whether the host side is online
(``host_presence``), never anything of other bidders, not even their number (招标投标法 22).
"""

from __future__ import annotations

from realtime.audience import Viewer
from realtime.db import run_db
from realtime.kinds import CommandContext, RoomKind, decimal_id

BIDDER, HOST, SUPERVISOR = frozenset({"bidder"}), frozenset({"host"}), frozenset({"supervisor"})


def _lot_id(room: str) -> int:
    return int(room.split(":", 1)[1])


async def cmd_release_key(ctx: CommandContext) -> dict:
    from .decryption import release_key

    return await run_db(release_key, ctx.user, ctx.actor, _lot_id(ctx.room), role=ctx.role,
                        file_key=ctx.payload.get("file_key"), commitment=ctx.payload.get("commitment"),
                        now=ctx.now)


async def cmd_confirm(ctx: CommandContext) -> dict:
    from .record import confirm_record

    return await run_db(confirm_record, ctx.user, ctx.actor, _lot_id(ctx.room), role=ctx.role,
                        signature=ctx.payload.get("signature"), record_hash=ctx.payload.get("hash"),
                        now=ctx.now)


async def cmd_object(ctx: CommandContext) -> dict:
    from .talk import raise_objection

    return await run_db(raise_objection, ctx.user, ctx.actor, _lot_id(ctx.room), role=ctx.role,
                        text=ctx.payload.get("text"), now=ctx.now)


async def cmd_answer(ctx: CommandContext) -> dict:
    from .talk import answer_objection

    return await run_db(answer_objection, ctx.user, ctx.actor, _lot_id(ctx.room), role=ctx.role,
                        objection_id=ctx.payload.get("objection"), text=ctx.payload.get("text"), now=ctx.now)


async def cmd_chat(ctx: CommandContext) -> dict:
    from .talk import chat

    return await run_db(chat, ctx.user, ctx.actor, _lot_id(ctx.room), role=ctx.role,
                        text=ctx.payload.get("text"), org=ctx.payload.get("org"), now=ctx.now)


def host_presence(data: dict) -> dict:
    """A bidder's view of the presence summary: is the host side online, with how many staff and
    devices. Nothing about bidders (招标投标法 22: not even how many are here) nor supervisors."""
    host = data["roles"].get("host") or {"users": 0, "connections": 0}
    return {"host": {"online": host["users"] > 0, "users": host["users"],
                     "connections": host["connections"]}}


def _host_move(name: str, **fixed):
    async def cmd(ctx: CommandContext) -> dict:
        from . import actions, record

        fn = getattr(record if name == "start_confirmation" else actions, name)
        extra = {"reason": ctx.payload.get("reason", "")} if name == "pause" else {}
        return await run_db(fn, _lot_id(ctx.room), ctx.actor, role=ctx.role, now=ctx.now, **extra)
    return cmd


class HallRoom(RoomKind):
    sees_all_roles = SUPERVISOR
    presence_roles = HOST | SUPERVISOR | BIDDER  # bidders: the host side only (presence_view)
    commands = {
        "hall.release_key": cmd_release_key,
        "hall.confirm": cmd_confirm,
        "hall.object": cmd_object,
        "hall.answer": cmd_answer,
        "hall.chat": cmd_chat,
        "hall.pause": _host_move("pause"),
        "hall.resume": _host_move("resume"),
        "hall.start_decryption": _host_move("start_decryption"),
        "hall.draw_coefficient": _host_move("draw_coefficient"),
        "hall.start_confirmation": _host_move("start_confirmation"),
    }
    command_roles = {
        "hall.release_key": BIDDER, "hall.confirm": BIDDER, "hall.object": BIDDER,
        "hall.answer": HOST, "hall.chat": BIDDER | HOST,
        "hall.pause": HOST, "hall.resume": HOST, "hall.start_decryption": HOST,
        "hall.draw_coefficient": HOST, "hall.start_confirmation": HOST,
    }

    def canonical_id(self, raw: str) -> str:
        """``hall:<lot id>``: the lot's primary key in decimal, as ``views.room_key`` writes it."""
        return str(decimal_id(raw))

    def authorise(self, user, room_key: str) -> str:
        from bidding.access import access_hall

        return access_hall(user, room_key.split(":", 1)[1])[1]

    def media_grant(self, user, room_key: str, role: str):
        """The hall's stream (docs/media.md): the host sends audio and video one-to-many, bidders
        and supervisors watch and listen. Until the opening closes or fails."""
        from common.errors import ErrorCode, PlatformError
        from realtime.media import MediaGrant

        from bidding.models_opening import Opening
        from bidding.phases import TERMINAL, Phase

        lot_id = _lot_id(room_key)
        phase = Opening.objects.filter(lot_id=lot_id).values_list("phase", flat=True).first()
        if phase is not None and Phase(phase) in TERMINAL:
            raise PlatformError(ErrorCode.INVALID_STATE, "the opening has ended: no stream any more")
        return MediaGrant(room=f"hall-{lot_id}", publish=role in HOST,
                          display="host" if role in HOST else "watcher",
                          description=f"hall {lot_id}", publishers=2, tender_id=lot_id)

    def presence_view(self, role: str, data: dict) -> dict | None:
        if role in BIDDER:
            return host_presence(data)
        return super().presence_view(role, data)

    def snapshot(self, room_key: str, viewer: Viewer) -> dict:
        from .views import snapshot

        return snapshot(_lot_id(room_key), viewer.role, viewer.org_id)

    def apply(self, snapshot: dict, event: dict) -> dict:
        from .views import apply

        return apply(snapshot, event)
