"""Presence: who is in a room, per role, counting connections per user (several devices).

Presence is ephemeral, not a room event: it is not in the log, has no ``seq`` and is never replayed.
Each (connection, room) is a row whose ``seen_at`` its worker refreshes every heartbeat; a row older
than ``RT_PRESENCE_STALE_SECONDS`` belongs to a dead worker and stops counting (and is purged by the
ticker). Changes ring the room's doorbell; hubs push the recomputed summary, at most once per
``RT_PRESENCE_DEBOUNCE_SECONDS``, to the roles the kind allows (never to bidders by default: their
number stays hidden before the opening).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from .doorbell import ring_presence
from .models import Presence


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.RT_PRESENCE_STALE_SECONDS)


def do_enter(*, conn_id: str, room_key: str, user, role: str, worker: str, now: datetime) -> None:
    Presence.objects.update_or_create(conn_id=conn_id, room_key=room_key, defaults={
        "user_id": user.pk, "name": (getattr(user, "display_name", "") or user.get_username())[:150],
        "role": role, "org_id": getattr(user, "organisation_id", None), "worker": worker,
        "joined_at": now, "seen_at": now})
    transaction.on_commit(lambda: ring_presence(room_key))


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
