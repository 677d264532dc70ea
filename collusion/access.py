"""Who may see and act on the leads. Supervisors see every lead of every tender and open cases;
the committee of a lot's evaluation sees that lot's leads as advisory material and records its
decision on each; the lot's host may run the analysis (and file the tender's documents) but sees
only that it ran. Bidders see nothing. "Not found" and "not yours" answer the same."""

from __future__ import annotations

from bidding.access import access_lot, can_manage_lot
from common.access import deny, role_of
from common.errors import ErrorCode, PlatformError
from common.roles import Cap, has_cap


def is_supervisor(user) -> bool:
    return has_cap(role_of(user), Cap.EVALUATION_WATCH)


def committee_session(user, lot):
    """The evaluation session of ``lot`` in which ``user`` sits as a (current) member, or None."""
    from evaluation.models import EvaluationSession

    if role_of(user) != "expert":
        return None
    return (EvaluationSession.objects.filter(lot=lot, members__expert__user_id=user.pk,
                                             members__replaced_at__isnull=True).order_by("-id").first())


def access_lot_leads(user, lot_id):
    """(lot, "supervisor" | "committee", session or None) for reading a lot's leads."""
    from bidding.models import Lot

    role = role_of(user)
    if role == "expert":
        try:
            lot = Lot.objects.filter(pk=int(lot_id)).first()
        except (TypeError, ValueError):
            lot = None
        session = committee_session(user, lot) if lot is not None else None
        if session is None:
            raise deny("lot", lot_id, user, "not on the committee")
        return lot, "committee", session
    if not is_supervisor(user):
        raise deny("lot", lot_id, user, "no access to leads")
    return access_lot(user, lot_id), "supervisor", None


def access_lot_for_run(user, lot_id, *, for_update: bool = False):
    """The lot, for running the analysis: a supervisor, or the lot's host."""
    if role_of(user) not in {"host", "admin", "supervisor"}:
        raise deny("lot", lot_id, user, "cannot run the analysis")
    lot = access_lot(user, lot_id, for_update=for_update)
    if not (is_supervisor(user) or can_manage_lot(user, lot)):
        raise PlatformError(ErrorCode.FORBIDDEN, "only the lot's host or a supervisor runs the analysis")
    return lot


def require_supervisor(user) -> None:
    if not is_supervisor(user):
        raise PlatformError(ErrorCode.FORBIDDEN, "only supervisors")
