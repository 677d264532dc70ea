"""Sealed-bid submission through the API: alice and bob on one lot, receipts, refusals that leave
nothing half-stored, resume after a cut connection, replacement, withdrawal and the deadline."""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import timedelta

import pytest
import time_machine

from audit.keys import platform_vkey
from audit.models import AuditEntry
from bidding import storage, submissions
from bidding.models import BidSubmission, BidUpload
from crypto import keys
from crypto.receipt import ReceiptError, verify_receipt
from tests.bidding.conftest import (a_zip, certify, package, patch, seal, stored_files, token_client,
                                    upload)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]


@pytest.fixture
def scene(people, make_lot, bid_storage):
    lot = make_lot(max_bid_bytes=4 * 2**20)
    alice_key, _ = certify(people["alice"], people["host"])
    bob_key, _ = certify(people["bob"], people["admin"])
    return {"lot": lot, "alice_key": alice_key, "bob_key": bob_key,
            "alice": token_client(people["alice"]), "bob": token_client(people["bob"]),
            "alice_org": people["alice"].organisation, "bob_org": people["bob"].organisation}


def refusals():
    return list(AuditEntry.objects.filter(action="bidding.bid.refused").values_list("body", flat=True))


def test_alice_and_bob_submit_and_each_sees_only_its_own(scene):
    lot, a, b = scene["lot"], scene["alice"], scene["bob"]
    # Bob's view before anyone has a bid, and after alice's: the same (招标投标法 22).
    assert b.get(f"/api/v1/lots/{lot.pk}/bid").status_code == 404
    env = seal(lot, scene["alice_org"], scene["alice_key"], package(123456789, "ALICE"))
    res = upload(a, lot.pk, env, chunk=10000, sha256=hashlib.sha256(env).hexdigest())
    assert res.status_code == 201, res.content
    alice_bid = res.json()
    assert alice_bid["sha256"] == hashlib.sha256(env).hexdigest() and alice_bid["size"] == len(env)
    res = b.get(f"/api/v1/lots/{lot.pk}/bid")
    assert res.status_code == 404 and res.json()["error"]["code"] == "not_found"
    assert b.get(f"/api/v1/lots/{lot.pk}/bid/receipt").status_code == 404
    assert "submission" not in json.dumps(b.get(f"/api/v1/lots/{lot.pk}").json())
    # Alice's upload id in bob's hands: not found, whatever he does with it.
    upload_id = BidUpload.objects.get(organisation=scene["alice_org"]).pk
    assert b.get(f"/api/v1/uploads/{upload_id}").status_code == 404
    assert b.post(f"/api/v1/uploads/{upload_id}/complete").status_code == 404
    assert patch(b, upload_id, 0, b"x").status_code == 404
    # Bob submits his own; each bidder's receipt verifies offline and names only itself.
    env_b = seal(lot, scene["bob_org"], scene["bob_key"], package(99887766, "BOB"))
    res = upload(b, lot.pk, env_b)
    assert res.status_code == 201, res.content
    for client, org, envelope_bytes in ((a, scene["alice_org"], env), (b, scene["bob_org"], env_b)):
        doc = client.get(f"/api/v1/lots/{lot.pk}/bid/receipt").json()
        body = verify_receipt(doc, platform_vkey(), envelope=io.BytesIO(envelope_bytes))
        assert body["bidder"] == {"name": org.name, "credit_code": org.credit_code}
        assert body["tender"] == lot.project.code and body["lot"] == lot.code
        other = scene["bob_org"] if org == scene["alice_org"] else scene["alice_org"]
        assert other.name not in json.dumps(doc, ensure_ascii=False)
    actions = list(AuditEntry.objects.filter(action__startswith="bidding.bid.")
                   .values_list("action", flat=True))
    assert actions.count("bidding.bid.submitted") == 2 and actions.count("bidding.bid.upload_started") == 2


def test_the_platform_keys_are_public(client):
    res = client.get("/api/v1/platform/keys")
    assert res.status_code == 200 and res.json()["vkey"] == platform_vkey()
    assert "BEGIN CERTIFICATE" in res.json()["ca_certificate"]


