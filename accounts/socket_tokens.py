"""One-time tickets that sign a non-browser client's WebSocket in (docs/protocol.md §1).

An integrator's program has no browser session: it authenticates over HTTP (its API token,
``Authorization: Bearer kbt_…``, or a session) to ``POST /api/v1/realtime/token`` and gets
``kbs_<secret>``, which opens **one** socket as that user within ``SOCKET_TOKEN_SECONDS`` (60 s).
Issuing and using it are audited (``accounts.socket_token.issued`` / ``.used``); only the secret's
SHA-256 is stored, and the row is consumed under a lock, so two handshakes with one ticket get one
socket. Realtime calls ``consume`` through ``realtime.connection.register_socket_token_auth``:
realtime knows no accounts.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from audit.log import log_action
from common.actor import Actor
from common.canonical import format_time

from .models import SOCKET_TOKEN_PREFIX, SocketToken


def issue(user, actor: Actor, *, now: datetime) -> tuple[SocketToken, str]:
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = SocketToken.objects.create(user=user, digest=SocketToken.hash_secret(secret), created_at=now,
                                           expires_at=now + timedelta(seconds=settings.SOCKET_TOKEN_SECONDS))
        log_action("accounts.socket_token.issued", actor=actor, obj=token,
                   data={"user": user.pk, "expires_at": format_time(token.expires_at)}, now=now)
    return token, f"{SOCKET_TOKEN_PREFIX}_{secret}"


def consume(text: str, ip: str, now: datetime):
    """The user a ticket signs in, using it up; None for an unknown, used or expired ticket, or a
    user who can no longer sign in. Sync, ORM."""
    prefix, _, secret = (text or "").partition("_")
    if prefix != SOCKET_TOKEN_PREFIX or not secret or len(secret) > 100:
        return None
    with transaction.atomic():
        token = (SocketToken.objects.select_for_update().select_related("user")
                 .filter(digest=SocketToken.hash_secret(secret)).first())
        if token is None or token.used_at is not None or token.expires_at <= now or not token.user.is_active:
            return None
        token.used_at, token.used_ip = now, ip[:45]
        token.save(update_fields=["used_at", "used_ip"])
        log_action("accounts.socket_token.used", actor=Actor.of(token.user, ip), obj=token,
                   data={"used_at": {"old": None, "new": format_time(now)}, "ip": ip}, now=now)
        return token.user


def consume_now(text: str, ip: str):
    from common import clock

    return consume(text, ip, clock.now())
