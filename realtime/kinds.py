"""The registry of room kinds. A kind owns a key prefix (``hall:``, ``venue:``) and says who may
join, with which role, what a snapshot looks like, and which commands exist for whom.

Room commands are dispatched through the kind's explicit ``commands`` table; a client-supplied name
never reaches the channel layer or ``getattr``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable

from common.actor import Actor
from common.errors import BadRequest, ErrorCode, NotFound, PlatformError

from .audience import Viewer


@dataclass(frozen=True)
class CommandContext:
    user: Any
    viewer: Viewer
    room: str
    role: str
    cmd: str
    payload: dict[str, Any]
    actor: Actor
    now: datetime


CommandFn = Callable[[CommandContext], Awaitable[dict]]


class RoomKind:
    """Base class of room kinds. Subclasses set the tables and override the methods."""

    prefix: str = ""
    #: roles in the room that see every stream (supervisors watch everything)
    sees_all_roles: frozenset[str] = frozenset()
    #: roles in the room that receive presence (who is here), each as ``presence_view`` shapes it;
    #: others never do
    presence_roles: frozenset[str] = frozenset()
    #: command name → coroutine(ctx) returning the reply payload
    commands: dict[str, CommandFn] = {}
    #: command name → roles in the room allowed to send it (phase rules live in the actions)
    command_roles: dict[str, frozenset[str]] = {}

    def canonical_id(self, raw: str) -> str:
        """The canonical form of the id part of a room key (after ``<kind>:``), or ``ValueError``.

        Parse, then print: a key is served only when it equals its canonical form, so two strings
        never name one room (``hall:02`` and ``hall:2`` would otherwise be one lot's two rooms, each
        with its own epoch and log). The default is for free-form names, where every string is its
        own room; a kind whose ids are numbers overrides it (``decimal_id``). Pure."""
        return raw

    def authorise(self, user, room_key: str) -> str:
        """The user's role in the room, or raise ``NotFound`` (also for "not yours"). Sync, ORM."""
        raise NotFound("room not found")

    def snapshot(self, room_key: str, viewer: Viewer) -> dict[str, Any]:
        """The room's state as ``viewer`` may see it. Called with the room row locked, so it is
        consistent with the positions sent alongside. Sync, ORM."""
        return {}

    def apply(self, snapshot: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        """The client's reducer: the state after ``event`` (a push frame). Used by ``verify_action``."""
        raise NotImplementedError

    def presence_view(self, role: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """What ``role`` may see of the presence summary ``data`` (``presence.summary``), or None
        for nothing. Pure, and called once per role and summary, never per socket: the hub
        serialises each distinct view once. By default the whole summary for ``presence_roles``;
        a kind whose roles must not learn of each other (a hall's bidders) returns a filtered copy.
        Roles sharing a view should get the same object, so the hub serialises it once for all."""
        return data if role in self.presence_roles else None

    def media_grant(self, user, room_key: str, role: str):
        """What ``user`` (with ``role`` in the room) may do in the room's media room: a
        ``realtime.media.MediaGrant``, or None for no media (the default). Asked on every
        ``media.token`` (docs/media.md); may raise ``NotFound`` or ``PlatformError`` (the session
        ended, …). Sync, ORM."""
        return None

    def viewer(self, user, role: str) -> Viewer:
        return Viewer(user_id=user.pk, org_id=getattr(user, "organisation_id", None), role=role,
                      sees_all=role in self.sees_all_roles)

    def check_command(self, cmd: str, role: str) -> CommandFn:
        """The command's coroutine if ``role`` may send it; ``unknown_command`` or ``forbidden``."""
        fn = self.commands.get(cmd)
        if fn is None:
            raise PlatformError(ErrorCode.UNKNOWN_COMMAND, f"unknown command {cmd!r}")
        if role not in self.command_roles.get(cmd, frozenset()):
            raise PlatformError(ErrorCode.FORBIDDEN, "your role in this room cannot do this")
        return fn


_DECIMAL_RE = re.compile(r"^[1-9][0-9]{0,17}$")


def decimal_id(text: str) -> int:
    """A positive integer in its one canonical spelling (ASCII digits, no sign, no leading zero, no
    ``_``: ``int()`` accepts ``02``, ``+2``, ``1_0`` and ``٢``), else ``ValueError``."""
    if not isinstance(text, str) or not _DECIMAL_RE.match(text):
        raise ValueError(f"not a canonical positive integer: {text!r}")
    return int(text)


_KINDS: dict[str, RoomKind] = {}


def register_room_kind(prefix: str, kind: RoomKind) -> None:
    if prefix in _KINDS and _KINDS[prefix] is not kind:
        raise ValueError(f"room kind {prefix!r} is already registered")
    kind.prefix = prefix
    _KINDS[prefix] = kind


def unregister_room_kind(prefix: str) -> None:
    _KINDS.pop(prefix, None)


def resolve_room_kind(room_key: str) -> RoomKind:
    """The kind serving ``room_key``: ``bad_request`` for a key that is malformed (the grammar of
    docs/protocol.md §2) or not in its kind's canonical form, ``NotFound`` for an unknown kind (it
    answers like a missing room). Pure: nothing is read or created before the key is canonical."""
    from .log import check_room_key

    try:
        check_room_key(room_key)
    except ValueError:
        raise BadRequest("'room' is <kind>:<id>, at most 183 characters (docs/protocol.md §2)") from None
    prefix, raw = room_key.split(":", 1)
    kind = _KINDS.get(prefix)
    if kind is None:
        raise NotFound("room not found", why="unknown room kind")
    try:
        canonical = kind.canonical_id(raw)
    except ValueError:
        raise BadRequest(f"not a room id of kind {prefix!r}") from None
    if canonical != raw:
        raise BadRequest("the room id is not in its canonical form",
                         details={"canonical": f"{prefix}:{canonical}"})
    return kind
