"""Audit access denials (电子招标投标办法 49: every operation recorded, refused ones too).

The refusal is raised inside the action's transaction, which rolls back; the edges (the API's error
handler, the pages' middleware) call ``record_denial`` afterwards, in a transaction of its own.
"""

from __future__ import annotations

import logging

from django.db import transaction

from common.actor import Actor
from common.errors import ErrorCode, NotFound, PlatformError

from .log import log_action

log = logging.getLogger(__name__)


def record_denial(request, error: PlatformError) -> None:
    """Record a ``forbidden``, or a ``not_found`` that hid an existing object ("not yours")."""
    hidden = isinstance(error, NotFound) and error.why == "not visible"
    if not (hidden or error.code == ErrorCode.FORBIDDEN):
        return
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return
    try:
        with transaction.atomic():
            log_action("accounts.access.denied", actor=Actor.from_request(request),
                       object_type="http", object_id=request.path[:64],
                       data={"method": request.method, "path": request.path[:300],
                             "code": error.code.value, "message": error.message[:200]})
    except Exception:  # noqa: BLE001 - never turn a refusal into a server error
        log.exception("could not audit an access denial on %s", request.path)
