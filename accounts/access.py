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


def access_lot(user, lot_id, *, manage: bool = False, for_update: bool = False):
    """The lot, if ``user`` may see it (and, with ``manage``, change it).

    With ``for_update`` the row is locked: call inside ``transaction.atomic()``.
    """
    from bidding.models import Lot

    try:
        lot_id = int(lot_id)
    except (TypeError, ValueError):
        raise _deny("lot", lot_id, user, "malformed id") from None
    queryset = visible_lots(user)
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
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
