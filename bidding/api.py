"""Tender operations of the API: list and read lots, create projects and lots, edit, publish,
amend and cancel. Thin: parse, call ``bidding.actions``, serialise."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Router, Schema, Status

from bidding.access import access_lot, visible_lots
from common import clock
from common.actor import Actor

from . import actions

router = Router(tags=["tenders"])


class AnnouncedField(Schema):
    key: str
    type: str
    label: str
    required: bool = True
    unit: str | None = None
    choices: list[str] | None = None


class LotOut(Schema):
    id: int
    project_id: int
    project_code: str = Field(..., alias="project.code")
    project_title: str = Field(..., alias="project.title")
    tenderee: str = Field(..., alias="project.tenderee.name")
    code: str
    title: str
    description: str
    status: str
    bid_deadline: datetime
    signin_opens_at: datetime
    decryption_window_minutes: int
    confirmation_window_minutes: int
    min_bids: int
    announced_fields: list[dict[str, Any]]
    evaluation_settings: dict[str, Any]
    escrow_required: bool
    cipher_suite: str
    max_bid_bytes: int
    published_at: datetime | None


class ProjectIn(Schema):
    code: str = Field(..., min_length=1, max_length=50)
    title: str = Field(..., min_length=1, max_length=200)
    tenderee_id: int
    agency_id: int | None = None
    description: str = ""


class ProjectOut(Schema):
    id: int
    code: str
    title: str
    tenderee_id: int
    agency_id: int | None


class LotIn(Schema):
    code: str = Field(..., min_length=1, max_length=50)
    title: str = Field(..., min_length=1, max_length=200)
    description: str = ""
    bid_deadline: datetime
    signin_opens_at: datetime | None = None
    decryption_window_minutes: int = 30
    confirmation_window_minutes: int = 30
    min_bids: int = 3
    announced_fields: list[dict[str, Any]] | None = None
    evaluation_settings: dict[str, Any] | None = None
    escrow_required: bool = False
    cipher_suite: Literal["intl", "gm"] = "intl"
    max_bid_bytes: int = 2 * 2**30


class LotEdit(Schema):
    title: str | None = None
    description: str | None = None
    code: str | None = None
    bid_deadline: datetime | None = None
    signin_opens_at: datetime | None = None
    decryption_window_minutes: int | None = None
    confirmation_window_minutes: int | None = None
    min_bids: int | None = None
    announced_fields: list[dict[str, Any]] | None = None
    evaluation_settings: dict[str, Any] | None = None
    escrow_required: bool | None = None
    cipher_suite: Literal["intl", "gm"] | None = None
    max_bid_bytes: int | None = None


class AmendmentIn(LotEdit):
    reason: str = Field(..., min_length=1, max_length=2000)


class AmendmentOut(Schema):
    number: int
    reason: str
    changes: dict[str, Any]
    created_at: datetime


class ReasonIn(Schema):
    reason: str = Field(..., min_length=1, max_length=2000)


def _given(schema: Schema) -> dict[str, Any]:
    return {k: v for k, v in schema.model_dump(exclude_unset=True).items() if v is not None}


@router.get("/lots", response=list[LotOut], summary="Lots the caller may see")
def list_lots(request, status: str | None = None):
    lots = visible_lots(request.user)
    if status:
        lots = lots.filter(status=status)
    return list(lots)


@router.get("/lots/{lot_id}", response=LotOut)
def get_lot(request, lot_id: int):
    return access_lot(request.user, lot_id)


@router.post("/projects", response={201: ProjectOut})
def create_project(request, body: ProjectIn):
    project = actions.create_project(request.user, Actor.from_request(request), **body.model_dump())
    return Status(201, project)


@router.post("/projects/{project_id}/lots", response={201: LotOut})
def create_lot(request, project_id: int, body: LotIn):
    values = {k: v for k, v in body.model_dump().items() if v is not None}
    lot = actions.create_lot(request.user, Actor.from_request(request), project_id, now=clock.now(),
                             **values)
    return Status(201, lot)


@router.patch("/lots/{lot_id}", response=LotOut, summary="Edit a draft, or a published lot's text")
def edit_lot(request, lot_id: int, body: LotEdit):
    return actions.edit_lot(request.user, Actor.from_request(request), lot_id, now=clock.now(),
                            **_given(body))


@router.post("/lots/{lot_id}/publish", response=LotOut)
def publish_lot(request, lot_id: int):
    return actions.publish_lot(request.user, Actor.from_request(request), lot_id, now=clock.now())


@router.post("/lots/{lot_id}/amendments", response={201: AmendmentOut},
             summary="Amend a published lot before its deadline (audited)")
def amend_lot(request, lot_id: int, body: AmendmentIn):
    values = _given(body)
    reason = values.pop("reason")
    amendment = actions.amend_lot(request.user, Actor.from_request(request), lot_id, reason=reason,
                                  now=clock.now(), **values)
    return Status(201, amendment)


@router.post("/lots/{lot_id}/cancel", response=LotOut)
def cancel_lot(request, lot_id: int, body: ReasonIn):
    return actions.cancel_lot(request.user, Actor.from_request(request), lot_id, reason=body.reason,
                              now=clock.now())