def test_a_receipt_with_any_flipped_byte_fails(scene):
    lot = scene["lot"]
    env = seal(lot, scene["alice_org"], scene["alice_key"], b"bid")
    doc = upload(scene["alice"], lot.pk, env).json()["receipt"]
    vkey = platform_vkey()
    verify_receipt(doc, vkey)
    text = json.dumps(doc, ensure_ascii=False)
    failures = 0
    for i in range(0, len(text), 7):
        c = text[i]
        flipped = chr(ord(c) ^ 1)
        mutated = text[:i] + flipped + text[i + 1:]
        try:
            verify_receipt(mutated, vkey)
        except (ReceiptError, ValueError):
            failures += 1
        else:
            # Only a flip that leaves the same JSON value (e.g. inside whitespace) may pass.
            assert json.loads(mutated) == doc, (i, c)
    assert failures > len(text) // 7 * 0.9
    with pytest.raises(ReceiptError):
        verify_receipt(doc, vkey, envelope=io.BytesIO(env + b"\0"))


def test_a_cut_connection_resumes_from_the_durable_offset(scene):
    lot, a = scene["lot"], scene["alice"]
    env = seal(lot, scene["alice_org"], scene["alice_key"], os.urandom(300_000))
    uid = a.post(f"/api/v1/lots/{lot.pk}/uploads", data=json.dumps({"size": len(env)}),
                 content_type="application/json").json()["id"]
    half = len(env) // 2
    assert patch(a, uid, 0, env[:half]).status_code == 200
    # The link drops; the client retries a piece it is unsure of, from a stale offset.
    res = patch(a, uid, 0, env[:1000])
    assert res.status_code == 409 and res.json()["error"]["code"] == "upload_offset_mismatch"
    assert res.json()["error"]["details"]["offset"] == half
    res = a.head(f"/api/v1/uploads/{uid}")
    assert res.status_code == 200 and int(res["Upload-Offset"]) == half
    res = a.post(f"/api/v1/uploads/{uid}/complete")
    assert res.status_code == 409 and res.json()["error"]["code"] == "upload_incomplete"
    assert patch(a, uid, half, env[half:]).status_code == 200
    res = a.post(f"/api/v1/uploads/{uid}/complete")
    assert res.status_code == 201, res.content
    stored = BidSubmission.objects.get(pk=res.json()["id"])
    assert (bid_path(stored)).read_bytes() == env


def bid_path(submission):
    return storage.absolute(submission.path)


def test_a_chunk_larger_than_django_memory_limit_streams_to_disk(scene, settings):
    lot = scene["lot"]
    env = seal(lot, scene["alice_org"], scene["alice_key"], os.urandom(3 * 2**20), chunk_size=2**20)
    assert len(env) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    res = upload(scene["alice"], lot.pk, env, chunk=len(env))
    assert res.status_code == 201, res.content


def test_a_chunk_over_the_limit_is_refused(scene, settings):
    settings.BID_UPLOAD_MAX_CHUNK_BYTES = 1000
    lot = scene["lot"]
    res = upload(scene["alice"], lot.pk, b"\0" * 5000, chunk=2000)
    assert res.status_code == 413 and res.json()["error"]["code"] == "chunk_too_large"


def test_replacement_and_withdrawal(scene):
    lot, a = scene["lot"], scene["alice"]
    first = upload(a, lot.pk, seal(lot, scene["alice_org"], scene["alice_key"], b"one")).json()
    second = upload(a, lot.pk, seal(lot, scene["alice_org"], scene["alice_key"], b"two")).json()
    old, new = BidSubmission.objects.get(pk=first["id"]), BidSubmission.objects.get(pk=second["id"])
    assert (old.status, new.status) == ("superseded", "current")
    assert bid_path(old).exists() and bid_path(new).exists()  # the old one stays, superseded
    assert a.get(f"/api/v1/lots/{lot.pk}/bid").json()["id"] == second["id"]
    res = a.post(f"/api/v1/lots/{lot.pk}/bid/withdraw")
    assert res.status_code == 200 and res.json()["status"] == "withdrawn"
    assert a.get(f"/api/v1/lots/{lot.pk}/bid").status_code == 404
    assert a.post(f"/api/v1/lots/{lot.pk}/bid/withdraw").status_code == 404
    actions = list(AuditEntry.objects.filter(action__startswith="bidding.bid.").values_list("action", flat=True))
    assert "bidding.bid.replaced" in actions and actions[-1] == "bidding.bid.withdrawn"


