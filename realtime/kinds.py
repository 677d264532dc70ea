"""The registry of room kinds. A kind owns a key prefix (``hall:``, ``venue:``) and says who may
join, with which role, what a snapshot looks like, and which commands exist for whom.

Room commands are dispatched through the kind's explicit ``commands`` table; a client-supplied name
never reaches the channel layer or ``getattr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable

from common.actor import Actor
from common.errors import ErrorCode, NotFound, PlatformError

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


_KINDS: dict[str, RoomKind] = {}


def register_room_kind(prefix: str, kind: RoomKind) -> None:
    if prefix in _KINDS and _KINDS[prefix] is not kind:
        raise ValueError(f"room kind {prefix!r} is already registered")
    kind.prefix = prefix
    _KINDS[prefix] = kind


def unregister_room_kind(prefix: str) -> None:
    _KINDS.pop(prefix, None)


def resolve_room_kind(room_key: str) -> RoomKind:
    """The kind serving ``room_key``, or ``NotFound`` (an unknown kind answers like a missing room)."""
    from .log import check_room_key

    try:
        check_room_key(room_key)
    except ValueError:
        raise NotFound("room not found", why="malformed room key") from None
    kind = _KINDS.get(room_key.split(":", 1)[0])
    if kind is None:
        raise NotFound("room not found", why="unknown room kind")
    return kind
