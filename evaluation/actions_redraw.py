"""Redraws (docs/draw.md): a lot has one draw; another one only when a reason the rules allow applies
and a supervisor approves it.

Reasons: ``too_few_accepted`` (too few drawn experts accepted and the pool gives no replacement),
``legal_recusal`` (a member must withdraw by law, R12 12, Reg 46, found after the draw), both for a
computed draw; ``reveals_missing`` (nobody besides the platform revealed) and ``too_few_accepted``
(the pool gave no committee) for a draw that lapsed.
The host asks with a written note (``evaluation.draw.redraw_requested``); a supervisor approves or
refuses with a note (``evaluation.draw.redraw_approved`` / ``…redraw_refused``); once approved the host
opens the new draw (``actions_draw.do_open_draw``), which supersedes the old one. A draw whose session
has been created is not redrawn: members are replaced through the session (Reg 48).
"""

from __future__ import annotations

from django.db import transaction

from audit.log import log_action
from common.access import role_of
from common.errors import BadRequest, ErrorCode, PlatformError

from .models import Draw, Redraw
from .workflow import Call

REASONS_FOR = {Draw.State.DRAWN: {Redraw.Reason.TOO_FEW_ACCEPTED, Redraw.Reason.LEGAL_RECUSAL},
               Draw.State.LAPSED: {Redraw.Reason.REVEALS_MISSING, Redraw.Reason.TOO_FEW_ACCEPTED}}
NOTE_MAX = 2000


def _note(text: object, field: str) -> str:
    if not isinstance(text, str) or not text.strip() or len(text) > NOTE_MAX:
        raise BadRequest(f"a written {field} of 1 to {NOTE_MAX} characters is required", details={"field": field})
    return text.strip()


def do_request_redraw(draw_id: int, reason: str, note: str, call: Call) -> Redraw:
    """The host's request (authorised by the caller: the lot's host or an administrator)."""
    note = _note(note, "note")
    with transaction.atomic():
        row = Draw.objects.select_for_update().get(pk=draw_id)
        allowed = REASONS_FOR.get(row.state)
        if allowed is None:
            raise PlatformError(ErrorCode.INVALID_STATE, "only a computed or lapsed draw is redrawn",
                                details={"state": row.state})
        if reason not in allowed:
            raise BadRequest("this reason does not allow a redraw of this draw",
                             details={"reason": reason, "allowed": sorted(allowed)})
        if hasattr(row, "session"):
            raise PlatformError(ErrorCode.INVALID_STATE, "the session has started: replace members through it")
        if row.redraws.filter(approved__isnull=True).exists() or row.redraws.filter(approved=True).exists():
            raise PlatformError(ErrorCode.CONFLICT, "a redraw of this draw is already asked for or approved")
        redraw = Redraw.objects.create(draw=row, reason=reason, note=note, requested_by=call.user,
                                       requested_at=call.now)
        log_action("evaluation.draw.redraw_requested", actor=call.actor, obj=redraw, tender_id=row.lot_id,
                   now=call.now, data={"draw": row.pk, "reason": reason, "note": note})
    return redraw


def do_decide_redraw(redraw_id: int, approve: bool, note: str, call: Call) -> Redraw:
    """A supervisor's decision on a waiting request."""
    if role_of(call.user) != "supervisor":
        raise PlatformError(ErrorCode.FORBIDDEN, "a supervisor decides on a redraw")
    if not isinstance(approve, bool):
        raise BadRequest("approve is true or false", details={"field": "approve"})
    note = _note(note, "decision_note")
    with transaction.atomic():
        redraw = Redraw.objects.select_for_update().select_related("draw").get(pk=redraw_id)
        if redraw.approved is not None:
            raise PlatformError(ErrorCode.CONFLICT, "this request is decided already")
        if hasattr(redraw.draw, "session"):
            raise PlatformError(ErrorCode.INVALID_STATE, "the session has started: replace members through it")
        redraw.approved, redraw.decided_by, redraw.decided_at, redraw.decision_note = approve, call.user, call.now, note
        redraw.save(update_fields=["approved", "decided_by", "decided_at", "decision_note"])
        log_action("evaluation.draw.redraw_approved" if approve else "evaluation.draw.redraw_refused",
                   actor=call.actor, obj=redraw, tender_id=redraw.draw.lot_id, now=call.now,
                   data={"draw": redraw.draw_id, "reason": redraw.reason, "note": note,
                         "approved": {"old": None, "new": approve}})
    return redraw


def redraw_view(r: Redraw) -> dict:
    return {"id": r.pk, "draw_id": r.draw_id, "reason": r.reason, "note": r.note,
            "requested_by": str(r.requested_by), "requested_at": r.requested_at, "approved": r.approved,
            "decided_by": None if r.decided_by is None else str(r.decided_by), "decided_at": r.decided_at,
            "decision_note": r.decision_note,
            "new_draw_id": getattr(getattr(r.draw, "redrawn_by", None), "pk", None) if r.approved else None}


def lot_redraws(lot) -> list[dict]:
    """Every redraw request of a lot's draws, oldest first (the console and the report)."""
    rows = Redraw.objects.filter(draw__lot=lot).select_related("draw", "requested_by", "decided_by").order_by("pk")
    return [redraw_view(r) for r in rows]
