"""The workflows after the evaluation: publish the candidates, raise and answer objections, make the
award with its signed notices, record the contract and the deposits' refunds. Each one transaction,
audited with old and new values (``award.*`` actions, labelled in ``common.labels``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime

from django.conf import settings
from django.db import transaction

from audit.log import log_action
from bidding import lifecycle
from bidding.access import access_lot
from bidding.lifecycle import Status
from common.access import deny, role_of
from common.actor import Actor
from common.canonical import format_time
from common.errors import BadRequest, ErrorCode, PlatformError
from evaluation.results import signed_result

from . import rules
from .models import Award, DepositRefund, Notice, Objection, ObjectionAttachment, Publicity
from .notices import build_document, sign_notice


def _t(value: datetime | None) -> str | None:
    return format_time(value) if value else None


def publicity_content(result) -> dict:
    """What the public reads: ranked candidates with prices and scores, and the rejected bids with
    the committee's reasons. No credit codes of people, no expert names (Law 37)."""
    return {
        "method": result.method, "outcome": result.outcome,
        "candidates": [{"rank": c.rank, "code": c.code, "organisation": c.organisation_id, "name": c.name,
                        "credit_code": c.credit_code, "price_fen": c.price_fen, "score": c.score,
                        "evaluated_fen": c.evaluated_fen} for c in result.candidates],
        "rejections": [{"code": r.code, "organisation": r.organisation_id, "name": r.name, "criteria": r.criteria,
                        "reasons": r.reasons} for r in result.rejections],
    }


def publish_candidates(user, actor: Actor, lot_id, *, days, now: datetime) -> Publicity:
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        if lot.status != Status.EVALUATING:
            raise rules.invalid("the candidates are published after the evaluation", "not_evaluating",
                                status=lot.status)
        if Publicity.objects.filter(lot=lot).exists():
            raise rules.invalid("the candidates are published already", "already_published")
        result = signed_result(lot)
        if result is None:
            raise rules.invalid("the committee has not signed its report", "no_signed_report")
        if not result.candidates:
            raise rules.invalid("the report recommends no candidate", "no_candidate")
        starts, ends = rules.publicity_period(now, days, min_days=settings.AWARD_PUBLICITY_MIN_DAYS)
        content = publicity_content(result)
        publicity = Publicity.objects.create(lot=lot, session_id=result.session_id,
                                             report_sha256=result.report_sha256, content=content,
                                             starts_at=starts, ends_at=ends, published_by=user)
        log_action("award.publicity.published", actor=actor, obj=publicity, tender_id=lot.pk, now=now,
                   data={"state": [None, "running"], "starts_at": [None, format_time(starts)],
                         "ends_at": [None, format_time(ends)], "report_sha256": result.report_sha256,
                         "content": content})
    return publicity


def _publicity(lot) -> Publicity:
    publicity = Publicity.objects.filter(lot=lot).first()
    if publicity is None:
        raise rules.invalid("the candidates are not published", "not_published")
    return publicity


def _attachments(items) -> list[tuple[str, str, bytes]]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise BadRequest("attachments is a list", details={"field": "attachments"})
    if len(items) > rules.MAX_ATTACHMENTS:
        rules.check_attachments([("x", "text/plain", 1)] * len(items))
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise BadRequest("an attachment is {name, content_type, data}", details={"field": "attachments"})
        raw = item.get("data")
        if not isinstance(raw, str) or len(raw) > (rules.MAX_ATTACHMENT_BYTES * 4) // 3 + 4:
            raise BadRequest(f"an attachment is at most {rules.MAX_ATTACHMENT_BYTES} bytes",
                             details={"field": "attachments", "max_bytes": rules.MAX_ATTACHMENT_BYTES})
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("an attachment's data is base64", details={"field": "attachments"}) from None
        out.append((item.get("name"), item.get("content_type"), data))
    rules.check_attachments([(n, k, len(d)) for n, k, d in out])
    return out


