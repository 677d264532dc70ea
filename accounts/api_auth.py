"""API authentication: the browser's session (with CSRF on unsafe methods) or an integration's
bearer token ``kbt_<key id>_<secret>``, compared in constant time against its stored SHA-256."""

from __future__ import annotations

import hmac

from ninja.security import HttpBearer
from ninja.security.session import SessionAuth

from common import clock

from .models import TOKEN_PREFIX, ApiToken


class TokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return None
        _, key_id, secret = parts
        record = ApiToken.objects.select_related("user", "user__organisation").filter(key_id=key_id).first()
        if record is None:
            return None
        if not hmac.compare_digest(record.secret_hash, ApiToken.hash_secret(secret)):
            return None
        now = clock.now()
        if not record.is_usable(now):
            return None
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
        request.user = record.user  # downstream code reads request.user, as for sessions
        request.api_token = record
        return record.user


class ActiveSessionAuth(SessionAuth):
    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


session_auth = ActiveSessionAuth()
token_auth = TokenAuth()
