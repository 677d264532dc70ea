"""Objections (异议) raised in the hall and answered there by the host, shown to everyone; the
private chat between each bidder and the host (300 characters a message), on the streams
``org:<bidder>`` and ``role:host`` (supervisors see both)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from common.actor import Actor
from common.errors import BadRequest, ErrorCode, PlatformError
from realtime.audience import to_org, to_role
from realtime.log import lock_room

from ..models import ChatMessage, Objection, OpeningBid, RecordConfirmation
from ..phases import Command, Phase
from . import views
from .moves import audit, check, emit, lock_opening

CHAT_MAX = 300
OBJECTION_MAX = 1000


def _text(value, limit: int) -> str:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= limit:
        raise BadRequest(f"the text is 1 to {limit} characters")
    return value.strip()


def raise_objection(user, actor: Actor, lot_id: int, *, role: str, text, now: datetime) -> dict:
    """A bidder on file objects. From the deadline on (before it, an objection would name a bidder
    to the others: 招标投标法 22 — the private chat with the host serves then). During the
    confirmation it also stands as the bidder's answer to the record."""
    text = _text(text, OBJECTION_MAX)
    with transaction.atomic():
        op = lock_opening(lot_id)
        check(op, role, Command.OBJECT)
        if op.phase == Phase.SIGNIN_OPEN:
            raise PlatformError(ErrorCode.INVALID_STATE, "objections are raised from the opening on; "
                                "before it, write to the host")
        if not OpeningBid.objects.filter(opening=op, organisation_id=user.organisation_id).exists():
            raise PlatformError(ErrorCode.FORBIDDEN, "only a bidder on file objects")
        lock_room(views.room_key(lot_id), now=now)
        o = Objection.objects.create(opening=op, organisation_id=user.organisation_id, raised_by=user,
                                     text=text, raised_at=now, phase=op.phase)
        emit(op, "hall.objection", {"objection": views.objection_payload(o)}, now=now)
        audit(op, "objection_raised", actor, now, objection=o.pk, organisation=o.organisation_id,
              text=text, phase=op.phase)
        if op.phase == Phase.CONFIRMING and not op.confirmations.filter(
                organisation_id=user.organisation_id).exists():
            from .record import do_confirmation

            do_confirmation(op, user.organisation_id, RecordConfirmation.State.OBJECTED, actor=actor, now=now)
        return views.objection_payload(o)


def answer_objection(user, actor: Actor, lot_id: int, *, role: str, objection_id, text, now: datetime) -> dict:
    text = _text(text, OBJECTION_MAX)
    with transaction.atomic():
        op = lock_opening(lot_id)
        check(op, role, Command.ANSWER_OBJECTION)
        o = Objection.objects.select_related("organisation").filter(opening=op, pk=_int(objection_id)).first()
        if o is None:
            raise PlatformError(ErrorCode.NOT_FOUND, "objection not found")
        if o.answered_at is not None:
            raise PlatformError(ErrorCode.INVALID_STATE, "this objection is answered already")
        o.answer, o.answered_by, o.answered_at = text, user, now
        o.save(update_fields=["answer", "answered_by", "answered_at"])
        emit(op, "hall.objection", {"objection": views.objection_payload(o)}, now=now)
        audit(op, "objection_answered", actor, now, objection=o.pk, text=text)
        return views.objection_payload(o)


def _int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRequest("expected an id")
    try:
        return int(value)
    except ValueError:
        raise BadRequest("expected an id") from None


def chat(user, actor: Actor, lot_id: int, *, role: str, text, org=None, now: datetime) -> dict:
    """A chat message: a bidder writes to the host; the host answers one bidder (``org``), one that
    wrote first or, from the deadline, one on file."""
    text = _text(text, CHAT_MAX)
    with transaction.atomic():
        op = lock_opening(lot_id)
        check(op, role, Command.CHAT)
        if role == "bidder":
            org_id = user.organisation_id
        else:
            org_id = _int(org)
            known = (op.chat.filter(organisation_id=org_id).exists()
                     or OpeningBid.objects.filter(opening=op, organisation_id=org_id).exists())
            if not known:
                raise PlatformError(ErrorCode.NOT_FOUND, "no such bidder in this hall")
        lock_room(views.room_key(lot_id), now=now)
        m = ChatMessage.objects.create(opening=op, organisation_id=org_id, sender=user, from_role=role,
                                       text=text, sent_at=now)
        payload = {"message": views.chat_payload(m)}
        emit(op, "hall.chat", payload, audience=to_org(org_id), now=now)
        emit(op, "hall.chat", payload, audience=to_role("host"), now=now)
        audit(op, "chat", actor, now, message=m.pk, organisation=org_id, text=text, from_role=role)
        return payload["message"]
