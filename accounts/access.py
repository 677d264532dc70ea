"""Object-level permission checks, all in one place.

``access_<thing>(user, id, ...)`` fetches and authorises in one step and raises ``NotFound`` both when
the object does not exist and when the user may not see it ("not found" and "not yours" answer the
same; the reason goes to the log). Role capabilities come from ``accounts.roles``.
"""

from __future__ import annotations

import logging

from django.db.models import QuerySet

from common.errors import ErrorCode, NotFound, PlatformError

from .roles import Cap, has_cap

log = logging.getLogger(__name__)


def _deny(kind: str, obj_id, user, why: str) -> NotFound:
    log.info("access denied: %s %s to user %s: %s", kind, obj_id, getattr(user, "pk", None), why)
    return NotFound(f"{kind} not found", why=why)


def _role(user) -> str | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return user.role


def visible_lots(user) -> QuerySet:
    """Every lot ``user`` may see, as a queryset (for lists and for ``access_lot``)."""
    from bidding.models import Lot

    role = _role(user)
    lots = Lot.objects.select_related("project", "project__tenderee", "project__agency")
    if role is None:
        return lots.none()
    if has_cap(role, Cap.TENDER_VIEW_ANY):
        return lots
    visible = lots.none()
    if has_cap(role, Cap.TENDER_VIEW_PUBLISHED):
        visible = lots.published()
    if has_cap(role, Cap.TENDER_VIEW_OWN_DRAFTS):
        visible = visible | lots.run_by(user.organisation_id)
    return visible


def can_manage_lot(user, lot) -> bool:
    role = _role(user)
    if role is None:
        return False
    if has_cap(role, Cap.TENDER_MANAGE_ANY):
        return True
    return has_cap(role, Cap.TENDER_MANAGE_OWN) and lot.project.is_run_by(user.organisation_id)


def access_lot(user, lot_id, *, manage: bool = False, for_update: bool = False, annotate=None):
    """The lot, if ``user`` may see it (and, with ``manage``, change it).

    With ``for_update`` the row is locked: call inside ``transaction.atomic()``. ``annotate``: more
    expressions read in the same query (``access_hall``'s "has this organisation a bid here").
    """
    from bidding.models import Lot

    try:
        lot_id = int(lot_id)
    except (TypeError, ValueError):
        raise _deny("lot", lot_id, user, "malformed id") from None
    queryset = visible_lots(user)
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    if annotate:
        queryset = queryset.annotate(**annotate)
    lot = queryset.filter(pk=lot_id).first()
    if lot is None:
        exists = Lot.objects.filter(pk=lot_id).exists()
        raise _deny("lot", lot_id, user, "not visible" if exists else "missing")
    if manage and not can_manage_lot(user, lot):
        # The user can see the lot, so saying so leaks nothing; say what is missing.
        raise PlatformError(ErrorCode.FORBIDDEN, "you cannot manage this tender")
    return lot


def access_project(user, project_id, *, manage: bool = False):
    from bidding.models import Project

    role = _role(user)
    try:
        project = Project.objects.select_related("tenderee", "agency").get(pk=int(project_id))
    except (Project.DoesNotExist, TypeError, ValueError):
        raise _deny("project", project_id, user, "missing") from None
    own = role is not None and project.is_run_by(user.organisation_id)
    if has_cap(role, Cap.TENDER_VIEW_ANY) or (own and has_cap(role, Cap.TENDER_VIEW_OWN_DRAFTS)):
        pass
    elif has_cap(role, Cap.TENDER_VIEW_PUBLISHED) and project.lots.published().exists():
        pass
    else:
        raise _deny("project", project_id, user, "not visible")
    if manage and not (has_cap(role, Cap.TENDER_MANAGE_ANY) or
                       (own and has_cap(role, Cap.TENDER_MANAGE_OWN))):
        raise PlatformError(ErrorCode.FORBIDDEN, "you cannot manage this project")
    return project


def require_cap(user, cap: Cap) -> None:
    if not has_cap(_role(user), cap):
        raise PlatformError(ErrorCode.FORBIDDEN, "your role cannot do this")


# --- Sealed bids -------------------------------------------------------------------------------
# Before the deadline a bidder sees only its own organisation's certificates, uploads and
# submissions (招标投标法 22: no endpoint reveals other bidders' names or their number).

