"""The API after the evaluation (docs/award.md):

- ``GET  /lots/{id}/publicity`` the published candidates (public, no sign-in: 实施条例 54);
  ``POST`` publish them from the signed report (host);
- ``POST /lots/{id}/objections`` raise an objection (a bidder's signed-in representative);
  ``GET`` the objections (the host and supervisors: all; a bidder: its own);
  ``POST /award/objections/{id}/answer`` the host's answer;
  ``GET /award/reminders`` the open objections past their answer deadline (hosts: their tenders';
  supervisors: all);
- ``POST /lots/{id}/award`` make the award (host); ``GET`` the published result (public; the host
  and supervisors also read the deposits' refunds);
- ``POST /lots/{id}/award/contract`` and ``/award/refunds`` record the contract and each refund;
- ``GET  /lots/{id}/notices`` the notices the caller may read; ``GET /award/notices/{id}`` one notice
  (document, hash, signature, the platform's key), ``.pdf`` printed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from ninja import Router, Schema, Status

from audit.keys import platform_vkey
from audit.log import log_action
from bidding.access import access_lot, can_manage_lot
from common import clock
from common.access import deny, role_of
from common.actor import Actor
from common.canonical import format_time
from common.errors import ErrorCode, NotFound, PlatformError

from . import actions
from .models import Award, Notice, Objection, Publicity

router = Router(tags=["award"])


class PublishIn(Schema):
    days: int


class AttachmentIn(Schema):
    name: str
    content_type: str
    data: str  # base64


class ObjectionIn(Schema):
    grounds: str
    contact: str
    attachments: list[AttachmentIn] = []


class AnswerIn(Schema):
    answer: str


class AwardIn(Schema):
    winner: str = ""
    reason: str = ""


class ContractIn(Schema):
    signed_at: datetime


class RefundIn(Schema):
    organisation: int


def _t(value):
    return format_time(value) if value else None


def publicity_view(publicity: Publicity) -> dict[str, Any]:
    objections = list(publicity.objections.values_list("state", flat=True))
    return {"lot": publicity.lot_id, "report_sha256": publicity.report_sha256,
            "starts_at": format_time(publicity.starts_at), "ends_at": format_time(publicity.ends_at),
            **publicity.content,
            "objections": {"open": objections.count("open"), "answered": objections.count("answered")}}


def objection_view(o: Objection) -> dict[str, Any]:
    return {"id": o.pk, "lot": o.publicity.lot_id, "organisation": o.organisation_id, "grounds": o.grounds,
            "contact": o.contact, "raised_at": format_time(o.raised_at), "answer_due": format_time(o.answer_due),
            "state": o.state, "answer": o.answer or None, "answered_at": _t(o.answered_at),
            "overdue_at": _t(o.overdue_at),
            "attachments": [{"name": a.name, "content_type": a.content_type, "size": a.size, "sha256": a.sha256}
                            for a in o.attachments.order_by("id")]}


def result_view(award: Award) -> dict[str, Any]:
    winner = next(n for n in award.notices.all() if n.kind == Notice.Kind.AWARD)
    return {"lot": award.lot_id, "winner": {"code": award.winner_code, "name": winner.document["winner"]["name"],
                                            "credit_code": winner.document["winner"]["credit_code"]},
            "price_fen": award.price_fen, "decided_at": format_time(award.decided_at),
            "report_sha256": award.publicity.report_sha256}


def _public_publicity(lot_id) -> Publicity:
    publicity = Publicity.objects.filter(lot_id=lot_id).select_related("lot").first()
    if publicity is None:
        raise NotFound("no publicity")
    return publicity


@router.get("/lots/{lot_id}/publicity", response=dict, auth=None,
            summary="The published candidates (中标候选人公示), public")
def get_publicity(request, lot_id: int):
    return publicity_view(_public_publicity(lot_id))


@router.post("/lots/{lot_id}/publicity", response={201: dict},
             summary="Publish the candidates from the signed report (host)")
def post_publicity(request, lot_id: int, body: PublishIn):
    publicity = actions.publish_candidates(request.user, Actor.from_request(request), lot_id, days=body.days,
                                           now=clock.now())
    return Status(201, publicity_view(publicity))


@router.post("/lots/{lot_id}/objections", response={201: dict},
             summary="Object to the candidates during the publicity (bidders)")
def post_objection(request, lot_id: int, body: ObjectionIn):
    objection = actions.raise_objection(request.user, Actor.from_request(request), lot_id, grounds=body.grounds,
                                        contact=body.contact, attachments=[a.model_dump() for a in body.attachments],
                                        now=clock.now())
    return Status(201, objection_view(objection))


@router.get("/lots/{lot_id}/objections", response=list[dict],
            summary="The objections: all to the host and supervisors, its own to a bidder")
def list_objections(request, lot_id: int):
    lot = access_lot(request.user, lot_id)
    rows = Objection.objects.filter(publicity__lot=lot).select_related("publicity").order_by("id")
    if not (can_manage_lot(request.user, lot) or role_of(request.user) == "supervisor"):
        rows = rows.filter(raised_by=request.user)
    return [objection_view(o) for o in rows]


@router.get("/award/reminders", response=list[dict],
            summary="Objections not answered in time (hosts: their tenders; supervisors: all)")
def reminders(request):
    user = request.user
    role = role_of(user)
    if role not in ("host", "supervisor", "admin"):
        raise PlatformError(ErrorCode.FORBIDDEN, "the reminders are for hosts and supervisors")
    rows = (Objection.objects.filter(state=Objection.State.OPEN, overdue_at__isnull=False)
            .select_related("publicity__lot__project").order_by("answer_due", "pk"))
    return [objection_view(o) for o in rows if role != "host" or can_manage_lot(user, o.publicity.lot)]


@router.post("/award/objections/{objection_id}/answer", response=dict, summary="Answer an objection (host)")
def answer(request, objection_id: int, body: AnswerIn):
    objection = actions.answer_objection(request.user, Actor.from_request(request), objection_id,
                                         answer=body.answer, now=clock.now())
    return objection_view(objection)


@router.post("/lots/{lot_id}/award", response={201: dict}, summary="Make the award (host)")
def post_award(request, lot_id: int, body: AwardIn):
    award = actions.make_award(request.user, Actor.from_request(request), lot_id, winner=body.winner,
                               reason=body.reason, now=clock.now())
    return Status(201, result_view(award))


@router.get("/lots/{lot_id}/award", response=dict, auth=None, summary="The published result (public)")
def get_award(request, lot_id: int):
    award = Award.objects.filter(lot_id=lot_id).select_related("publicity").first()
    if award is None:
        raise NotFound("no award")
    out = result_view(award)
    user = request.user
    if getattr(user, "is_authenticated", False) and (can_manage_lot(user, award.lot) or
                                                     role_of(user) == "supervisor"):
        out["refunds"] = actions.refunds_view(award, clock.now())
    return out


@router.post("/lots/{lot_id}/award/contract", response=dict, summary="Record the contract's signing (host)")
def post_contract(request, lot_id: int, body: ContractIn):
    now = clock.now()
    award = actions.record_contract(request.user, Actor.from_request(request), lot_id, signed_at=body.signed_at,
                                    now=now)
    return actions.refunds_view(award, now)


@router.post("/lots/{lot_id}/award/refunds", response={201: dict}, summary="Record a deposit's refund (host)")
def post_refund(request, lot_id: int, body: RefundIn):
    now = clock.now()
    refund = actions.record_refund(request.user, Actor.from_request(request), lot_id,
                                   organisation_id=body.organisation, now=now)
    return Status(201, actions.refunds_view(refund.award, now))


def access_notice(user, notice_id) -> Notice:
    """A notice, to its addressee's representatives, the tender's host and supervisors."""
    try:
        notice = Notice.objects.select_related("award").get(pk=int(notice_id))
    except (Notice.DoesNotExist, TypeError, ValueError):
        raise deny("notice", notice_id, user, "missing") from None
    lot = access_lot(user, notice.award.lot_id)
    if not (notice.organisation_id == user.organisation_id or can_manage_lot(user, lot)
            or role_of(user) == "supervisor"):
        raise deny("notice", notice_id, user, "not yours")
    return notice


def notice_view(n: Notice) -> dict[str, Any]:
    return {"id": n.pk, "kind": n.kind, "organisation": n.organisation_id, "document": n.document,
            "sha256": n.sha256, "signature": n.signature, "vkey": platform_vkey()}


@router.get("/lots/{lot_id}/notices", response=list[dict], summary="The notices the caller may read")
def list_notices(request, lot_id: int):
    lot = access_lot(request.user, lot_id)
    rows = Notice.objects.filter(award__lot=lot).order_by("id")
    if not (can_manage_lot(request.user, lot) or role_of(request.user) == "supervisor"):
        rows = rows.filter(organisation_id=request.user.organisation_id or -1)
    return [notice_view(n) for n in rows]


@router.get("/award/notices/{notice_id}", response=dict, summary="A signed notice")
def get_notice(request, notice_id: int):
    return notice_view(access_notice(request.user, notice_id))


@router.get("/award/notices/{notice_id}/notice.pdf", summary="A signed notice, printed (PDF)")
def notice_pdf(request, notice_id: int):
    from .notices import render_notice_pdf

    notice = access_notice(request.user, notice_id)
    with transaction.atomic():
        log_action("award.notice.downloaded", actor=Actor.from_request(request), obj=notice,
                   tender_id=notice.award.lot_id, data={"sha256": notice.sha256, "kind": notice.kind})
    response = HttpResponse(render_notice_pdf(notice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="notice-{notice.pk}.pdf"'
    return response