def _assert_refused(res, code, scene):
    assert res.json()["error"]["code"] == code, res.content
    assert not BidSubmission.objects.exists()
    files = stored_files(storage.root())
    assert files == [], files
    assert any(json.loads(b)["data"]["code"] == code for b in refusals())


@pytest.mark.parametrize("case,code", [
    ("random", "invalid_envelope"), ("zip", "invalid_envelope"), ("truncated_header", "invalid_envelope"),
    ("bobs_key", "key_not_current"), ("wrong_lot", "envelope_binding_mismatch"),
    ("bobs_bidder_id", "envelope_binding_mismatch"), ("escrow_unexpected", "escrow_recipient_mismatch"),
    ("sha_mismatch", "sha256_mismatch"),
])
def test_bad_envelopes_are_refused_and_nothing_stays(scene, case, code):
    lot, org, key = scene["lot"], scene["alice_org"], scene["alice_key"]
    good = seal(lot, org, key, b"bid")
    data, sha = {
        "random": (os.urandom(5000), None),
        "zip": (a_zip(), None),
        "truncated_header": (good[:200], None),
        "bobs_key": (seal(lot, org, scene["bob_key"], b"bid"), None),
        "wrong_lot": (seal(lot, org, key, b"bid", lot_code="02"), None),
        "bobs_bidder_id": (seal(lot, scene["bob_org"], key, b"bid"), None),
        "escrow_unexpected": (seal(lot, org, key, b"bid",
                                   escrow_public=keys.generate_bidder_key().public_key()), None),
        "sha_mismatch": (good, "0" * 64),
    }[case]
    res = upload(scene["alice"], lot.pk, data, sha256=sha)
    assert res.status_code in (409, 413, 422), res.content
    _assert_refused(res, code, scene)


@pytest.mark.parametrize("announced", [True, False])
def test_bytes_changed_on_disk_before_complete_are_not_receipted_as_sent(scene, announced):
    """An insider (or the disk) changes the partial file after the PATCHes and before ``complete``:
    the receipt must name what the platform holds, so the bidder sees it at once — refused when the
    client announced its SHA-256, and otherwise a receipt whose hash is not the bidder's own."""
    lot, a = scene["lot"], scene["alice"]
    good = seal(lot, scene["alice_org"], scene["alice_key"], b"bid" * 3000)
    sent = hashlib.sha256(good).hexdigest()
    res = upload(a, lot.pk, good, chunk=4096, sha256=sent if announced else None, complete=False)
    assert res.status_code == 200, res.content
    uid = BidUpload.objects.get().pk
    partial = storage.partial_path(uid)
    data = bytearray(partial.read_bytes())
    data[-100] ^= 1
    partial.write_bytes(bytes(data))
    res = a.post(f"/api/v1/uploads/{uid}/complete")
    if announced:
        assert res.status_code == 422 and res.json()["error"]["code"] == "sha256_mismatch", res.content
        assert not BidSubmission.objects.exists()
    else:
        assert res.status_code in (200, 201), res.content
        doc = res.json()["receipt"]
        body = verify_receipt(doc, platform_vkey(), envelope=io.BytesIO(bytes(data)))  # what is held
        with pytest.raises(ReceiptError):
            verify_receipt(doc, platform_vkey(), envelope=io.BytesIO(good))  # the bidder's check fails
        assert sent not in json.dumps(body)


def test_a_revoked_certificate_is_not_current(scene, people):
    from common.actor import Actor
    from bidding import certificates
    from bidding.models import BidderCertificate
    from common import clock

    cert = BidderCertificate.objects.get(organisation=scene["alice_org"], status="issued")
    certificates.revoke_certificate(people["alice"], Actor.of(people["alice"]), cert.pk,
                                    reason="key lost", now=clock.now())
    lot = scene["lot"]
    env = seal(lot, scene["alice_org"], scene["alice_key"], b"bid")
    res = upload(scene["alice"], lot.pk, env)
    assert res.status_code == 409 and res.json()["error"]["code"] == "no_current_certificate"
    # A new certificate for a new key: the old key's envelopes are now wrongly addressed.
    certify(people["alice"], people["host"])
    res = upload(scene["alice"], lot.pk, env)
    _assert_refused(res, "key_not_current", scene)


