"""The ``venue:<session_id>:<venue_id>`` room kind: one room per venue of an evaluation session.

Roles in the room (``evaluation.access.session_role``): ``expert`` (a member seated at this venue),
``main_staff`` / ``staff`` (venue staff of the main / a sub venue), ``supervisor`` (sees every
stream of every venue; sends nothing but the decisions on going back and on replacing a member). The state and its events are
described in ``evaluation.state``; every command runs an action in one transaction with the session
row locked (``evaluation.actions.in_session``). Phase rules (which step, the lock, the chair) are
checked by the actions, not here.
"""

from __future__ import annotations

from typing import Any

from realtime.audience import Viewer
from realtime.db import run_db
from realtime.kinds import CommandContext, RoomKind, decimal_id

from . import (actions, actions_bills, actions_clarify, actions_outcome, actions_price, actions_price_review,
               actions_replace, actions_report, actions_scoring)
from . import state as st
from .workflow import EXPERT, MAIN_STAFF, STAFF, SUPERVISOR, Call

DRIVERS = frozenset({MAIN_STAFF, EXPERT})  # the main venue's staff, or the chair (checked)


def command(fn):
    async def run(ctx: CommandContext) -> dict:
        session_id, venue_id = st.parse_room_key(ctx.room)
        call = Call(user=ctx.user, role=ctx.role, actor=ctx.actor, now=ctx.now, payload=ctx.payload)
        return await run_db(actions.in_session, session_id, fn, venue_id, call)

    run.__name__ = fn.__name__
    return run


TABLE: dict[str, tuple[Any, frozenset[str]]] = {
    "eval.sign_in": (actions.do_sign_in, frozenset({EXPERT})),
    "eval.confirm": (actions.do_confirm, frozenset({STAFF, MAIN_STAFF})),
    "eval.pledge": (actions.do_pledge, frozenset({EXPERT})),
    "eval.vote_chair": (actions.do_vote_chair, frozenset({EXPERT})),
    "eval.next": (actions.do_next, DRIVERS),
    "eval.set_clock": (actions.do_set_clock, DRIVERS),
    "eval.show_document": (actions.do_show_document, DRIVERS),
    "eval.request_back": (actions.do_request_back, frozenset({EXPERT})),
    "eval.decide_back": (actions.do_decide_back, frozenset({SUPERVISOR})),
    "eval.vote_compliance": (actions_scoring.do_vote_compliance, frozenset({EXPERT})),
    "eval.score": (actions_scoring.do_score, frozenset({EXPERT})),
    "eval.return_score": (actions_scoring.do_return_score, frozenset({EXPERT})),
    "eval.correct": (actions_scoring.do_correct, frozenset({EXPERT})),
    "eval.ask": (actions_clarify.do_ask, frozenset({EXPERT})),
    "eval.sign": (actions_report.do_sign, frozenset({EXPERT})),
    "eval.dissent": (actions_report.do_dissent, frozenset({EXPERT})),
    "eval.propose_reject_all": (actions_outcome.do_propose_reject_all, frozenset({EXPERT})),
    "eval.vote_reject_all": (actions_outcome.do_vote_reject_all, frozenset({EXPERT})),
    "eval.time_insufficient": (actions_outcome.do_time_insufficient, frozenset({EXPERT})),
    "eval.adjust_price": (actions_price.do_adjust_price, frozenset({EXPERT})),
    "eval.low_price_ask": (actions_price_review.do_low_price_ask, frozenset({EXPERT})),
    "eval.low_price_decide": (actions_price_review.do_low_price_decide, frozenset({EXPERT})),
    "eval.check_bills": (actions_bills.do_check_bills, frozenset({EXPERT, MAIN_STAFF})),
    "eval.propose_correction": (actions_bills.do_propose_correction, frozenset({EXPERT})),
    "eval.request_replacement": (actions_replace.do_request_replacement, frozenset({STAFF, MAIN_STAFF})),
    "eval.decide_replacement": (actions_replace.do_decide_replacement, frozenset({SUPERVISOR})),
}


class VenueRoom(RoomKind):
    sees_all_roles = frozenset({SUPERVISOR})
    presence_roles = frozenset({MAIN_STAFF, STAFF, SUPERVISOR})
    commands = {name: command(fn) for name, (fn, _) in TABLE.items()}
    command_roles = {name: roles for name, (_, roles) in TABLE.items()}

    def canonical_id(self, raw: str) -> str:
        """``venue:<session id>:<venue id>``, both in decimal, as ``state.room_key`` writes them."""
        session_id, venue_id = raw.split(":") if raw.count(":") == 1 else ("", "")
        return f"{decimal_id(session_id)}:{decimal_id(venue_id)}"

    def authorise(self, user, room_key: str) -> str:
        from evaluation.access import access_venue_room
        from common.errors import NotFound

        try:
            session_id, venue_id = st.parse_room_key(room_key)
        except ValueError:
            raise NotFound("room not found", why="malformed venue room") from None
        return access_venue_room(user, session_id, venue_id)[1]

    def media_grant(self, user, room_key: str, role: str):
        """The session's one media room (docs/media.md): the main venue and every sub venue see and
        hear each other; members and venue staff send, supervisors watch and listen, muted. Only
        while the evaluation runs (not after ``done``)."""
        from common.errors import ErrorCode, PlatformError
        from realtime.media import MediaGrant

        from .models import EvaluationSession, Member, Venue
        from .rules.steps import Step

        session_id, venue_id = st.parse_room_key(room_key)
        session = EvaluationSession.objects.get(pk=session_id)
        if st.load_state(session.state).step == Step.DONE:
            raise PlatformError(ErrorCode.INVALID_STATE, "the evaluation has ended: no media any more")
        venue = Venue.objects.get(pk=venue_id)
        if role == EXPERT:
            code = Member.objects.filter(session=session, expert__user=user).values_list(
                "code", flat=True).first() or ""
            display = f"{venue.name} · {code}"
        else:
            display = venue.name  # the venue's own camera (its staff)
        return MediaGrant(room=f"eval-{session_id}", publish=role != SUPERVISOR, display=display,
                          description=f"evaluation session {session_id}",
                          publishers=max(16, session.venues.count() * 8), tender_id=session.lot_id)

    def snapshot(self, room_key: str, viewer: Viewer) -> dict:
        from .models import EvaluationSession

        session_id, venue_id = st.parse_room_key(room_key)
        session = EvaluationSession.objects.select_related("lot").get(pk=session_id)
        return st.build_snapshot(session, venue_id, viewer)

    def apply(self, snapshot: dict, event: dict) -> dict:
        return st.apply_patch(snapshot, event)


VENUE_ROOM = VenueRoom()
