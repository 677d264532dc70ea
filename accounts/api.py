from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema

from audit.log import format_time
from common import clock

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
