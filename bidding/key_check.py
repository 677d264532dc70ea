"""The pre-opening key check (docs/sealbid.md, "Checking your key before the deadline").

Decryption fails in the hall most often because a bidder renewed its certificate (a new CA lock, a
new key) after sealing, or brings another key than the one its bid is sealed to. Before the
deadline a bidder asks for a test envelope sealed to its **current certificate** (its tender's
suite), opens it with the key it will use at the opening, and answers with the file key; the
platform checks the answer against the test header's commitment and MAC (``envelope.verify_file_key``)
and records the outcome. The answer also says which of the bidder's current bids on the lot are
sealed to another key than the certificate's — those need that other key at the opening, or a new
sealing before the deadline.

The test file key is random and never stored: the header's commitment is enough to check an
answer. Every step is audited (``bidding.key_check.issued``, ``.passed``, ``.failed``).
"""

from __future__ import annotations

import base64
import io
from datetime import datetime

from django.db import transaction

from audit.log import log_action
from bidding.access import access_bid_lot
from common.actor import Actor
from common.errors import ErrorCode, PlatformError
from crypto import envelope, gm, keys

from . import bid_rules
from .certificates import certificate_to_seal_for, current_certificate_for
from .models import BidSubmission, KeyCheck

TEST_PLAINTEXT = b"tender-key-check/v1\n"  # what the test envelope holds: nothing of value


def _recipient_key(cert):
    public = bytes(cert.public_key)
    return gm.SM2PublicKey(public) if cert.suite == "gm" else keys.load_public_key_bytes(public)


def sealed_to_other_keys(lot_id: int, organisation_id: int, key_id: str) -> list[dict]:
    """The organisation's current bids on the lot whose envelope is not addressed to ``key_id``."""
    return [{"submission": str(s.pk), "key_id": s.key_id, "received_at": s.received_at.isoformat()}
            for s in BidSubmission.objects.filter(lot_id=lot_id, organisation_id=organisation_id,
                                                  status=BidSubmission.Status.CURRENT).exclude(key_id=key_id)]


def issue_key_check(user, actor: Actor, lot_id: int, *, now: datetime) -> KeyCheck:
    """A test envelope sealed to the caller's organisation's current certificate of this lot's
    cipher suite."""
    lot = access_bid_lot(user, lot_id)
    bid_rules.check_before_deadline(lot.bid_deadline, now)
    org = user.organisation
    cert = certificate_to_seal_for(lot, org.pk, now)
    data = envelope.seal_bytes(TEST_PLAINTEXT, tender_id=lot.project.code, lot_id=lot.code,
                               bidder_id=org.credit_code, chunk_size=64, suite=lot.cipher_suite,
                               recipients=[envelope.Recipient("bidder", _recipient_key(cert))])
    header = envelope.read_header(io.BytesIO(data))
    with transaction.atomic():
        check = KeyCheck.objects.create(lot=lot, organisation=org, certificate=cert, requested_by=user,
                                        key_id=cert.key_id, header=header.raw, created_at=now)
        log_action("bidding.key_check.issued", actor=actor, obj=check, tender_id=lot.pk, now=now,
                   data={"organisation": org.pk, "key_id": cert.key_id, "certificate": cert.serial,
                         "suite": cert.suite})
    check.envelope = data  # the whole test envelope, for the answer's page (not stored)
    return check


def answer_key_check(user, actor: Actor, check_id, *, file_key_b64: str, now: datetime) -> dict:
    """Check the bidder's answer; record passed or failed (a failed check may be retried with a
    new one). Returns the outcome and the bids sealed to another key than the certificate's."""
    try:
        file_key = keys.b64decode_lenient(file_key_b64, envelope.FILE_KEY_SIZE)
    except ValueError:
        raise PlatformError(ErrorCode.BAD_REQUEST, "file_key is the base64 of 32 bytes") from None
    with transaction.atomic():
        check = (KeyCheck.objects.select_for_update().select_related("lot", "certificate")
                 .filter(pk=check_id, organisation_id=user.organisation_id).first()
                 if _is_uuid(check_id) else None)
        if check is None or not user.organisation_id:
            raise PlatformError(ErrorCode.NOT_FOUND, "key check not found")
        access_bid_lot(user, check.lot_id)
        if check.status != KeyCheck.Status.ISSUED:
            raise PlatformError(ErrorCode.INVALID_STATE, f"this key check is {check.status}: ask for a new one",
                                details={"status": check.status})
        header = envelope.read_header(io.BytesIO(bytes(check.header)))
        try:
            envelope.verify_file_key(header, file_key)
            check.status = KeyCheck.Status.PASSED
        except envelope.InvalidEnvelope:
            check.status = KeyCheck.Status.FAILED
        check.answered_at = now
        check.save(update_fields=["status", "answered_at"])
        stale = sealed_to_other_keys(check.lot_id, check.organisation_id, check.key_id)
        current = current_certificate_for(check.lot, check.organisation_id, now)  # the lot's suite's
        replaced = current is None or current.pk != check.certificate_id
        log_action(f"bidding.key_check.{check.status}", actor=actor, obj=check, tender_id=check.lot_id,
                   now=now, data={"organisation": check.organisation_id, "key_id": check.key_id,
                                  "bids_sealed_to_other_keys": stale, "certificate_replaced": replaced})
    return {"id": str(check.pk), "status": check.status, "key_id": check.key_id,
            "certificate_replaced": replaced, "bids_sealed_to_other_keys": stale}


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def envelope_b64(check: KeyCheck) -> str:
    return base64.b64encode(check.envelope).decode("ascii")

