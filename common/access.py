"""The pieces every object-level permission check is made of (``bidding.access``,
``evaluation.access``): the signed-in user's role, the one "not found" for both "missing" and "not
yours" (the reason goes to the log), and the capability check. Capabilities are ``common.roles``.
"""

from __future__ import annotations

import logging

from common.errors import ErrorCode, NotFound, PlatformError

from .roles import Cap, has_cap

log = logging.getLogger(__name__)


def deny(kind: str, obj_id, user, why: str) -> NotFound:
    """The ``NotFound`` to raise for ``kind`` ``obj_id``; ``why`` goes to the log only."""
    log.info("access denied: %s %s to user %s: %s", kind, obj_id, getattr(user, "pk", None), why)
    return NotFound(f"{kind} not found", why=why)


def role_of(user) -> str | None:
    """The role of an active signed-in user, else None."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return user.role


def require_cap(user, cap: Cap) -> None:
    if not has_cap(role_of(user), cap):
        raise PlatformError(ErrorCode.FORBIDDEN, "your role cannot do this")
