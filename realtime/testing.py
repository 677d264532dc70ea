"""Test helpers for room kinds (importable by any app's tests).

``verify_action`` is Zulip's pattern: the snapshot before an action plus the events the action
emitted, folded with the kind's ``apply`` (the client's reducer), must equal a fresh snapshot after
it — for every viewer, so a kind cannot emit less (a stale client) or more (a leak) than it shows.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from .audience import Viewer
from .kinds import RoomKind
from .log import missing_events, positions
from .models import Room


def _state(kind: RoomKind, room_key: str, viewer: Viewer) -> tuple[dict, dict[str, int]]:
    room = Room.objects.filter(key=room_key).first()
    return kind.snapshot(room_key, viewer), ({} if room is None else positions(room, viewer))


def verify_action(kind: RoomKind, room_key: str, viewers: Iterable[Viewer],
                  action: Callable[[], Any]) -> dict[Viewer, list[dict]]:
    """Run ``action`` (sync, ORM) and check snapshot-before + events == snapshot-after for each
    viewer. Returns the push frames each viewer received, for further assertions."""
    viewers = list(viewers)
    before = {v: _state(kind, room_key, v) for v in viewers}
    action()
    emitted = {}
    room = Room.objects.get(key=room_key)
    for viewer in viewers:
        state, held = before[viewer]
        records = missing_events(room, viewer, held, limit=10_000) or []
        pushes = [json.loads(r.frame_text()) for r in records]
        for push in pushes:
            state = kind.apply(state, push)
        after, _ = _state(kind, room_key, viewer)
        assert state == after, f"snapshot+events != snapshot for {viewer}: {state!r} != {after!r}"
        emitted[viewer] = pushes
    return emitted
