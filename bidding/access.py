"""Who may see and change tenders, certificates, uploads, submissions, escrow shares and the hall.

``access_<thing>(user, id, ...)`` fetches and authorises in one step and raises ``NotFound`` both when
the object does not exist and when the user may not see it ("not found" and "not yours" answer the
same; the reason goes to the log). Role capabilities come from ``common.roles``.
"""

from __future__ import annotations

from django.db.models import QuerySet

from common.access import deny, role_of
from common.errors import ErrorCode, PlatformError
from common.roles import Cap, has_cap


def visible_lots(user) -> QuerySet:
    """Every lot ``user`` may see, as a queryset (for lists and for ``access_lot``)."""
    from .models import Lot

    role = role_of(user)
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
    role = role_of(user)
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
    from .models import Lot

    try:
        lot_id = int(lot_id)
    except (TypeError, ValueError):
        raise deny("lot", lot_id, user, "malformed id") from None
    queryset = visible_lots(user)
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    if annotate:
        queryset = queryset.annotate(**annotate)
    lot = queryset.filter(pk=lot_id).first()
    if lot is None:
        exists = Lot.objects.filter(pk=lot_id).exists()
        raise deny("lot", lot_id, user, "not visible" if exists else "missing")
    if manage and not can_manage_lot(user, lot):
        # The user can see the lot, so saying so leaks nothing; say what is missing.
        raise PlatformError(ErrorCode.FORBIDDEN, "you cannot manage this tender")
    return lot


def access_project(user, project_id, *, manage: bool = False):
    from .models import Project

    role = role_of(user)
    try:
        project = Project.objects.select_related("tenderee", "agency").get(pk=int(project_id))
    except (Project.DoesNotExist, TypeError, ValueError):
        raise deny("project", project_id, user, "missing") from None
    own = role is not None and project.is_run_by(user.organisation_id)
    if has_cap(role, Cap.TENDER_VIEW_ANY) or (own and has_cap(role, Cap.TENDER_VIEW_OWN_DRAFTS)):
        pass
    elif has_cap(role, Cap.TENDER_VIEW_PUBLISHED) and project.lots.published().exists():
        pass
    else:
        raise deny("project", project_id, user, "not visible")
    if manage and not (has_cap(role, Cap.TENDER_MANAGE_ANY) or
                       (own and has_cap(role, Cap.TENDER_MANAGE_OWN))):
        raise PlatformError(ErrorCode.FORBIDDEN, "you cannot manage this project")
    return project


# --- Sealed bids -------------------------------------------------------------------------------
# Before the deadline a bidder sees only its own organisation's certificates, uploads and
# submissions (招标投标法 22: no endpoint reveals other bidders' names or their number).

CERTIFICATE_APPROVERS = frozenset({"admin", "host"})
CERTIFICATE_VIEWERS = CERTIFICATE_APPROVERS | {"supervisor"}


def can_approve_certificates(user) -> bool:
    return role_of(user) in CERTIFICATE_APPROVERS


def can_read_all_certificates(user) -> bool:
    """Hosts and admins (to decide on them) and supervisors (who watch everything: one certificate
    used by two bidders is a collusion signal) read every certificate; everyone else only their
    organisation's. The list and the single certificate answer by this same rule."""
    return role_of(user) in CERTIFICATE_VIEWERS


def access_certificate(user, cert_id, *, approve: bool = False, for_update: bool = False):
    """A bidder certificate: bidders see their organisation's; hosts and admins see (and, with
    ``approve``, decide on) any; supervisors see any."""
    from .models import BidderCertificate

    role = role_of(user)
    queryset = BidderCertificate.objects.select_related("organisation")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        cert = queryset.filter(pk=int(cert_id)).first()
    except (TypeError, ValueError):
        cert = None
    own = cert is not None and role is not None and cert.organisation_id == user.organisation_id
    if cert is None or not (own or can_read_all_certificates(user)):
        raise deny("certificate", cert_id, user, "missing" if cert is None else "not visible")
    if approve and not can_approve_certificates(user):
        raise PlatformError(ErrorCode.FORBIDDEN, "only a host or an administrator decides on certificates")
    return cert


def access_bid_lot(user, lot_id, *, for_update: bool = False):
    """The lot, for a bidder acting on its own bid: needs ``bid.submit``, an organisation, and a
    lot it can see."""
    if not has_cap(role_of(user), Cap.BID_SUBMIT) or user.organisation_id is None:
        raise deny("lot", lot_id, user, "cannot bid")
    return access_lot(user, lot_id, for_update=for_update)


def access_upload(user, upload_id, *, for_update: bool = False):
    """An upload of the caller's organisation; anyone else's answers ``not_found``."""
    from .models import BidUpload

    if not has_cap(role_of(user), Cap.BID_SUBMIT):
        raise deny("upload", upload_id, user, "cannot bid")
    queryset = BidUpload.objects.select_related("lot", "lot__project", "organisation")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        upload = queryset.filter(pk=upload_id).first()
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - a malformed UUID is "not found"
        upload = None
    if upload is None or upload.organisation_id != user.organisation_id:
        raise deny("upload", upload_id, user, "missing" if upload is None else "not yours")
    return upload


def access_submission(user, lot_id):
    """The caller's organisation's current submission on the lot; ``not_found`` if none. Never
    another organisation's."""
    from .models import BidSubmission

    lot = access_bid_lot(user, lot_id)
    submission = (BidSubmission.objects.filter(lot=lot, organisation_id=user.organisation_id,
                                               status=BidSubmission.Status.CURRENT)
                  .select_related("lot", "lot__project", "organisation").first())
    if submission is None:
        raise deny("submission", lot_id, user, "none current")
    return submission


def access_escrow_share(user, lot_id):
    """The caller's sealed escrow share of the lot, if the caller is one of its custodians."""
    from .models import EscrowShare

    share = (EscrowShare.objects.select_related("escrow", "escrow__lot", "escrow__lot__project",
                                                "custodian")
             .filter(escrow__lot_id=lot_id, custodian__user_id=getattr(user, "pk", None)).first())
    if share is None or role_of(user) is None:
        raise deny("escrow share", lot_id, user, "not a custodian")
    return share


# --- The opening hall --------------------------------------------------------------------------

def access_hall(user, lot_id):
    """``(lot, role in the hall)``: ``host`` for a manager of the tender, ``supervisor`` for a role
    that watches halls, ``bidder`` for an organisation with a bid on the lot (current, replaced or
    withdrawn). Anyone else — other bidders included — gets ``not_found``."""
    from django.db.models import Exists, OuterRef

    from .lifecycle import Status
    from .models import BidSubmission

    role = role_of(user)
    bidder = has_cap(role, Cap.HALL_JOIN_AS_BIDDER) and user.organisation_id is not None
    # A bidder's bid is read with the lot, in one query: every join of a hall checks it (a
    # reconnect storm is thousands of joins at once).
    has_bid = {"has_bid": Exists(BidSubmission.objects.filter(
        lot=OuterRef("pk"), organisation_id=user.organisation_id))} if bidder else None
    lot = access_lot(user, lot_id, annotate=has_bid)
    if lot.status in (Status.DRAFT, Status.CANCELLED):
        raise deny("hall", lot_id, user, "no opening")
    if role == "host" and can_manage_lot(user, lot):
        return lot, "host"
    if has_cap(role, Cap.HALL_WATCH):
        return lot, "supervisor"
    if bidder and lot.has_bid:
        return lot, "bidder"
    raise deny("hall", lot_id, user, "not in this hall")
