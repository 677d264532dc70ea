"""What every evaluation workflow is made of: the call (who acts, from where, when), the session's
row lock, the member and bidder lookups, the step checks and the state's load and save, the audit
entry, and the evaluation's settings read from Django settings or the environment.

``evaluation.actions`` and its ``actions_*`` siblings build on these; none of them is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings as dj_settings

from audit.log import log_action
from common.actor import Actor
from common.env import env_int
from common.errors import BadRequest, ErrorCode, NotFound, PlatformError

from . import state as st
from .models import EvaluationSession, Member, SessionBidder
from .rules import steps


# Roles in a venue room (``VenueRoom.authorise``).
EXPERT, STAFF, MAIN_STAFF, SUPERVISOR = "expert", "staff", "main_staff", "supervisor"
PRESENT_ROLES = (EXPERT, STAFF, MAIN_STAFF)  # who keeps a venue "up"


def conf(name: str, default: int) -> int:
    """Evaluation settings: Django settings win, then the environment, then the default."""
    return int(getattr(dj_settings, name, env_int(name, default)))


def venue_drop_seconds() -> int:
    return conf("EVAL_VENUE_DROP_SECONDS", 15)


def presence_check_seconds() -> float:
    return conf("EVAL_PRESENCE_CHECK_MS", 2000) / 1000


def signing_minutes() -> int:
    return conf("EVAL_SIGNING_MINUTES", 30)


@dataclass
class Call:
    """Who acts, from where, when, with what: a room command's context or an API request's."""

    user: Any
    role: str
    actor: Actor
    now: datetime
    payload: dict[str, Any] = field(default_factory=dict)


def invalid(message: str, **details: Any) -> PlatformError:
    return PlatformError(ErrorCode.INVALID_STATE, message, details=details or None)


def forbidden(message: str) -> PlatformError:
    return PlatformError(ErrorCode.FORBIDDEN, message)


def lock_session(session_id: int) -> EvaluationSession:
    """The session row, locked. Row lock held: call inside ``transaction.atomic()``."""
    session = (EvaluationSession.objects.select_for_update(of=("self",)).select_related("lot")
               .filter(pk=session_id).first())
    if session is None:
        raise NotFound("session not found")
    return session


def member_of(session, user) -> Member:
    member = session.members.select_related("expert", "expert__user").filter(expert__user_id=user.pk).first()
    if member is None:
        raise forbidden("you are not a member of this committee")
    return member


def seated(member) -> Member:
    """A member who may take part: signed in, confirmed by venue staff and pledged. Always true
    after the pledge step, except for a replacement who has just arrived (Reg 48)."""
    if member.signed_in_at is None or member.confirmed_at is None or member.pledged_at is None:
        raise invalid("sign in, have your identity confirmed and make the pledge first", member=member.code)
    return member


def seated_member(session, user) -> Member:
    return seated(member_of(session, user))


def arrival_step(session, member, step: steps.Step) -> steps.State:
    """Sign-in, confirmation and pledge happen in their steps; a replacement (Reg 48) does them
    whenever it arrives, before the report."""
    if member.replaces_id is None:
        return check_step(session, step)
    state = check_unlocked(session)
    if steps.ORDER.index(state.step) >= steps.ORDER.index(steps.Step.SIGNING):
        raise invalid("not in this step", step=state.step.value)
    if step == steps.Step.PLEDGE and member.confirmed_at is None:
        raise invalid("your identity is confirmed by the venue staff before the pledge")
    return state


def member_by_code(session, code: Any) -> Member:
    member = session.members.select_related("expert", "expert__user").filter(code=str(code)).first()
    if member is None:
        raise BadRequest("no such member", details={"member": code})
    return member


def bidder_by_code(session, code: Any) -> SessionBidder:
    bidder = session.bidders.filter(code=str(code)).first()
    if bidder is None:
        raise BadRequest("no such bidder", details={"bidder": code})
    return bidder


def current_state(session) -> steps.State:
    return st.load_state(session.state)


def save_state(session, state: steps.State, **fields: Any) -> None:
    session.state = st.dump_state(state)
    for name, value in fields.items():
        setattr(session, name, value)
    session.save(update_fields=["state", *fields])


def check_unlocked(session) -> steps.State:
    state = current_state(session)
    if state.locked:
        raise invalid("the session is locked: a venue is missing", missing=sorted(state.missing_venues))
    return state


def check_step(session, *allowed: steps.Step) -> steps.State:
    state = check_unlocked(session)
    if state.step not in allowed:
        raise invalid("not in this step", step=state.step.value)
    return state


def audit(session, action: str, call: Call, **data: Any) -> None:
    log_action(action, actor=call.actor, obj=session, tender_id=session.lot_id, data=data, now=call.now)


def driver(session, call: Call) -> str:
    """Who drives the steps: the main venue's staff, or the chair once elected."""
    if call.role == MAIN_STAFF:
        return "main_venue"
    if call.role == EXPERT and current_state(session).chair == member_of(session, call.user).code:
        return "chair"
    raise forbidden("the steps are driven from the main venue or by the chair")
