"""Roles and what each may do, as data. Pure: no ORM.

Shared vocabulary: a user has one role (``accounts.models.User.role``), room roles and audit entries
carry it, and every app checks capabilities against this table. Object-level decisions (is *this*
tender yours?) are made in the apps' ``access`` modules (``bidding.access``, ``evaluation.access``);
this table says which capabilities a role has at all. A role without a capability never gets past
``access_*``.
"""

from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class Role(StrEnum):
    ADMIN = "admin"
    HOST = "host"
    BIDDER = "bidder"
    EXPERT = "expert"
    VENUE_STAFF = "venue_staff"
    SUPERVISOR = "supervisor"


ROLE_LABELS = {
    Role.ADMIN: _("Platform administrator"),
    Role.HOST: _("Host (tenderer or agency)"),
    Role.BIDDER: _("Bidder representative"),
    Role.EXPERT: _("Expert"),
    Role.VENUE_STAFF: _("Venue staff"),
    Role.SUPERVISOR: _("Supervisor"),
}


class Cap(StrEnum):
    """Capabilities. Named for what they allow, checked by ``access_*`` together with ownership."""

    TENDER_VIEW_PUBLISHED = "tender.view_published"
    TENDER_VIEW_ANY = "tender.view_any"  # drafts too, of any organisation
    TENDER_VIEW_OWN_DRAFTS = "tender.view_own_drafts"
    TENDER_MANAGE_OWN = "tender.manage_own"  # edit, publish and amend tenders of one's organisation
    TENDER_MANAGE_ANY = "tender.manage_any"
    BID_SUBMIT = "bid.submit"
    HALL_HOST = "hall.host"
    HALL_JOIN_AS_BIDDER = "hall.join_as_bidder"
    HALL_WATCH = "hall.watch"
    EVALUATION_SIT = "evaluation.sit"
    VENUE_OPERATE = "venue.operate"
    EVALUATION_WATCH = "evaluation.watch"
    AUDIT_READ = "audit.read"
    AUDIT_ANNOTATE = "audit.annotate"
    AUDIT_CHECKPOINT = "audit.checkpoint"  # issue a checkpoint on request (the platform's operator)
    ORGANISATION_MANAGE = "organisation.manage"
    SESSION_END_ANY = "session.end_any"
    EXCHANGE_MANAGE = "exchange.manage"  # the outbox's dead letters, the inbound sources' tokens


CAPABILITIES: dict[Role, frozenset[Cap]] = {
    Role.ADMIN: frozenset({
        Cap.TENDER_VIEW_PUBLISHED, Cap.TENDER_VIEW_ANY, Cap.TENDER_MANAGE_ANY,
        Cap.ORGANISATION_MANAGE, Cap.SESSION_END_ANY, Cap.AUDIT_READ, Cap.AUDIT_CHECKPOINT,
        Cap.EXCHANGE_MANAGE,
    }),
    Role.HOST: frozenset({
        Cap.TENDER_VIEW_PUBLISHED, Cap.TENDER_VIEW_OWN_DRAFTS, Cap.TENDER_MANAGE_OWN, Cap.HALL_HOST,
    }),
    Role.BIDDER: frozenset({Cap.TENDER_VIEW_PUBLISHED, Cap.BID_SUBMIT, Cap.HALL_JOIN_AS_BIDDER}),
    Role.EXPERT: frozenset({Cap.EVALUATION_SIT}),
    Role.VENUE_STAFF: frozenset({Cap.VENUE_OPERATE}),
    # Supervisors watch everything and change nothing (beyond their own annotations).
    Role.SUPERVISOR: frozenset({
        Cap.TENDER_VIEW_PUBLISHED, Cap.TENDER_VIEW_ANY, Cap.HALL_WATCH, Cap.EVALUATION_WATCH,
        Cap.AUDIT_READ, Cap.AUDIT_ANNOTATE,
    }),
}


def has_cap(role: str | None, cap: Cap) -> bool:
    try:
        return cap in CAPABILITIES[Role(role)]
    except ValueError:
        return False
