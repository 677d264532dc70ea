"""Ending a user's sessions (an administrator's action, or on deactivation)."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.db import transaction

from audit.log import log_action
from common.actor import Actor
from realtime.notify import disconnect_user

from .models import UserSession


def end_sessions(user, *, actor: Actor, reason: str = "") -> int:
    """Delete every tracked session of ``user``; returns how many ended. Audited."""
    with transaction.atomic():
        keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
        Session.objects.filter(session_key__in=keys).delete()
        UserSession.objects.filter(user=user).delete()
        log_action("accounts.session.ended_by_admin", actor=actor, obj=user,
                   data={"count": len(keys), "reason": reason})
        # Live sockets on every worker close too (after commit): a session ended is ended.
        disconnect_user(user.pk)
    return len(keys)