CERTIFICATE_APPROVERS = frozenset({"admin", "host"})
CERTIFICATE_VIEWERS = CERTIFICATE_APPROVERS | {"supervisor"}


def can_approve_certificates(user) -> bool:
    return _role(user) in CERTIFICATE_APPROVERS


def access_certificate(user, cert_id, *, approve: bool = False, for_update: bool = False):
    """A bidder certificate: bidders see their organisation's; hosts and admins see (and, with
    ``approve``, decide on) any; supervisors see any."""
    from bidding.models import BidderCertificate

    role = _role(user)
    queryset = BidderCertificate.objects.select_related("organisation")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        cert = queryset.filter(pk=int(cert_id)).first()
    except (TypeError, ValueError):
        cert = None
    own = cert is not None and role is not None and cert.organisation_id == user.organisation_id
    if cert is None or not (own or role in CERTIFICATE_VIEWERS):
        raise _deny("certificate", cert_id, user, "missing" if cert is None else "not visible")
    if approve and not can_approve_certificates(user):
        raise PlatformError(ErrorCode.FORBIDDEN, "only a host or an administrator decides on certificates")
    return cert


def access_bid_lot(user, lot_id, *, for_update: bool = False):
    """The lot, for a bidder acting on its own bid: needs ``bid.submit``, an organisation, and a
    lot it can see."""
    if not has_cap(_role(user), Cap.BID_SUBMIT) or user.organisation_id is None:
        raise _deny("lot", lot_id, user, "cannot bid")
    return access_lot(user, lot_id, for_update=for_update)


def access_upload(user, upload_id, *, for_update: bool = False):
    """An upload of the caller's organisation; anyone else's answers ``not_found``."""
    from bidding.models import BidUpload

    if not has_cap(_role(user), Cap.BID_SUBMIT):
        raise _deny("upload", upload_id, user, "cannot bid")
    queryset = BidUpload.objects.select_related("lot", "lot__project", "organisation")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        upload = queryset.filter(pk=upload_id).first()
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - a malformed UUID is "not found"
        upload = None
    if upload is None or upload.organisation_id != user.organisation_id:
        raise _deny("upload", upload_id, user, "missing" if upload is None else "not yours")
    return upload


def access_submission(user, lot_id):
    """The caller's organisation's current submission on the lot; ``not_found`` if none. Never
    another organisation's."""
    from bidding.models import BidSubmission

    lot = access_bid_lot(user, lot_id)
    submission = (BidSubmission.objects.filter(lot=lot, organisation_id=user.organisation_id,
                                               status=BidSubmission.Status.CURRENT)
                  .select_related("lot", "lot__project", "organisation").first())
    if submission is None:
        raise _deny("submission", lot_id, user, "none current")
    return submission


def access_escrow_share(user, lot_id):
    """The caller's sealed escrow share of the lot, if the caller is one of its custodians."""
    from bidding.models import EscrowShare

    share = (EscrowShare.objects.select_related("escrow", "escrow__lot", "escrow__lot__project",
                                                "custodian")
             .filter(escrow__lot_id=lot_id, custodian__user_id=getattr(user, "pk", None)).first())
    if share is None or _role(user) is None:
        raise _deny("escrow share", lot_id, user, "not a custodian")
    return share


# --- Evaluation (评标) ---------------------------------------------------------------------------
# Expert names are confidential until the result (Law 37): only the platform administrator and the
# host running the lot see them during the draw; supervisors once the evaluation is done; bidders
# never reach a draw or a session at all. Every read of names is audited by the caller
# (``evaluation.expert.viewed``).

def access_draw(user, draw_id, *, manage: bool = False):
    """A lot's expert draw: administrators and the lot's host (``manage``), or supervisors (read)."""
    from evaluation.models import Draw

    role = _role(user)
    try:
        draw = Draw.objects.select_related("lot", "lot__project").filter(pk=int(draw_id)).first()
    except (TypeError, ValueError):
        draw = None
    if draw is None or role is None:
        raise _deny("draw", draw_id, user, "missing" if draw is None else "signed out")
    runs = can_manage_lot(user, draw.lot)
    if not (runs or role == "supervisor"):
        raise _deny("draw", draw_id, user, "not visible")
    if manage and not runs:
        raise PlatformError(ErrorCode.FORBIDDEN, "only the lot's host or an administrator runs the draw")
    return draw


