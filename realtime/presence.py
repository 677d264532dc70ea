"""Presence: who is in a room, per role, counting connections per user (several devices).

Presence is ephemeral, not a room event: it is not in the log, has no ``seq`` and is never replayed.
Each (connection, room) is a row whose ``seen_at`` its worker refreshes every heartbeat; a row older
than ``RT_PRESENCE_STALE_SECONDS`` belongs to a dead worker and stops counting (and is purged by the
ticker). Changes ring the room's doorbell; hubs push the recomputed summary, at most once per
``RT_PRESENCE_DEBOUNCE_SECONDS``, to the roles the kind allows, each in the kind's view of it
(``RoomKind.presence_view``: a hall's bidders see the host side only, never other bidders nor their
number).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q

from .doorbell import ring_presence
from .models import Presence


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.RT_PRESENCE_STALE_SECONDS)


def entry(*, conn_id: str, room_key: str, user, role: str, worker: str, now: datetime) -> Presence:
    """The presence row of a socket that joined ``room_key`` (unsaved: ``apply_changes`` writes it)."""
    return Presence(conn_id=conn_id, room_key=room_key, user_id=user.pk,
                    name=(getattr(user, "display_name", "") or user.get_username())[:150], role=role,
                    org_id=getattr(user, "organisation_id", None), worker=worker, joined_at=now,
                    seen_at=now)


CLOSED = "closed"


def apply_changes(changes: list[tuple[str, list[str], Presence | str | None]]) -> None:
    """Apply the presence changes a hub queued, in their order, in one transaction.

    A change is ``(conn_id, [room_key], row)``: the socket joined (``row`` is its ``entry``);
    ``(conn_id, room_keys, None)``: it left those rooms; ``(conn_id, room_keys, CLOSED)``: it closed,
    and every row of it goes (also of a room it was dropped from by a resync). The last change of a
    (socket, room) wins, so a leave is never undone by the join queued before it. A reconnect
    storm's thousands of joins and closes become one upsert and one delete per batch instead of a
    transaction each (``update_or_create`` was four round trips and a commit per join). Each room's
    doorbell rings once, after commit."""
    final: dict[tuple[str, str], Presence | None] = {}
    closed: set[str] = set()
    rooms: set[str] = set()
    for conn_id, keys, row in changes:
        rooms.update(keys)
        if row == CLOSED:
            closed.add(conn_id)
            final = {ck: r for ck, r in final.items() if ck[0] != conn_id}
            continue
        for key in keys:
            final[(conn_id, key)] = row
    gone = Q(conn_id__in=sorted(closed)) if closed else Q(pk__in=[])
    by_room: dict[str, list[str]] = {}
    for (conn_id, key), row in final.items():
        if row is None:
            by_room.setdefault(key, []).append(conn_id)
    for key, conns in by_room.items():
        gone |= Q(room_key=key, conn_id__in=conns)
    rows = [row for row in final.values() if row is not None]
    with transaction.atomic():
        if closed or by_room:
            Presence.objects.filter(gone).delete()
        if rows:
            Presence.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["conn_id", "room_key"],
                update_fields=["user_id", "name", "role", "org_id", "worker", "joined_at", "seen_at"])
        transaction.on_commit(lambda: [ring_presence(key) for key in sorted(rooms)])


def do_leave(*, conn_id: str, room_keys: list[str]) -> None:
    if not room_keys:
        return
    Presence.objects.filter(conn_id=conn_id, room_key__in=room_keys).delete()
    for key in room_keys:
        ring_presence(key)


def do_refresh(*, worker: str, now: datetime) -> int:
    return Presence.objects.filter(worker=worker).update(seen_at=now)


def purge_stale(*, now: datetime) -> int:
    return Presence.objects.filter(seen_at__lt=_stale_before(now)).delete()[0]


def summary(room_key: str, *, now: datetime) -> dict:
    """``{"roles": {role: {"users": n, "connections": m}}, "users": [{id, name, role, connections}]}``"""
    rows = (Presence.objects.filter(room_key=room_key, seen_at__gte=_stale_before(now))
            .values("user_id", "name", "role").annotate(n=Count("id")).order_by("role", "name"))
    roles: dict[str, dict[str, int]] = {}
    users = []
    for row in rows:
        r = roles.setdefault(row["role"], {"users": 0, "connections": 0})
        r["users"] += 1
        r["connections"] += row["n"]
        users.append({"id": row["user_id"], "name": row["name"], "role": row["role"],
                      "connections": row["n"]})
    return {"roles": roles, "users": users}
