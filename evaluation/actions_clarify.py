"""Clarifications (澄清): the committee (through its chair) asks one bidder a question with a reply
deadline; the bidder answers online before it. Both are in the record (audit, the report); the room
shows question and answer without who asked, and the bidder's API never says who asked."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from common.errors import BadRequest, ErrorCode, PlatformError

from . import state as st
from .actions_bills import record_confirmation
from .models import Clarification
from .questions import question_code
from .rules import steps
from .workflow import Call, audit, bidder_by_code, check_step, current_state, invalid, lock_session, member_of

ASKING_STEPS = (steps.Step.COMPLIANCE, steps.Step.SCORING, steps.Step.SUMMARY)


def do_ask(session, venue_id: int, call: Call) -> dict:
    check_step(session, *ASKING_STEPS)
    member = member_of(session, call.user)
    if current_state(session).chair != member.code:
        raise invalid("the committee asks through its chair")
    bidder = bidder_by_code(session, call.payload.get("bidder"))
    question, minutes = call.payload.get("question"), call.payload.get("minutes", 30)
    if not isinstance(question, str) or not question.strip() or len(question) > 5000:
        raise BadRequest("'question' is a text of 1 to 5000 characters")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 5 <= minutes <= 7 * 24 * 60:
        raise BadRequest("'minutes' (the reply time) is an integer from 5 to 10080")
    clar = Clarification.objects.create(session=session, bidder=bidder, question=question.strip(),
                                        asked_by=member, asked_at=call.now,
                                        deadline=call.now + timedelta(minutes=minutes))
    audit(session, "evaluation.clarification.asked", call, clarification=clar.pk, bidder=bidder.code,
          asked_by=member.code, deadline=clar.deadline)
    st.broadcast(session, "eval.clarification", [(["clarifications", str(clar.pk)], st.clarification_view(clar))],
                 now=call.now)
    return {"clarification": clar.pk, "deadline": st._t(clar.deadline)}


def bidder_view(clar) -> dict:
    """What the bidder sees: its question and answer, the lot and the deadline; never who asked."""
    lot = clar.session.lot
    code, params = question_code(clar)  # the platform's own question, for the reader's language
    return {"id": clar.pk, "lot_id": lot.pk, "lot": f"{lot.project.code}-{lot.code} {lot.title}",
            "question": clar.question, "question_code": code, "question_params": params,
            "asked_at": clar.asked_at, "deadline": clar.deadline,
            "answer": clar.answer or None, "answered_at": clar.answered_at, "purpose": clar.purpose,
            "proposal": clar.proposal, "confirmed": clar.confirmed}


def do_answer(clarification_id, call: Call) -> dict:
    """The bidder's answer, once, before the deadline."""
    from evaluation.access import access_clarification

    with transaction.atomic():
        clar = access_clarification(call.user, clarification_id)
        session = lock_session(clar.session_id)
        clar = Clarification.objects.select_related("bidder", "session__lot__project").get(pk=clar.pk)
        answer = call.payload.get("answer")
        if not isinstance(answer, str) or not answer.strip() or len(answer) > 20000:
            raise BadRequest("'answer' is a text of 1 to 20000 characters")
        if clar.answered_at is not None:
            raise PlatformError(ErrorCode.CONFLICT, "this question is answered")
        if call.now > clar.deadline:
            raise PlatformError(ErrorCode.DEADLINE_PASSED, "the reply time is over")
        if clar.purpose == "correction":  # R12 Art. 19: the bidder confirms the correction or not
            record_confirmation(session, clar, call.payload.get("confirm"), call)
        clar.answer, clar.answered_at, clar.answered_by = answer.strip(), call.now, call.user
        clar.save(update_fields=["answer", "answered_at", "answered_by", "confirmed"])
        audit(session, "evaluation.clarification.answered", call, clarification=clar.pk, bidder=clar.bidder.code)
        st.broadcast(session, "eval.clarification",
                     [(["clarifications", str(clar.pk)], st.clarification_view(clar))], now=call.now)
        return bidder_view(clar)


def bidder_clarifications(user) -> list[dict]:
    if user.organisation_id is None:
        return []
    rows = (Clarification.objects.filter(bidder__bidder_org_id=user.organisation_id)
            .select_related("session__lot__project").order_by("-asked_at"))
    return [bidder_view(c) for c in rows]
