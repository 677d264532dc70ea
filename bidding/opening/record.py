"""The opening record (开标记录, 电子招标投标办法 32): generated from the hall's state and public log
when the host starts the confirmation, hashed (SHA-256 of its canonical JSON), confirmed by each
bidder on file with an ECDSA P-256 signature over ``rules.confirmation_message(hash)`` made with its
certificate's key, or objected to; a bidder silent until the window closes is deemed to accept
(财政部87号令 42). Downloadable as a PDF.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime

from django.conf import settings
from django.db import transaction

from common.actor import Actor
from common.canonical import canonical_json, format_time
from common.errors import ErrorCode, PlatformError
from realtime.log import lock_room
from realtime.models import RoomEvent

from ..certificates import current_certificate, current_certificate_for
from ..lifecycle import Status as LotStatus
from ..models import Opening, OpeningBid, RecordConfirmation
from ..phases import Command, Event, Phase
from . import rules, views
from .moves import audit, check, do_move, emit, lock_opening


def build_record(op: Opening, *, now: datetime) -> dict:
    lot = op.lot
    public = list(RoomEvent.objects.filter(room__key=views.room_key(lot.pk), stream="all")
                  .order_by("seq").values_list("epoch", "sseq", "event", "payload", "ts"))
    pauses = [{"at": format_time(ts), "reason": p["phase"]["pause_reason"]}
              for _, _, event, p, ts in public if event == "hall.phase" and p["phase"]["paused"]]
    digest = hashlib.sha256(canonical_json([[e, s, ev, p, format_time(ts)] for e, s, ev, p, ts in public])
                            .encode()).hexdigest()
    bids = {b.organisation_id: b for b in op.bids.select_related("submission")}
    entries = []
    for entry in views.announcement_entries(op, lot):
        b = bids[int(entry["org"])]
        entries.append({**entry, "envelope_sha256": b.submission.sha256,
                        "commitment": b.submission.commitment, "file_key": b.file_key})
    return {
        "format": rules.RECORD_FORMAT, "platform": settings.AUDIT_ORIGIN,
        "tender": lot.project.code, "project": lot.project.title, "lot": lot.code, "lot_title": lot.title,
        "bid_deadline": format_time(lot.bid_deadline), "min_bids": lot.min_bids,
        "bids_on_file": op.bids_on_file, "bids": entries,
        "coefficient": views.coefficient_payload(op, lot),
        "objections": [views.objection_payload(o) for o in op.objections.select_related("organisation")],
        "pauses": pauses,
        "log": {"room": views.room_key(lot.pk), "public_events": len(public), "public_events_sha256": digest},
        "generated_at": format_time(now),
    }


def start_confirmation(lot_id: int, actor: Actor, *, role: str, now: datetime) -> dict:
    with transaction.atomic():
        op = lock_opening(lot_id)
        check(op, role, Command.START_CONFIRMATION)
        if views.coefficient_enabled(op.lot) and op.coefficient_drawn_at is None:
            raise PlatformError(ErrorCode.INVALID_STATE, "draw the tender's coefficient first")
        lock_room(views.room_key(lot_id), now=now)
        op.record = build_record(op, now=now)
        op.record_hash = rules.record_hash(op.record)
        do_move(op, Event.START_CONFIRMATION, actor=actor, now=now,
                confirmation_window=_confirmation_window(op))
        op.save(update_fields=["record", "record_hash"])
        emit(op, "hall.record", {"record": views.record_payload(op)}, now=now)
        audit(op, "record_generated", actor, now, hash=op.record_hash)
        return views.record_payload(op)


def _confirmation_window(op: Opening):
    from datetime import timedelta

    return timedelta(minutes=op.lot.confirmation_window_minutes)


def verify_signature(suite: str, public_key: bytes, signature: bytes, message: bytes) -> bool:
    """By the bidder's certified key, with the tender's algorithm: ECDSA P-256 / SHA-256 for an
    ``intl`` tender, SM2 / SM3 (default user ID) for a ``gm`` one."""
    from crypto import gm

    return gm.verify_signature_of_suite(suite, public_key, signature, message)


def signature_algorithm(lot) -> str:
    from crypto import gm

    return gm.SIGNATURE_ALGORITHMS[lot.cipher_suite]


def do_confirmation(op: Opening, org_id: int, state: str, *, actor: Actor, now: datetime,
                    signature: str = "", key_id: str = "") -> None:
    c = RecordConfirmation.objects.create(opening=op, organisation_id=org_id, state=state,
                                          signature=signature, key_id=key_id, at=now)
    emit(op, "hall.confirmation", {"org": str(org_id), "state": c.state}, now=now)
    signed = {"signature": signature, "key_id": key_id}
    if signature:
        signed["algorithm"] = signature_algorithm(op.lot)
    audit(op, f"record_{state}", actor, now, organisation=org_id, hash=op.record_hash, **signed)
    if op.phase == Phase.CONFIRMING and not op.paused and _waiting(op) == set():
        do_close(op, actor=actor, now=now)


def _waiting(op: Opening) -> set[int]:
    on_file = set(OpeningBid.objects.filter(opening=op).values_list("organisation_id", flat=True))
    return on_file - set(op.confirmations.values_list("organisation_id", flat=True))


def confirm_record(user, actor: Actor, lot_id: int, *, role: str, signature, record_hash=None,
                   now: datetime) -> dict:
    """A bidder on file confirms the record: its signature over the record's hash verifies against
    its organisation's current certificate of the tender's cipher suite (an organisation holding
    both suites' certificates signs a gm record with its SM2 key, an intl record with its P-256 one;
    a signature by the other suite's key is refused)."""
    with transaction.atomic():
        op = lock_opening(lot_id)
        check(op, role, Command.CONFIRM_RECORD)
        org_id = user.organisation_id
        if not OpeningBid.objects.filter(opening=op, organisation_id=org_id).exists():
            raise PlatformError(ErrorCode.FORBIDDEN, "only a bidder on file confirms the record")
        if op.confirmations.filter(organisation_id=org_id).exists():
            raise PlatformError(ErrorCode.INVALID_STATE, "your organisation has answered already")
        if record_hash is not None and record_hash != op.record_hash:
            raise PlatformError(ErrorCode.INVALID_SIGNATURE, "that is not this record's hash")
        cert = current_certificate_for(op.lot, org_id, now)
        other = None if cert is not None else current_certificate(
            org_id, now, "intl" if op.lot.cipher_suite == "gm" else "gm")
        if other is not None:
            raise PlatformError(ErrorCode.CERTIFICATE_SUITE_MISMATCH,
                                f"this tender's record is signed {signature_algorithm(op.lot)}: your only current "
                                f"certificate is of the other suite ({other.suite})",
                                details={"expected": op.lot.cipher_suite, "certificate": other.suite})
        try:
            raw = base64.b64decode(signature or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raw = b""
        if cert is None or not raw or not verify_signature(op.lot.cipher_suite, bytes(cert.public_key), raw,
                                                           rules.confirmation_message(op.record_hash)):
            raise PlatformError(ErrorCode.INVALID_SIGNATURE, "the signature does not verify with your "
                                "organisation's current certificate of this tender's cipher suite",
                                details={"suite": op.lot.cipher_suite})
        lock_room(views.room_key(lot_id), now=now)
        do_confirmation(op, org_id, RecordConfirmation.State.CONFIRMED, actor=actor, now=now,
                        signature=signature, key_id=cert.key_id)
        return {"state": RecordConfirmation.State.CONFIRMED, "hash": op.record_hash}


def do_close(op: Opening, *, actor: Actor, now: datetime) -> None:
    """The confirmation closes: the silent are deemed to accept, the hall closes, the lot goes on to
    its evaluation."""
    for org_id in sorted(_waiting(op)):
        RecordConfirmation.objects.create(opening=op, organisation_id=org_id,
                                          state=RecordConfirmation.State.DEEMED, at=now)
        emit(op, "hall.confirmation", {"org": str(org_id), "state": RecordConfirmation.State.DEEMED.value},
             now=now)
        audit(op, "record_deemed", actor, now, organisation=org_id, hash=op.record_hash)
    do_move(op, Event.CONFIRMATION_CLOSED, actor=actor, now=now)
    lot = op.lot
    if lot.status == LotStatus.OPENING:
        lot.status = LotStatus.EVALUATING
        lot.save(update_fields=["status"])


def render_record_pdf(op: Opening) -> bytes:
    from documents.pdf import render_pdf

    record = op.record
    confirmations = [{"name": c.organisation.name, "state": c.state, "at": format_time(c.at),
                      "key_id": c.key_id}
                     for c in op.confirmations.select_related("organisation")]
    objections = [views.objection_payload(o) for o in op.objections.select_related("organisation")]
    return render_pdf("documents/opening_record.html",
                      {"record": record, "hash": op.record_hash, "confirmations": confirmations,
                       "objections": objections, "phase": op.phase})
