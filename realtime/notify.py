"""What other apps call to act on live sockets, on every worker (through the doorbell).

- ``disconnect_user(user_id)``: on logout and when an administrator ends a user's sessions — every
  socket of the user, on any worker, is closed with 4401 (sign in again).
- ``revoke_room_access(room_key, user_id)``: the user lost access to one room; its sockets get a
  ``resync`` for the room, leave it (no more events, no presence there) and their re-join is
  authorised afresh (and refused). The sockets stay open for the user's other rooms.

Both ring after the surrounding transaction commits (right away outside one).
"""

from __future__ import annotations

from django.db import transaction

from .doorbell import ring_control


def disconnect_user(user_id: int) -> None:
    uid = int(user_id)
    transaction.on_commit(lambda: ring_control("disconnect_user", str(uid)))


def revoke_room_access(room_key: str, user_id: int) -> None:
    from .log import check_room_key

    key, uid = check_room_key(room_key), int(user_id)
    transaction.on_commit(lambda: ring_control("revoke", key, str(uid)))
