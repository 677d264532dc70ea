"""SM2 signatures on the platform (docs/cryptography.md, "Signatures"): a gm tender's receipts are
signed sm2-sm3 by the platform's SM2 key and say so, checkpoints carry an SM2 line when the setting
asks for it, the opening record of a gm tender is confirmed with SM2 only, and the tender's archive
verifies all of it offline."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta

import pytest

from audit.archive import export_archive
from audit.checkpoints import issue_checkpoint, verify_stored_checkpoint
from audit.keys import platform_sm2_vkey, platform_vkey
from audit.models import AuditEntry
from bidding.models import BidSubmission, Opening
from bidding.opening import record, rules
from bidding.opening.decryption import release_key
from common import clock
from common.actor import Actor
from common.errors import PlatformError
from crypto import envelope, gm
from crypto.archive import verify_archive
from crypto.checkpoint import open_checkpoint
from crypto.receipt import ReceiptError, verify_receipt
from crypto.sm2_note import Sm2NoteVerifier
from realtime.timers import run_due_timers
from tests.bidding.conftest import certify, token_client, upload
from tests.bidding.test_gm_suite import certify_sm2, seal_gm
from tests.bidding.test_opening_support import PRICES, bid_package, five  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]
NAMES = ("alice", "bob", "carol")


def submit_gm(people, lot, names=NAMES):
    bidders = {}
    for name in names:
        user = people[name]
        key, _ = certify_sm2(user, people["host"])
        env = seal_gm(lot, user.organisation, key, bid_package(lot, user.organisation, PRICES[name]))
        res = upload(token_client(user), lot.pk, env)
        assert res.status_code == 201, res.content
        bidders[name] = {"key": key, "envelope": env, "submission": res.json()["id"]}
    return bidders


def test_a_gm_receipt_is_sm2_signed_and_checked_with_the_published_sm2_key(five, make_lot):
    lot = make_lot(cipher_suite="gm")
    bidders = submit_gm(five, lot, ("alice",))
    doc = token_client(five["alice"]).get(f"/api/v1/lots/{lot.pk}/bid/receipt").json()
    assert doc["signature_algorithm"] == "sm2-sm3" and doc["receipt"]["format"] == "tender-receipt/gm-v1"
    published = token_client(five["alice"]).get("/api/v1/platform/keys").json()
    assert published["sm2_vkey"] == platform_sm2_vkey() and published["vkey"] == platform_vkey()
    assert token_client(five["alice"]).get("/api/v1/audit/key").json()["sm2_vkey"] == published["sm2_vkey"]
    verify_receipt(doc, published["vkey"], sm2_vkey=published["sm2_vkey"],
                   envelope=io.BytesIO(bidders["alice"]["envelope"]))
    with pytest.raises(ReceiptError):
        verify_receipt(doc, published["vkey"])
    entry = json.loads(AuditEntry.objects.get(action="bidding.bid.submitted").body)
    assert entry["data"]["cipher_suite"] == "gm"
    # An intl tender's receipt stays Ed25519, and its entry says intl.
    intl = make_lot()
    key, _ = certify(five["bob"], five["host"])
    from tests.bidding.conftest import package, seal

    res = upload(token_client(five["bob"]), intl.pk, seal(intl, five["bob"].organisation, key, package(1, "BOB")))
    assert res.status_code == 201, res.content
    doc = token_client(five["bob"]).get(f"/api/v1/lots/{intl.pk}/bid/receipt").json()
    assert doc["signature_algorithm"] == "ed25519" and doc["receipt"]["format"] == "tender-receipt/v1"
    verify_receipt(doc, platform_vkey())


def test_checkpoints_carry_an_sm2_line_only_when_the_setting_asks(db, settings):
    settings.AUDIT_CHECKPOINT_SM2 = False
    plain = issue_checkpoint("test", now=clock.now())
    assert plain.note.count("\n\u2014 ") == 1
    with pytest.raises(Exception, match="not signed by"):
        open_checkpoint(plain.note, Sm2NoteVerifier.from_vkey(platform_sm2_vkey()))
    settings.AUDIT_CHECKPOINT_SM2 = True
    both = issue_checkpoint("test", now=clock.now())
    assert both.note.count("\n\u2014 ") == 2
    assert verify_stored_checkpoint(both).size == both.size  # the Ed25519 reader skips the SM2 line
    assert open_checkpoint(both.note, Sm2NoteVerifier.from_vkey(platform_sm2_vkey())).size == both.size


def test_the_record_of_a_gm_tender_is_confirmed_with_sm2_and_the_archive_verifies_it(five, make_lot, settings):
    settings.AUDIT_CHECKPOINT_SM2 = True
    lot = make_lot(cipher_suite="gm", deadline_in=timedelta(hours=1))
    bidders = submit_gm(five, lot)
    run_due_timers(lot.signin_opens_at + timedelta(seconds=1))
    now = lot.bid_deadline + timedelta(seconds=1)
    run_due_timers(now)
    for name, b in bidders.items():
        header = envelope.read_header(io.BytesIO(b["envelope"]))
        key = base64.b64encode(envelope.unwrap_file_key(header, b["key"], role="bidder")).decode()
        release_key(five[name], Actor.of(five[name]), lot.pk, file_key=key, now=now)
    op = Opening.objects.get(lot=lot)
    close = op.decryption_ends_at + timedelta(seconds=1)
    run_due_timers(close)
    host = five["host"]
    from bidding.opening import actions

    op.refresh_from_db()
    if op.coefficient_commitment:
        actions.draw_coefficient(lot.pk, Actor.of(host), role="host", now=close)
    payload = record.start_confirmation(lot.pk, Actor.of(host), role="host", now=close)
    assert payload["signature_algorithm"] == "sm2-sm3"
    op.refresh_from_db()
    message = rules.confirmation_message(op.record_hash)
    alice, bob, carol = five["alice"], five["bob"], five["carol"]

    def refused(user, signature, code="invalid_signature"):
        with pytest.raises(PlatformError) as err:
            record.confirm_record(user, Actor.of(user), lot.pk, role="bidder", signature=signature, now=close)
        assert err.value.code == code

    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    # Another user id, or bob's SM2 key for alice: refused.
    refused(alice, b64(gm.sm2_sign(bidders["alice"]["key"], message, user_id=b"ALICE123@YAHOO.COM")))
    refused(alice, b64(gm.sm2_sign(bidders["bob"]["key"], message)))
    record.confirm_record(alice, Actor.of(alice), lot.pk, role="bidder",
                          signature=b64(gm.sm2_sign(bidders["alice"]["key"], message)), now=close)
    confirmed = json.loads(AuditEntry.objects.filter(action="bidding.opening.record_confirmed").get().body)
    assert confirmed["data"]["algorithm"] == "sm2-sm3"
    # Bob also holds a P-256 certificate now (for intl tenders): it leaves his SM2 one current, and
    # an ECDSA confirmation of a gm record by that P-256 key is refused; so is his SM2 key's
    # signature once the SM2 certificate is revoked and only the P-256 one is left.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from bidding.certificates import current_certificate, revoke_certificate

    p256, _ = certify(bob, host)
    sm2_cert = current_certificate(bob.organisation_id, close, "gm")
    assert sm2_cert is not None and sm2_cert.key_id == bidders["bob"]["key"].public.key_id
    refused(bob, b64(p256.sign(message, ec.ECDSA(hashes.SHA256()))))
    revoke_certificate(bob, Actor.of(bob), sm2_cert.pk, reason="key lost", now=close)
    refused(bob, b64(gm.sm2_sign(bidders["bob"]["key"], message)), code="certificate_suite_mismatch")
    record.confirm_record(carol, Actor.of(carol), lot.pk, role="bidder",
                          signature=b64(gm.sm2_sign(bidders["carol"]["key"], message)), now=close)

    buffer = io.BytesIO()
    manifest = export_archive(buffer, lot=lot)
    assert manifest["sm2_vkey"] == platform_sm2_vkey()
    lines = "\n".join(verify_archive(io.BytesIO(buffer.getvalue()), vkey=platform_vkey()).lines)
    assert "bids: 3 receipts verified" in lines
    assert "opening record: hash verified; 2 bidders' confirmation signatures verified" in lines
    stored = BidSubmission.objects.get(pk=bidders["alice"]["submission"]).receipt
    assert stored["checkpoint"].count("\n\u2014 ") == 2  # AUDIT_CHECKPOINT_SM2: both lines
