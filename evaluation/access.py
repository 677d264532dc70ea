"""Who may see the expert draw, the evaluation sessions, the venue rooms and the clarifications.

``access_<thing>(user, id, ...)`` fetches and authorises in one step and raises ``NotFound`` both when
the object does not exist and when the user may not see it (the reason goes to the log).
"""

from __future__ import annotations

from bidding.access import can_manage_lot
from common.access import deny, role_of
from common.errors import ErrorCode, PlatformError
from common.roles import Cap, has_cap


# --- Evaluation (评标) ---------------------------------------------------------------------------
# Expert names are confidential until the result (Law 37): only the platform administrator and the
# host running the lot see them during the draw; supervisors once the evaluation is done; bidders
# never reach a draw or a session at all. Every read of names is audited by the caller
# (``evaluation.expert.viewed``).

def access_draw(user, draw_id, *, manage: bool = False):
    """A lot's expert draw: administrators and the lot's host (``manage``), or supervisors (read)."""
    from .models import Draw

    role = role_of(user)
    try:
        draw = Draw.objects.select_related("lot", "lot__project").filter(pk=int(draw_id)).first()
    except (TypeError, ValueError):
        draw = None
    if draw is None or role is None:
        raise deny("draw", draw_id, user, "missing" if draw is None else "signed out")
    runs = can_manage_lot(user, draw.lot)
    if not (runs or role == "supervisor"):
        raise deny("draw", draw_id, user, "not visible")
    if manage and not runs:
        raise PlatformError(ErrorCode.FORBIDDEN, "only the lot's host or an administrator runs the draw")
    return draw


def can_see_expert_names(user, draw) -> bool:
    """Names of drawn experts: the lot's host and administrators; supervisors after the result."""
    if can_manage_lot(user, draw.lot):
        return True
    session = getattr(draw, "session", None)  # the reverse one-to-one raises AttributeError if none
    return role_of(user) == "supervisor" and session is not None and session.state.get("step") == "done"


def session_role(user, session, venue_id: int | None = None) -> str | None:
    """The user's role in an evaluation session (at ``venue_id`` when given), or None.

    ``expert`` (a member seated there), ``main_staff``/``staff`` (staff of the main/a sub venue),
    ``supervisor`` (watches every venue, read-only), ``host`` (runs the lot; not in the rooms)."""
    role = role_of(user)
    if role is None:
        return None
    if role == "expert":
        member = session.members.filter(expert__user_id=user.pk).values_list("venue_id", flat=True).first()
        if member is not None and (venue_id is None or member == venue_id):
            return "expert"
        return None
    if role == "venue_staff":
        venues = session.venues.filter(venue__staff=user)
        if venue_id is not None:
            venues = venues.filter(venue_id=venue_id)
        sv = venues.order_by("-is_main").first()
        if sv is None:
            return None
        return "main_staff" if sv.is_main else "staff"
    if has_cap(role, Cap.EVALUATION_WATCH):
        return "supervisor"
    if venue_id is None and can_manage_lot(user, session.lot):
        return "host"
    return None


def access_session(user, session_id, *, manage: bool = False):
    """An evaluation session and the caller's role in it; ``manage``: host or administrator."""
    from .models import EvaluationSession

    try:
        session = (EvaluationSession.objects.select_related("lot", "lot__project", "draw")
                   .filter(pk=int(session_id)).first())
    except (TypeError, ValueError):
        session = None
    role = None if session is None else session_role(user, session)
    if session is None or role is None:
        raise deny("session", session_id, user, "missing" if session is None else "not involved")
    if manage and not can_manage_lot(user, session.lot):
        raise PlatformError(ErrorCode.FORBIDDEN, "only the lot's host or an administrator")
    return session, role


def access_venue_room(user, session_id, venue_id) -> tuple:
    """(session, role in the room ``venue:<session>:<venue>``), or ``not_found``."""
    from .models import EvaluationSession

    try:
        session = EvaluationSession.objects.select_related("lot", "lot__project").filter(
            pk=int(session_id), venues__venue_id=int(venue_id)).first()
    except (TypeError, ValueError):
        session = None
    role = None if session is None else session_role(user, session, int(venue_id))
    if role in (None, "host"):
        raise deny("venue room", f"{session_id}:{venue_id}", user,
                    "missing" if session is None else "not at this venue")
    return session, role


def access_clarification(user, clarification_id, *, for_update: bool = False):
    """A clarification request addressed to the caller's organisation (bidders only)."""
    from .models import Clarification

    if not has_cap(role_of(user), Cap.BID_SUBMIT) or user.organisation_id is None:
        raise deny("clarification", clarification_id, user, "not a bidder")
    queryset = Clarification.objects.select_related("bidder", "session", "session__lot")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        clar = queryset.filter(pk=int(clarification_id)).first()
    except (TypeError, ValueError):
        clar = None
    if clar is None or clar.bidder.bidder_org_id != user.organisation_id:
        raise deny("clarification", clarification_id, user, "missing" if clar is None else "not yours")
    return clar
