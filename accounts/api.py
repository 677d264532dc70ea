from __future__ import annotations

from datetime import datetime

from django.db import transaction
from ninja import Field, Router, Schema, Status

from accounts.api_auth import session_auth
from audit.log import log_action
from common.actor import Actor
from common.errors import NotFound

from .models import ApiToken

from common import clock
from common.canonical import format_time

router = Router(tags=["accounts"])


class OrganisationOut(Schema):
    id: int
    name: str
    kind: str
    credit_code: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    organisation: OrganisationOut | None


class TimeOut(Schema):
    server_time: datetime
    server_time_text: str


@router.get("/me", response=MeOut, summary="The signed-in user")
def me(request):
    user = request.user
    return {"id": user.pk, "username": user.username, "display_name": user.display_name or user.username,
            "role": user.role, "organisation": user.organisation}


@router.get("/time", response=TimeOut, auth=None, summary="The server's clock (deadlines use it)")
def server_time(request):
    now = clock.now()
    return {"server_time": now, "server_time_text": format_time(now)}


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    expires_at: datetime | None = None


class TokenOut(Schema):
    id: int
    name: str
    key_id: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewTokenOut(TokenOut):
    token: str


# Tokens are managed from a signed-in browser session only: a token cannot mint more tokens.
@router.get("/tokens", response=list[TokenOut], auth=session_auth, summary="My API tokens")
def list_tokens(request):
    return list(ApiToken.objects.filter(user=request.user).order_by("-created_at"))


@router.post("/tokens", response={201: NewTokenOut}, auth=session_auth,
             summary="Create an API token (the secret is shown once)")
def create_token(request, body: TokenIn):
    with transaction.atomic():
        token, secret = ApiToken.issue(request.user, body.name, expires_at=body.expires_at)
        log_action("accounts.token.created", actor=Actor.from_request(request), obj=token,
                   data={"name": token.name, "key_id": token.key_id})
    out = TokenOut.from_orm(token).model_dump()
    return Status(201, {**out, "token": secret})


@router.delete("/tokens/{token_id}", response={204: None}, auth=session_auth)
def revoke_token(request, token_id: int):
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=request.user).first()
        if token is None:
            raise NotFound("token not found")
        if token.revoked_at is None:
            token.revoked_at = clock.now()
            token.save(update_fields=["revoked_at"])
            log_action("accounts.token.revoked", actor=Actor.from_request(request), obj=token,
                       data={"key_id": token.key_id})
    return Status(204, None)


class SocketTokenOut(Schema):
    token: str
    expires_at: datetime
    expires_in: int
    subprotocols: list[str]


@router.post("/realtime/token", response={201: SocketTokenOut},
             summary="A one-time ticket that opens one WebSocket for the caller within 60 s")
def create_socket_token(request):
    """For programs without a browser session (docs/protocol.md §1): authenticate with the API
    token (or a session), then open ``/ws/v1/`` offering the returned subprotocols."""
    from django.conf import settings as dj_settings

    from realtime.connection import SUBPROTOCOL, TOKEN_SUBPROTOCOL

    from . import socket_tokens

    now = clock.now()
    token, ticket = socket_tokens.issue(request.user, Actor.from_request(request), now=now)
    return Status(201, {"token": ticket, "expires_at": token.expires_at,
                        "expires_in": dj_settings.SOCKET_TOKEN_SECONDS,
                        "subprotocols": [SUBPROTOCOL, TOKEN_SUBPROTOCOL + ticket]})