def raise_objection(user, actor: Actor, lot_id, *, grounds, contact, attachments=None, now: datetime) -> Objection:
    """A bidder or another interested party (a signed-in organisation: identity is required) objects
    to the candidates during the publicity."""
    if role_of(user) != "bidder" or not user.organisation_id:
        raise PlatformError(ErrorCode.FORBIDDEN, "an objection is raised by a bidder's or an interested "
                            "organisation's signed-in representative")
    grounds = rules.check_text(grounds, "grounds")
    contact = rules.check_text(contact, "contact")[:200]
    files = _attachments(attachments)
    with transaction.atomic():
        lot = access_lot(user, lot_id, for_update=True)
        publicity = _publicity(lot)
        if Award.objects.filter(lot=lot).exists():
            raise rules.invalid("the award is made", "awarded")
        rules.check_objection_window(publicity.starts_at, publicity.ends_at, now)
        due = rules.answer_due(now, answer_days=settings.AWARD_ANSWER_DAYS)
        objection = Objection.objects.create(publicity=publicity, raised_by=user, organisation_id=user.organisation_id,
                                             grounds=grounds, contact=contact, raised_at=now, answer_due=due)
        rows = [ObjectionAttachment.objects.create(objection=objection, name=n, content_type=k, size=len(d),
                                                   sha256=hashlib.sha256(d).hexdigest(), data=d) for n, k, d in files]
        log_action("award.objection.raised", actor=actor, obj=objection, tender_id=lot.pk, now=now,
                   data={"objection": objection.pk, "state": [None, "open"], "organisation": user.organisation_id,
                         "grounds": grounds, "answer_due": format_time(due),
                         "attachments": [{"name": r.name, "content_type": r.content_type, "size": r.size,
                                          "sha256": r.sha256} for r in rows]})
    return objection


def access_objection(user, objection_id, *, manage: bool = False) -> Objection:
    """The objection, to its author, and to whoever manages or supervises the tender."""
    try:
        objection = Objection.objects.select_related("publicity__lot").get(pk=int(objection_id))
    except (Objection.DoesNotExist, TypeError, ValueError):
        raise deny("objection", objection_id, user, "missing") from None
    lot = access_lot(user, objection.publicity.lot_id, manage=manage)
    from bidding.access import can_manage_lot

    if not manage and objection.raised_by_id != user.pk and not can_manage_lot(user, lot) \
            and role_of(user) != "supervisor":
        raise deny("objection", objection_id, user, "not yours")
    return objection


def answer_objection(user, actor: Actor, objection_id, *, answer, now: datetime) -> Objection:
    answer = rules.check_text(answer, "answer")
    with transaction.atomic():
        objection = access_objection(user, objection_id, manage=True)
        objection = Objection.objects.select_for_update().get(pk=objection.pk)
        if objection.state != Objection.State.OPEN:
            raise rules.invalid("the objection is answered already", "answered")
        late = now > objection.answer_due
        objection.state, objection.answer = Objection.State.ANSWERED, answer
        objection.answered_at, objection.answered_by = now, user
        objection.save(update_fields=["state", "answer", "answered_at", "answered_by"])
        log_action("award.objection.answered", actor=actor, obj=objection,
                   tender_id=objection.publicity.lot_id, now=now,
                   data={"objection": objection.pk, "state": ["open", "answered"], "answer": [None, answer],
                         "answered_at": [None, format_time(now)], "late": late})
    return objection


