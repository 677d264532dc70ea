"""The steps every opening workflow is made of: lock the hall's ``Opening`` row, check a role's
command against the phase, move the phase machine (``bidding.phases.advance``), append the room's
events and write the audit entry (``bidding.opening.*``), issuing a checkpoint at each phase change.

``bidding.opening.actions`` (the ticker's and the host's moves), ``decryption``, ``record`` and
``talk`` build on these; ``do_*`` assume the ``Opening`` row lock is held.
"""

from __future__ import annotations

from datetime import datetime

from audit.checkpoints import issue_checkpoint
from audit.log import log_action
from common.actor import Actor
from common.errors import ErrorCode, PlatformError
from realtime.audience import to_org, to_role
from realtime.log import append_event, lock_room

from .. import phases
from ..models import Opening, OpeningBid
from ..phases import Command, Event, Phase
from . import views


def emit(op: Opening, event: str, payload: dict, *, now: datetime, audience: str = "all"):
    return append_event(views.room_key(op.lot_id), event, payload, audience=audience, now=now)


def audit(op: Opening, action: str, actor: Actor, now: datetime, **data):
    return log_action(f"bidding.opening.{action}", actor=actor, obj=op, tender_id=op.lot_id,
                      room=views.room_key(op.lot_id), data=data, now=now)


def lock_opening(lot_id: int) -> Opening:
    """The lot's opening, row locked (call inside ``atomic()``); then the room row, so every hall
    change takes the locks in the same order."""
    op = (Opening.objects.select_for_update(of=("self",)).select_related("lot", "lot__project")
          .filter(lot_id=lot_id).first())
    if op is None:
        raise PlatformError(ErrorCode.INVALID_STATE, "the hall is not open yet",
                            details={"phase": Phase.SCHEDULED.value})
    return op


def check(op: Opening, role: str, command: Command) -> None:
    phases.check_command(role, command, op.state())


def do_move(op: Opening, event: Event, *, actor: Actor, now: datetime, **kwargs) -> None:
    """Apply ``event`` with ``bidding.phases.advance``, save, tell the room, audit, checkpoint."""
    before = op.state()
    after = phases.advance(before, event, now=now, **kwargs)
    op.set_state(after)
    op.updated_at = now
    op.save()
    lock_room(views.room_key(op.lot_id), now=now)
    emit(op, "hall.phase", {"phase": views.phase_payload(op)}, now=now)
    audit(op, event.value, actor, now, **{"from": before.phase.value, "to": after.phase.value,
                                          "paused": after.paused, "reason": kwargs.get("reason", "")})
    issue_checkpoint(f"opening {op.lot_id} {event.value}"[:100], now=now)
    if after.phase in phases.TERMINAL and before.phase not in phases.TERMINAL:
        close_hall_media(op.lot_id, actor=actor, now=now)


def close_hall_media(lot_id: int, *, actor: Actor, now: datetime) -> None:
    """The opening ended: after the commit, the hall's media room is closed and its recordings'
    hashes go into the audit log under the lot (``realtime.recordings``, docs/media.md)."""
    from functools import partial

    from django.db import transaction

    from realtime.recordings import close_media_room

    transaction.on_commit(partial(close_media_room, f"hall-{lot_id}", room_key=views.room_key(lot_id),
                                  tender_id=lot_id, actor=actor, now=now), robust=True)


def notify_bid(op: Opening, ob: OpeningBid, *, now: datetime, status_changed: bool = True) -> None:
    """A bid's state changed: its owner (details), the host (state only), everyone (counts).

    The counts go to everyone only when the bid's status changed (``status_changed``): a failed
    attempt leaves them as they were, and an unchanged ``hall.progress`` to ``all`` would tell every
    bidder that some bidder's key just failed. Its owner and the host still hear of it."""
    emit(op, "hall.my_bid", {"org": str(ob.organisation_id), "mine": views.mine_payload(ob, op.lot)},
         audience=to_org(ob.organisation_id), now=now)
    emit(op, "hall.bid_status", {"org": str(ob.organisation_id), "status": views.status_payload(ob)},
         audience=to_role("host"), now=now)
    if status_changed:
        emit(op, "hall.progress", {"progress": views.progress_payload(op)}, now=now)
