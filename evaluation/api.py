"""Evaluation operations of the API (``/api/v1/evaluation/...``). Thin: authorise with
``evaluation.access``, call an action, serialise. What experts, the chair and venue staff do live goes
through the venue rooms' commands (``evaluation.room``), not through here."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.http import HttpResponse
from ninja import Router, Schema, Status

from audit.log import log_action
from bidding.access import access_lot
from common import clock
from common.access import require_cap
from common.actor import Actor
from common.errors import BadRequest, ErrorCode, NotFound, PlatformError
from common.roles import Cap
from evaluation.access import access_draw, access_session, can_see_expert_names

from . import (actions, actions_clarify, actions_draw, actions_redraw, actions_replace, actions_report, actions_setup,
               draw_check, draw_public, workflow)
from . import state as st
from .models import Expert, Redraw, Venue
from .rules import draw as rules_draw

router = Router(tags=["evaluation"])


def _call(request, payload: dict | None = None, role: str = "") -> workflow.Call:
    return workflow.Call(user=request.user, role=role, actor=Actor.from_request(request), now=clock.now(),
                        payload=payload or {})


class DrawIn(Schema):
    lot_id: int
    quotas: dict[str, int]
    required_specialties: dict[str, int] = {}
    min_size: int = 5
    reveal_minutes: int = 30


class DeclineIn(Schema):
    expert_id: str


class CommitIn(Schema):
    commitment: str  # 64 hex digits (docs/draw.md)


class RevealIn(Schema):
    value: str  # the 32-byte value as 64 hex digits


class RedrawIn(Schema):
    reason: str
    note: str


class DecideIn(Schema):
    approve: bool
    note: str


class SessionIn(Schema):
    draw_id: int
    main_venue_id: int
    sub_venue_ids: list[int]
    items: list[dict[str, Any]] | None = None  # default: lot.evaluation_settings["items"]
    criteria: list[str] | None = None
    blind: bool = False
    tenderer_reps: list[str] = []
    k_percent: str = ""


class KeyIn(Schema):
    public_key: str  # raw Ed25519 public key (32 bytes) or SM2 point (65 bytes), base64
    algorithm: Literal["ed25519", "sm2-sm3"] = "ed25519"  # sm2-sm3: the key for gm tenders' reports


class SignIn(Schema):
    signature: str | None = None  # base64 Ed25519 over report.signing_message(sha256)
    reason: str | None = None  # a dissent's written reasons instead


class AnswerIn(Schema):
    answer: str
    confirm: bool | None = None  # required when the question puts a correction to the bidder (R12 Art. 19)


class ClarificationOut(Schema):
    id: int
    lot_id: int
    lot: str
    question: str
    asked_at: datetime
    deadline: datetime
    answer: str | None
    answered_at: datetime | None
    purpose: str = "question"
    proposal: dict | None = None
    confirmed: bool | None = None


@router.post("/evaluation/draws", response={201: dict}, summary="Open a draw (host/admin)")
def create_draw(request, body: DrawIn):
    lot = access_lot(request.user, body.lot_id, manage=True)
    call = _call(request)
    row = actions_draw.do_open_draw(lot, quotas=body.quotas, required=body.required_specialties,
                                    min_size=body.min_size, reveal_minutes=body.reveal_minutes, call=call)
    return Status(201, actions_draw.draw_view(row, names=False, call=call))


@router.get("/evaluation/draws/{draw_id}", response=dict)
def get_draw(request, draw_id: int):
    row = access_draw(request.user, draw_id)
    return actions_draw.draw_view(row, names=can_see_expert_names(request.user, row), call=_call(request))


@router.post("/evaluation/draws/{draw_id}/commit", response={201: dict}, summary="Commit a contribution")
def commit(request, draw_id: int, body: CommitIn):
    access_draw(request.user, draw_id)
    c = actions_draw.do_commit(draw_id, body.commitment, _call(request))
    return Status(201, {"draw_id": draw_id, "party": c.party, "commitment": c.commitment,
                        "committed_at": c.committed_at})


@router.post("/evaluation/draws/{draw_id}/snapshot", response=dict, summary="Fix and publish the pool snapshot")
def publish_snapshot(request, draw_id: int):
    access_draw(request.user, draw_id, manage=True)
    call = _call(request)
    return actions_draw.draw_view(actions_draw.do_publish_snapshot(draw_id, call), names=False, call=call)


@router.get("/evaluation/draws/{draw_id}/snapshot", summary="The pool snapshot itself (canonical JSON)")
def get_snapshot(request, draw_id: int):
    row = access_draw(request.user, draw_id)
    if not row.snapshot:
        raise PlatformError(ErrorCode.INVALID_STATE, "the snapshot is published once every party has committed")
    return HttpResponse(row.snapshot.encode("utf-8"), content_type="application/json; charset=utf-8")


@router.post("/evaluation/draws/{draw_id}/reveal", response=dict, summary="Reveal a contribution")
def reveal(request, draw_id: int, body: RevealIn):
    access_draw(request.user, draw_id)
    call = _call(request)
    return actions_draw.draw_view(actions_draw.do_reveal(draw_id, body.value, call), names=False, call=call)


@router.post("/evaluation/draws/{draw_id}/finish", response=dict, summary="Compute the draw after the reveal window")
def finish(request, draw_id: int):
    row = access_draw(request.user, draw_id)
    actions_draw.party_of(request.user, row)  # the host or the supervisor on duty
    call = _call(request)
    return actions_draw.draw_view(actions_draw.do_finish(draw_id, call), names=False, call=call)


@router.get("/evaluation/draws/{draw_id}/published", response=dict, summary="Everything a verifier needs")
def published(request, draw_id: int):
    return draw_public.published(access_draw(request.user, draw_id))


@router.post("/evaluation/draws/{draw_id}/decline", response=dict, summary="A drawn expert declines")
def decline(request, draw_id: int, body: DeclineIn):
    access_draw(request.user, draw_id, manage=True)
    call = _call(request)
    row = actions_draw.do_decline(draw_id, body.expert_id, call)
    return actions_draw.draw_view(row, names=True, call=call)


@router.get("/evaluation/draws/{draw_id}/verify", response=dict, summary="Recompute the committee")
def verify(request, draw_id: int):
    row = access_draw(request.user, draw_id)
    draw_check.verify(row)
    return {"id": row.pk, "verified": True}


@router.post("/evaluation/draws/{draw_id}/redraw", response={201: dict}, summary="Ask for a redraw (host)")
def request_redraw(request, draw_id: int, body: RedrawIn):
    access_draw(request.user, draw_id, manage=True)
    return Status(201, actions_redraw.redraw_view(
        actions_redraw.do_request_redraw(draw_id, body.reason, body.note, _call(request))))


@router.post("/evaluation/redraws/{redraw_id}/decide", response=dict, summary="Approve or refuse a redraw (supervisor)")
def decide_redraw(request, redraw_id: int, body: DecideIn):
    redraw = Redraw.objects.filter(pk=redraw_id).first()
    if redraw is None:
        raise NotFound("redraw")
    access_draw(request.user, redraw.draw_id)
    return actions_redraw.redraw_view(actions_redraw.do_decide_redraw(redraw_id, body.approve, body.note,
                                                                      _call(request)))


def _session_out(session, role: str) -> dict:
    venues = list(session.venues.select_related("venue").order_by("-is_main", "venue_id"))
    return {"id": session.pk, "lot_id": session.lot_id, "draw_id": session.draw_id, "role": role,
            "step": session.state["step"], "blind": session.blind,
            "tie_seed_commitment": session.tie_seed_commitment,
            "venues": [{"id": sv.venue_id, "name": sv.venue.name, "main": sv.is_main,
                        "room": st.room_key(session.pk, sv.venue_id)} for sv in venues],
            "report_sha256": session.report_sha256 or None}


@router.post("/evaluation/sessions", response={201: dict}, summary="Create the session (host/admin)")
def create_session(request, body: SessionIn):
    session = actions_setup.check_create_session(request.user, **body.model_dump(), call=_call(request))
    return Status(201, _session_out(session, "host"))


@router.get("/evaluation/sessions/{session_id}", response=dict)
def get_session(request, session_id: int):
    session, role = access_session(request.user, session_id)
    return _session_out(session, role)


@router.get("/evaluation/sessions/{session_id}/replacements/{replacement_id}", response=dict,
            summary="A member's replacement draw, recomputed (host, venue staff, supervisors)")
def replacement_draw(request, session_id: int, replacement_id: int):
    """The record of a replacement draw (Reg 48) — its input (canonical JSON), the input's SHA-256
    and the seed's commitment audited before the draw, the seed, the drawn expert's id, the new
    member's code — recomputed by the server (``actions_replace.verify``): ``verified`` is true, or
    the answer is ``409 conflict`` saying what does not match. Expert ids only, never names. The
    committee's members read the seed and hashes in the report."""
    session, role = access_session(request.user, session_id)
    if role not in ("host", workflow.STAFF, workflow.MAIN_STAFF, workflow.SUPERVISOR):
        raise PlatformError(ErrorCode.FORBIDDEN, "the lot's host, venue staff and supervisors check the draw")
    row = session.replacements.select_related("member", "new_member").filter(pk=replacement_id).first()
    if row is None:
        raise NotFound("replacement not found")
    actions_replace.verify(row)
    # The snapshot carries the pool's expert ids, employers and declared relations: every read of
    # expert information is audited, as for the committee's draw (actions_draw.draw_view).
    with transaction.atomic():
        log_action("evaluation.expert.viewed", actor=Actor.from_request(request), obj=row,
                   tender_id=session.lot_id, data={"what": "replacement draw", "role": role,
                                                   "experts": [row.drawn] if row.drawn else []})
    return {"id": row.pk, "session_id": session.pk, "member": row.member.code, "reason": row.reason,
            "requested_at": row.requested_at, "decided_at": row.decided_at,
            "new_member": row.new_member.code if row.new_member_id else None, "drawn": row.drawn,
            "snapshot": row.snapshot, "snapshot_sha256": row.snapshot_sha256,
            "seed_commitment": row.seed_commitment, "seed": row.seed_hex,
            "format": rules_draw.REPLACEMENT_FORMAT, "verified": True}


