"""Who may see an event: streams and viewers. Pure: no ORM, no network.

Every event belongs to exactly one *stream*, named by its audience:

- ``all`` — everyone in the room;
- ``role:<role-in-room>`` — e.g. ``role:host``;
- ``org:<organisation id>`` — one bidder company (all its representatives);
- ``user:<user id>`` — one person.

Each stream has its own gap-free sequence (``sseq``), so a viewer's positions are one number per
stream it can see, and nothing about streams it cannot see (not even how many events they hold)
reaches it. A viewer whose room role is in the kind's ``sees_all_roles`` (supervisors) sees every
stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALL = "all"
_STREAM_RE = re.compile(r"^(all|role:[a-z_]{1,32}|org:\d{1,18}|user:\d{1,18})$")


def to_all() -> str:
    return ALL


def to_role(role: str) -> str:
    return check_stream(f"role:{role}")


def to_org(org_id: int) -> str:
    return check_stream(f"org:{int(org_id)}")


def to_user(user_id: int) -> str:
    return check_stream(f"user:{int(user_id)}")


def check_stream(stream: str) -> str:
    """The stream name, or ``ValueError``: server code names audiences, never clients unchecked."""
    if not isinstance(stream, str) or not _STREAM_RE.match(stream):
        raise ValueError(f"not an audience stream: {stream!r}")
    return stream


@dataclass(frozen=True)
class Viewer:
    """One person's view of one room: who they are and the role the room kind gave them."""

    user_id: int
    org_id: int | None
    role: str
    sees_all: bool = False

    @property
    def streams(self) -> frozenset[str]:
        """The streams visible to a viewer that does not see all."""
        out = {ALL, f"role:{self.role}", f"user:{self.user_id}"}
        if self.org_id is not None:
            out.add(f"org:{self.org_id}")
        return frozenset(out)

    def check_visible(self, stream: str) -> bool:
        return self.sees_all or stream in self.streams