def can_see_expert_names(user, draw) -> bool:
    """Names of drawn experts: the lot's host and administrators; supervisors after the result."""
    if can_manage_lot(user, draw.lot):
        return True
    session = getattr(draw, "session", None)  # the reverse one-to-one raises AttributeError if none
    return _role(user) == "supervisor" and session is not None and session.state.get("step") == "done"


def session_role(user, session, venue_id: int | None = None) -> str | None:
    """The user's role in an evaluation session (at ``venue_id`` when given), or None.

    ``expert`` (a member seated there), ``main_staff``/``staff`` (staff of the main/a sub venue),
    ``supervisor`` (watches every venue, read-only), ``host`` (runs the lot; not in the rooms)."""
    role = _role(user)
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
    from evaluation.models import EvaluationSession

    try:
        session = (EvaluationSession.objects.select_related("lot", "lot__project", "draw")
                   .filter(pk=int(session_id)).first())
    except (TypeError, ValueError):
        session = None
    role = None if session is None else session_role(user, session)
    if session is None or role is None:
        raise _deny("session", session_id, user, "missing" if session is None else "not involved")
    if manage and not can_manage_lot(user, session.lot):
        raise PlatformError(ErrorCode.FORBIDDEN, "only the lot's host or an administrator")
    return session, role


def access_venue_room(user, session_id, venue_id) -> tuple:
    """(session, role in the room ``venue:<session>:<venue>``), or ``not_found``."""
    from evaluation.models import EvaluationSession

    try:
        session = EvaluationSession.objects.select_related("lot", "lot__project").filter(
            pk=int(session_id), venues__venue_id=int(venue_id)).first()
    except (TypeError, ValueError):
        session = None
    role = None if session is None else session_role(user, session, int(venue_id))
    if role in (None, "host"):
        raise _deny("venue room", f"{session_id}:{venue_id}", user,
                    "missing" if session is None else "not at this venue")
    return session, role


def access_clarification(user, clarification_id, *, for_update: bool = False):
    """A clarification request addressed to the caller's organisation (bidders only)."""
    from evaluation.models import Clarification

    if not has_cap(_role(user), Cap.BID_SUBMIT) or user.organisation_id is None:
        raise _deny("clarification", clarification_id, user, "not a bidder")
    queryset = Clarification.objects.select_related("bidder", "session", "session__lot")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        clar = queryset.filter(pk=int(clarification_id)).first()
    except (TypeError, ValueError):
        clar = None
    if clar is None or clar.bidder.bidder_org_id != user.organisation_id:
        raise _deny("clarification", clarification_id, user, "missing" if clar is None else "not yours")
    return clar


# --- The opening hall --------------------------------------------------------------------------

def access_hall(user, lot_id):
    """``(lot, role in the hall)``: ``host`` for a manager of the tender, ``supervisor`` for a role
    that watches halls, ``bidder`` for an organisation with a bid on the lot (current, replaced or
    withdrawn). Anyone else — other bidders included — gets ``not_found``."""
    from django.db.models import Exists, OuterRef

    from bidding.lifecycle import Status
    from bidding.models import BidSubmission

    role = _role(user)
    bidder = has_cap(role, Cap.HALL_JOIN_AS_BIDDER) and user.organisation_id is not None
    # A bidder's bid is read with the lot, in one query: every join of a hall checks it (a
    # reconnect storm is thousands of joins at once).
    has_bid = {"has_bid": Exists(BidSubmission.objects.filter(
        lot=OuterRef("pk"), organisation_id=user.organisation_id))} if bidder else None
    lot = access_lot(user, lot_id, annotate=has_bid)
    if lot.status in (Status.DRAFT, Status.CANCELLED):
        raise _deny("hall", lot_id, user, "no opening")
    if role == "host" and can_manage_lot(user, lot):
        return lot, "host"
    if has_cap(role, Cap.HALL_WATCH):
        return lot, "supervisor"
    if bidder and lot.has_bid:
        return lot, "bidder"
    raise _deny("hall", lot_id, user, "not in this hall")