@router.post("/evaluation/sessions/{session_id}/members/{code}/confirm", response=dict,
             summary="Venue staff confirm an expert's identity")
def confirm_member(request, session_id: int, code: str):
    session, role = access_session(request.user, session_id)
    member = session.members.filter(code=code).first()
    if role not in (workflow.STAFF, workflow.MAIN_STAFF) or member is None or \
            not Venue.objects.filter(pk=member.venue_id, staff=request.user).exists():
        raise PlatformError(ErrorCode.FORBIDDEN, "staff confirm the experts of their own venue")
    return actions.in_session(session.pk, actions.do_confirm, member.venue_id,
                              _call(request, {"member": code}, role))


@router.post("/evaluation/experts/me/signing-key", response=dict, summary="Register the report-signing key")
def register_key(request, body: KeyIn):
    require_cap(request.user, Cap.EVALUATION_SIT)
    try:
        raw = base64.b64decode(body.public_key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    from crypto import gm

    if body.algorithm == "ed25519" and len(raw) != 32:
        raise BadRequest("the key is a raw Ed25519 public key (32 bytes), base64")
    if body.algorithm == "sm2-sm3":
        try:
            gm.SM2PublicKey(raw)
        except gm.SM2Error:
            raise BadRequest("the key is an SM2 public key (65-byte uncompressed point on the curve), "
                             "base64") from None
    field = "sm2_signing_key" if body.algorithm == "sm2-sm3" else "signing_key"
    with transaction.atomic():
        expert = Expert.objects.select_for_update().filter(user=request.user).first()
        if expert is None:
            raise PlatformError(ErrorCode.NOT_FOUND, "no expert record")
        old = getattr(expert, field)
        setattr(expert, field, base64.b64encode(raw).decode())
        expert.save(update_fields=[field])
        log_action("evaluation.expert.key_registered", actor=Actor.from_request(request), obj=expert,
                   data={"public_key": getattr(expert, field), "algorithm": body.algorithm, "old": old})
    return {"public_key": getattr(expert, field), "algorithm": body.algorithm}


@router.post("/evaluation/sessions/{session_id}/sign", response=dict, summary="Sign the report's hash")
def sign_report(request, session_id: int, body: SignIn):
    session, role = access_session(request.user, session_id)
    if role != workflow.EXPERT:
        raise PlatformError(ErrorCode.FORBIDDEN, "members sign the report")
    fn = actions_report.do_dissent if body.reason is not None else actions_report.do_sign
    return actions.in_session(session.pk, fn, 0, _call(request, body.dict(exclude_none=True), role))


@router.get("/evaluation/sessions/{session_id}/report", response=dict, summary="The report as data")
def report_json(request, session_id: int):
    session, role = access_session(request.user, session_id)
    if not session.report:
        raise PlatformError(ErrorCode.INVALID_STATE, "the report is generated after the ranking")
    return {"sha256": session.report_sha256, "report": session.report,
            "signatures": [{"member": s.member.code, "kind": s.kind, "signature": s.signature or None,
                            "public_key": s.public_key or None, "reason": s.reason or None}
                           for s in session.signatures.select_related("member").order_by("member__code")]}


@router.get("/evaluation/sessions/{session_id}/report.pdf", summary="The report as PDF")
def report_pdf(request, session_id: int):
    from .report import render_report_pdf

    session, role = access_session(request.user, session_id)
    if not session.report:
        raise PlatformError(ErrorCode.INVALID_STATE, "the report is generated after the ranking")
    with transaction.atomic():
        log_action("evaluation.report.downloaded", actor=Actor.from_request(request), obj=session,
                   tender_id=session.lot_id, data={"sha256": session.report_sha256, "role": role})
    response = HttpResponse(render_report_pdf(session), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="evaluation-report-{session.pk}.pdf"'
    return response


@router.get("/evaluation/clarifications", response=list[ClarificationOut],
            summary="The questions addressed to the caller's company (bidders)")
def my_clarifications(request):
    require_cap(request.user, Cap.BID_SUBMIT)
    return actions_clarify.bidder_clarifications(request.user)


@router.post("/evaluation/clarifications/{clarification_id}/answer", response=ClarificationOut)
def answer(request, clarification_id: int, body: AnswerIn):
    return actions_clarify.do_answer(clarification_id, _call(request, {"answer": body.answer,
                                                                      "confirm": body.confirm}))