def make_award(user, actor: Actor, lot_id, *, winner: str = "", reason: str = "", now: datetime) -> Award:
    """The award to a candidate, with a signed notice to every evaluated bidder; the lot is
    completed: nothing of it changes afterwards."""
    reason = rules.check_text(reason or "", "reason", required=False)
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        publicity = _publicity(lot)
        if Award.objects.filter(lot=lot).exists():
            raise rules.invalid("the award is made", "awarded")
        candidates = [c["code"] for c in sorted(publicity.content["candidates"], key=lambda c: c["rank"])]
        winner = winner or (candidates[0] if candidates else "")
        still_open = publicity.objections.filter(state=Objection.State.OPEN)
        rules.check_award(ends_at=publicity.ends_at, now=now, open_objections=still_open.count(),
                          overdue_objections=still_open.filter(answer_due__lt=now).count(),
                          candidates=candidates, winner=winner, reason=reason)
        result = signed_result(lot)
        if result is None or result.report_sha256 != publicity.report_sha256:
            raise rules.invalid("the signed report is not the one published", "report_changed")
        lifecycle.check_transition(lot.status, Status.COMPLETED)
        won = next(b for b in result.bidders if b["code"] == winner)
        award = Award.objects.create(lot=lot, publicity=publicity, winner_code=winner,
                                     winner_id=won["organisation_id"], price_fen=won["price_fen"], reason=reason,
                                     decided_by=user, decided_at=now)
        notices = []
        for bidder in result.bidders:
            kind = Notice.Kind.AWARD if bidder["code"] == winner else Notice.Kind.RESULT
            document = build_document(kind=kind, lot=lot, to=bidder, winner=won, publicity=publicity,
                                      decided_at=now, report_sha256=result.report_sha256)
            digest, signature = sign_notice(document)
            notices.append(Notice.objects.create(award=award, kind=kind, organisation_id=bidder["organisation_id"],
                                                 document=document, sha256=digest, signature=signature))
        previous = lot.status
        lot.status = Status.COMPLETED
        lot.save(update_fields=["status"])
        log_action("award.award.made", actor=actor, obj=award, tender_id=lot.pk, now=now,
                   data={"status": [previous, Status.COMPLETED.value], "winner": [None, winner],
                         "organisation": won["organisation_id"], "price_fen": won["price_fen"], "reason": reason,
                         "notices": [{"id": n.pk, "kind": n.kind, "organisation": n.organisation_id,
                                      "sha256": n.sha256} for n in notices]})
    return award


def _award(lot) -> Award:
    award = Award.objects.filter(lot=lot).first()
    if award is None:
        raise rules.invalid("the award is not made", "not_awarded")
    return award


def record_contract(user, actor: Actor, lot_id, *, signed_at: datetime, now: datetime) -> Award:
    """The contract's signing date starts the deposits' refund deadline (实施条例 57)."""
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        award = _award(lot)
        if award.contract_signed_at is not None:
            raise rules.invalid("the contract's signing is recorded already", "contract_recorded")
        if signed_at.tzinfo is None or not (award.decided_at <= signed_at <= now):
            raise BadRequest("the contract is signed after the award and not in the future",
                             details={"field": "signed_at"})
        award.contract_signed_at = signed_at
        award.refund_due = rules.refund_due(signed_at)
        award.save(update_fields=["contract_signed_at", "refund_due"])
        log_action("award.contract.signed", actor=actor, obj=award, tender_id=lot.pk, now=now,
                   data={"contract_signed_at": [None, format_time(signed_at)],
                         "refund_due": [None, format_time(award.refund_due)]})
    return award


def record_refund(user, actor: Actor, lot_id, *, organisation_id, now: datetime) -> DepositRefund:
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        award = _award(lot)
        try:
            organisation_id = int(organisation_id)
        except (TypeError, ValueError):
            raise BadRequest("organisation is an id", details={"field": "organisation"}) from None
        if not award.notices.filter(organisation_id=organisation_id).exists():
            raise BadRequest("not a bidder of this tender", details={"field": "organisation"})
        if award.refunds.filter(organisation_id=organisation_id).exists():
            raise rules.invalid("the refund is recorded already", "refund_recorded")
        late = award.refund_due is not None and now > award.refund_due
        refund = DepositRefund.objects.create(award=award, organisation_id=organisation_id, refunded_at=now,
                                              recorded_by=user, late=late)
        log_action("award.deposit.refunded", actor=actor, obj=refund, tender_id=lot.pk, now=now,
                   data={"organisation": organisation_id, "refunded_at": [None, format_time(now)], "late": late,
                         "refund_due": _t(award.refund_due)})
    return refund


def refunds_view(award: Award, now: datetime) -> dict:
    """Which deposits are refunded, which are due and which are overdue."""
    done = {r.organisation_id: r for r in award.refunds.all()}
    rows = []
    for n in award.notices.order_by("id"):
        r = done.get(n.organisation_id)
        rows.append({"organisation": n.organisation_id, "name": n.document["to"]["name"],
                     "refunded_at": _t(r.refunded_at) if r else None, "late": r.late if r else None,
                     "overdue": r is None and award.refund_due is not None and now > award.refund_due})
    return {"contract_signed_at": _t(award.contract_signed_at), "refund_due": _t(award.refund_due), "bidders": rows}