def test_oversized_bids_are_refused_at_creation(scene):
    lot = scene["lot"]
    res = scene["alice"].post(f"/api/v1/lots/{lot.pk}/uploads",
                              data=json.dumps({"size": lot.max_bid_bytes + 1}),
                              content_type="application/json")
    assert res.status_code == 413
    _assert_refused(res, "bid_too_large", scene)
    uid = scene["alice"].post(f"/api/v1/lots/{lot.pk}/uploads", data=json.dumps({"size": 10}),
                              content_type="application/json").json()["id"]
    res = patch(scene["alice"], uid, 0, b"x" * 11)
    assert res.status_code == 413 and res.json()["error"]["code"] == "bid_too_large"


def test_late_bids_are_refused_and_unfinished_uploads_void(scene):
    lot, a = scene["lot"], scene["alice"]
    env = seal(lot, scene["alice_org"], scene["alice_key"], b"bid")
    uid = a.post(f"/api/v1/lots/{lot.pk}/uploads", data=json.dumps({"size": len(env)}),
                 content_type="application/json").json()["id"]
    assert patch(a, uid, 0, env[:50]).status_code == 200
    with time_machine.travel(lot.bid_deadline, tick=False):  # the deadline itself is too late
        res = patch(a, uid, 50, env[50:])
        assert res.status_code == 409
        _assert_refused(res, "deadline_passed", scene)
        assert BidUpload.objects.get(pk=uid).status == "refused"
        res = a.post(f"/api/v1/lots/{lot.pk}/uploads", data=json.dumps({"size": 10}),
                     content_type="application/json")
        assert res.json()["error"]["code"] == "deadline_passed"
        assert a.post(f"/api/v1/lots/{lot.pk}/bid/withdraw").json()["error"]["code"] == "deadline_passed"


def test_an_upload_completed_a_moment_too_late_leaves_nothing(scene):
    lot, a = scene["lot"], scene["alice"]
    env = seal(lot, scene["alice_org"], scene["alice_key"], b"bid")
    res = upload(a, lot.pk, env, complete=False)
    uid = BidUpload.objects.get().pk
    with time_machine.travel(lot.bid_deadline + timedelta(microseconds=1), tick=False):
        res = a.post(f"/api/v1/uploads/{uid}/complete")
        _assert_refused(res, "deadline_passed", scene)


def test_open_uploads_expire_at_the_deadline(scene):
    lot, a = scene["lot"], scene["alice"]
    upload(a, lot.pk, b"\0" * 100, complete=False)
    assert submissions.expire_uploads(lot.bid_deadline - timedelta(seconds=1)) == 0
    assert submissions.expire_uploads(lot.bid_deadline) == 1
    assert stored_files(storage.root()) == []
    assert AuditEntry.objects.filter(action="bidding.bid.upload_expired").count() == 1


def test_only_published_lots_take_bids_and_only_bidders_bid(scene, make_lot, people):
    draft = make_lot(status="draft")
    res = scene["alice"].post(f"/api/v1/lots/{draft.pk}/uploads", data=json.dumps({"size": 10}),
                              content_type="application/json")
    assert res.status_code == 404  # a draft is invisible to bidders
    host = token_client(people["host"])
    res = host.post(f"/api/v1/lots/{scene['lot'].pk}/uploads", data=json.dumps({"size": 10}),
                    content_type="application/json")
    assert res.status_code == 404


def test_an_aborted_upload_is_removed(scene):
    lot, a = scene["lot"], scene["alice"]
    upload(a, lot.pk, b"\0" * 100, complete=False)
    uid = BidUpload.objects.get().pk
    assert a.delete(f"/api/v1/uploads/{uid}").status_code == 204
    assert BidUpload.objects.get().status == "aborted"
    assert stored_files(storage.root()) == []
