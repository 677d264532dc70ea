"""Nothing lost when the platform fails (电子招标投标办法 27; docs/envelope.md, "A completion that
could not be signed"): a bidder whose every byte was in and who asked for completion before the
deadline, while the platform's HSM was away, keeps its bid — the deadline does not void it, the
ticker completes it once the key signs again (or the bidder's own retry does), the receipt names
the time completion was asked for, and the opening waits for it. Attacked: a partial file swapped
on disk after the deadline, a PATCH after the deadline, a stale request after a later bid, a crash
between the steps."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta

import pytest
import time_machine

from audit.alerts import classify
from audit.keys import platform_vkey
from audit.models import AuditEntry
from bidding import pending, storage, submissions
from bidding.lifecycle import Status as LotStatus
from bidding.models import BidSubmission, BidUpload, Lot, OpeningBid
from common.canonical import format_time
from common.errors import ErrorCode, PlatformError
from crypto.receipt import verify_receipt
from crypto.signing import SigningUnavailable
from realtime.timers import run_due_timers
from tests.bidding.conftest import certify, package, patch, seal, stored_files, token_client, upload
from tests.audit.test_platform_hsm import hsm, on_token, pulled_out  # noqa: F401
from tests.bidding.test_opening_support import BIDDERS, PRICES, bid_package, five, submit_bids  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]


@pytest.fixture
def signer(monkeypatch):
    """The platform's signing key on its HSM, pulled out (``away = True``) and put back: every
    checkpoint — hence every receipt — raises ``SigningUnavailable`` while it is out."""
    import audit.checkpoints

    real = audit.checkpoints.sign_checkpoint_note
    state = {"away": False}

    def sign(body):
        if state["away"]:
            raise SigningUnavailable("the platform's signing token cannot sign: CKR_TOKEN_NOT_PRESENT")
        return real(body)

    monkeypatch.setattr(audit.checkpoints, "sign_checkpoint_note", sign)
    return state


@pytest.fixture
def scene(people, make_lot, bid_storage):
    lot = make_lot(deadline_in=timedelta(hours=1))
    key, _ = certify(people["alice"], people["host"])
    env = seal(lot, people["alice"].organisation, key, package(123456789, "ALICE"))
    return {"lot": lot, "key": key, "env": env, "alice": token_client(people["alice"]),
            "user": people["alice"], "org": people["alice"].organisation}


def entries(action):
    return [json.loads(e.body)["data"] for e in AuditEntry.objects.filter(action=action).order_by("index")]


def asked_while_away(scene, signer, minutes_before=10):
    """Every byte in, then ``complete`` while the HSM is away, ``minutes_before`` the deadline."""
    upload(scene["alice"], scene["lot"].pk, scene["env"], complete=False)
    uid = str(BidUpload.objects.get(organisation=scene["org"], status="open").pk)
    asked = scene["lot"].bid_deadline - timedelta(minutes=minutes_before)
    signer["away"] = True
    with time_machine.travel(asked, tick=False):
        res = scene["alice"].post(f"/api/v1/uploads/{uid}/complete")
    assert res.status_code == 503 and res.json()["error"]["code"] == "signing_unavailable", res.content
    return uid, asked


def test_a_request_the_hsm_could_not_sign_is_recorded_pending_with_the_servers_hash(scene, signer):
    uid, asked = asked_while_away(scene, signer)
    up = BidUpload.objects.get(pk=uid)
    assert up.status == "open" and up.completion_requested_at == asked
    assert up.completion_sha256 == hashlib.sha256(scene["env"]).hexdigest()
    assert up.completion_user == scene["user"]
    attempt = entries("bidding.bid.receipt_failed")[-1]
    assert attempt["pending_since"] == format_time(asked) and attempt["first_request"] is True
    # A second failed attempt keeps the first request's time.
    with time_machine.travel(asked + timedelta(minutes=5), tick=False):
        assert scene["alice"].post(f"/api/v1/uploads/{uid}/complete").status_code == 503
    assert BidUpload.objects.get(pk=uid).completion_requested_at == asked
    assert entries("bidding.bid.receipt_failed")[-1]["first_request"] is False


def test_an_upload_not_full_or_never_completed_is_voided_at_the_deadline_as_before(scene, signer, people):
    lot, a = scene["lot"], scene["alice"]
    env = scene["env"]
    uid = a.post(f"/api/v1/lots/{lot.pk}/uploads", data=json.dumps({"size": len(env)}),
                 content_type="application/json").json()["id"]
    assert patch(a, uid, 0, env[:100]).status_code == 200
    signer["away"] = True
    # Not every byte in: not a signing failure, not pending (the client's claim counts for nothing).
    res = a.post(f"/api/v1/uploads/{uid}/complete")
    assert res.json()["error"]["code"] == "upload_incomplete"
    assert BidUpload.objects.get(pk=uid).completion_requested_at is None
    key, _ = certify(people["bob"], people["host"])
    env_b = seal(lot, people["bob"].organisation, key, package(99, "BOB"))
    upload(token_client(people["bob"]), lot.pk, env_b, complete=False)  # full, never completed
    assert submissions.expire_uploads(lot.bid_deadline) == 2
    assert stored_files(storage.root()) == []
    assert not pending.pending_uploads().exists()


def test_the_deadline_keeps_a_pending_upload_and_refuses_any_byte_after_it(scene, signer):
    uid, asked = asked_while_away(scene, signer)
    lot = scene["lot"]
    assert submissions.expire_uploads(lot.bid_deadline) == 0
    assert submissions.expire_uploads(lot.bid_deadline + timedelta(seconds=5)) == 0  # audited once
    assert BidUpload.objects.get(pk=uid).status == "open"
    assert storage.partial_path(uid).read_bytes() == scene["env"]
    [kept] = entries("bidding.bid.completion_pending")
    assert kept["requested_at"] == format_time(asked) and kept["upload"] == uid
    assert classify("bidding.bid.completion_pending").code == "completion_pending"
    # No byte may be added after the deadline, pending or not: refused, audited, nothing changes.
    with time_machine.travel(lot.bid_deadline + timedelta(seconds=1), tick=False):
        res = patch(scene["alice"], uid, len(scene["env"]), b"more")
        assert res.status_code == 409 and res.json()["error"]["code"] == "deadline_passed"
        res = patch(scene["alice"], uid, 0, b"x" * 10)
        assert res.status_code == 409 and res.json()["error"]["code"] == "deadline_passed"
    assert [r["code"] for r in entries("bidding.bid.refused")] == ["deadline_passed", "deadline_passed"]
    up = BidUpload.objects.get(pk=uid)
    assert up.status == "open" and up.offset == len(scene["env"])
    assert storage.partial_path(uid).read_bytes() == scene["env"]


def test_the_bidders_own_retry_after_the_deadline_is_receipted_at_the_time_it_asked(scene, signer):
    uid, asked = asked_while_away(scene, signer)
    lot = scene["lot"]
    signer["away"] = False
    later = lot.bid_deadline + timedelta(minutes=7)
    with time_machine.travel(later, tick=False):
        res = scene["alice"].post(f"/api/v1/uploads/{uid}/complete")
    assert res.status_code == 201, res.content
    sub = BidSubmission.objects.get(pk=res.json()["id"])
    body = verify_receipt(sub.receipt, platform_vkey(), envelope=io.BytesIO(scene["env"]))
    # Neither later (it would look late) nor earlier than true: when every byte was in and
    # completion was asked for.
    assert body["received_at"] == format_time(asked) and sub.received_at == asked
    [entry] = entries("bidding.bid.submitted")
    assert entry["requested_at"] == format_time(asked) and entry["signed_at"] == format_time(later)
    assert sub.status == "current" and sub.submitted_by == scene["user"]
    assert storage.absolute(sub.path).read_bytes() == scene["env"]


@pytest.mark.parametrize("who", ["bidder", "ticker"])
def test_a_partial_file_swapped_after_the_deadline_is_refused(scene, signer, who):
    uid, asked = asked_while_away(scene, signer)
    lot = scene["lot"]
    submissions.expire_uploads(lot.bid_deadline)
    signer["away"] = False
    # An insider edits the bytes on disk after the deadline: one byte of the payload.
    with open(storage.partial_path(uid), "r+b") as f:
        f.seek(len(scene["env"]) - 20)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 1]))
    later = lot.bid_deadline + timedelta(minutes=2)
    if who == "bidder":
        with time_machine.travel(later, tick=False):
            res = scene["alice"].post(f"/api/v1/uploads/{uid}/complete")
        assert res.status_code == 422 and res.json()["error"]["code"] == "sha256_mismatch"
    else:
        run_due_timers(later)
    assert not BidSubmission.objects.exists()
    assert BidUpload.objects.get(pk=uid).status == "refused"
    [refused] = entries("bidding.bid.refused")
    assert refused["code"] == "sha256_mismatch" and refused["upload"] == uid
    assert not pending.pending_uploads().exists()


def test_a_later_bid_makes_an_earlier_pending_request_stale(scene, signer):
    uid, asked = asked_while_away(scene, signer, minutes_before=30)
    lot = scene["lot"]
    signer["away"] = False
    env2 = seal(lot, scene["org"], scene["key"], package(111, "ALICE-2"))
    with time_machine.travel(asked + timedelta(minutes=10), tick=False):
        res = upload(scene["alice"], lot.pk, env2)
    assert res.status_code == 201, res.content
    assert not pending.is_pending(BidUpload.objects.get(pk=uid))
    assert submissions.expire_uploads(lot.bid_deadline) == 1  # the stale one goes, as before
    assert BidSubmission.objects.get().sha256 == hashlib.sha256(env2).hexdigest()
    with time_machine.travel(lot.bid_deadline + timedelta(minutes=1), tick=False):
        res = scene["alice"].post(f"/api/v1/uploads/{uid}/complete")
    assert res.status_code == 409 and res.json()["error"]["code"] == "invalid_state"


class Crash(BaseException):
    """What SIGKILL leaves: nothing after the step runs (a BaseException no handler catches)."""


@pytest.mark.parametrize("step", ["complete-before-commit", "complete-after-commit-before-move"])
def test_a_crash_in_the_tickers_completion_leaves_a_consistent_state(scene, signer, monkeypatch, step):
    uid, asked = asked_while_away(scene, signer)
    lot = scene["lot"]
    signer["away"] = False

    def crash_point(name):
        if name == step:
            raise Crash(name)

    monkeypatch.setattr(submissions, "crash_point", crash_point)
    later = lot.bid_deadline + timedelta(minutes=1)
    with pytest.raises(Crash):
        run_due_timers(later)
    monkeypatch.undo()
    if step == "complete-before-commit":  # rolled back: still pending, bytes in place
        assert not BidSubmission.objects.exists()
        assert pending.is_pending(BidUpload.objects.get(pk=uid))
        assert storage.partial_path(uid).read_bytes() == scene["env"]
    else:  # committed, the file not moved yet
        sub = BidSubmission.objects.get()
        assert not storage.absolute(sub.path).exists() and storage.partial_path(uid).exists()
    run_due_timers(later + timedelta(minutes=1))  # the next round finishes it either way
    sub = BidSubmission.objects.get()
    assert sub.received_at == asked and storage.absolute(sub.path).read_bytes() == scene["env"]
    assert not storage.partial_path(uid).exists()
    verify_receipt(sub.receipt, platform_vkey(), envelope=io.BytesIO(scene["env"]))


def test_the_opening_waits_for_a_pending_completion_and_the_ticker_finishes_it(five, make_lot, bid_storage, signer):
    lot = make_lot(deadline_in=timedelta(hours=1))
    submit_bids(five, lot, BIDDERS[:4])
    erin = five["erin"]
    key, _ = certify(erin, five["host"])
    env = seal(lot, erin.organisation, key, bid_package(lot, erin.organisation, PRICES["erin"]))
    client = token_client(erin)
    upload(client, lot.pk, env, complete=False)
    uid = str(BidUpload.objects.get(organisation=erin.organisation).pk)
    asked = lot.bid_deadline - timedelta(minutes=3)
    signer["away"] = True
    with time_machine.travel(asked, tick=False):
        assert client.post(f"/api/v1/uploads/{uid}/complete").status_code == 503
    # The deadline passes with the HSM still away: the ticker keeps the upload and holds the opening.
    failed = []
    run_due_timers(lot.bid_deadline + timedelta(seconds=1), on_error=lambda name, exc: failed.append(name))
    assert "bidding.pending_completions" in failed  # the ticker tried, and alerts (SigningWatch)
    lot.refresh_from_db()
    assert lot.status == LotStatus.PUBLISHED and not OpeningBid.objects.exists()
    assert BidUpload.objects.get(pk=uid).status == "open" and storage.partial_path(uid).read_bytes() == env
    with pytest.raises(PlatformError) as err:
        pending.check_none_pending(lot)
    assert err.value.code == ErrorCode.COMPLETION_PENDING and err.value.http_status == 409
    # The HSM comes back, but the ticker's next attempt is not due yet: still held, alerted once.
    signer["away"] = False
    run_due_timers(lot.bid_deadline + timedelta(seconds=2))
    assert Lot.objects.get(pk=lot.pk).status == LotStatus.PUBLISHED
    [held] = entries("bidding.opening.completion_pending")
    assert held["code"] == "completion_pending" and held["uploads"] == [uid] and held["since"] == format_time(asked)
    assert classify("bidding.opening.completion_pending").level == "critical"
    # Its attempt comes: it completes erin's bid for her, and the same round opens with five bids.
    done_at = lot.bid_deadline + timedelta(minutes=2)
    run_due_timers(done_at)
    lot.refresh_from_db()
    assert lot.status == LotStatus.OPENING and OpeningBid.objects.count() == 5
    sub = BidSubmission.objects.get(organisation=erin.organisation)
    assert sub.submitted_by == erin and sub.received_at == asked
    body = verify_receipt(sub.receipt, platform_vkey(), envelope=io.BytesIO(env))
    assert body["received_at"] == format_time(asked)
    entry = json.loads(AuditEntry.objects.get(action="bidding.bid.submitted", object_id=str(sub.pk)).body)
    assert entry["data"]["requested_at"] == format_time(asked)
    assert entry["data"]["signed_at"] == format_time(done_at)
    assert entry["data"]["user_agent"].startswith("kaibiao-ticker") and entry["actor"]["id"] == erin.pk
    # Erin's client retries: the same submission and receipt.
    res = client.post(f"/api/v1/uploads/{uid}/complete")
    assert res.status_code == 200 and res.json()["id"] == str(sub.pk)


def test_an_upload_whose_lock_a_request_holds_at_the_deadline_is_left_and_the_opening_waits(scene, signer):
    """A ``complete`` begun before the deadline holds the upload's lock while it records its
    completion pending: the expiry must not void the upload under it (nor start the opening)."""
    lot = scene["lot"]
    upload(scene["alice"], lot.pk, scene["env"], complete=False)
    uid = str(BidUpload.objects.get(organisation=scene["org"]).pk)
    at = lot.bid_deadline + timedelta(seconds=1)
    with storage.locked(storage.partial_path(uid)):
        assert submissions.expire_uploads(at) == 0
        run_due_timers(at)
        assert BidUpload.objects.get(pk=uid).status == "open" and storage.partial_path(uid).exists()
        assert Lot.objects.get(pk=lot.pk).status == LotStatus.PUBLISHED
        with pytest.raises(PlatformError) as err:
            pending.check_none_pending(lot)
        assert err.value.code == ErrorCode.UPLOAD_BUSY
    assert not entries("bidding.opening.completion_pending")  # a moment, not an alert
    assert submissions.expire_uploads(at + timedelta(seconds=1)) == 1  # released, not pending: void
    assert not storage.partial_path(uid).exists()
    run_due_timers(at + timedelta(seconds=2))
    assert Lot.objects.get(pk=lot.pk).status == LotStatus.FAILED  # one bidder only: 流标, as before


def test_an_upload_marked_pending_by_editing_its_row_is_not_completed_after_the_deadline(scene, signer):
    """An insider sets the pending columns with SQL on a full upload nobody asked to complete: the
    log holds no such request, so neither the bidder's complete nor the ticker's accepts it."""
    from django.db import connection

    lot = scene["lot"]
    upload(scene["alice"], lot.pk, scene["env"], complete=False)
    uid = str(BidUpload.objects.get(organisation=scene["org"]).pk)
    with connection.cursor() as cur:
        cur.execute("UPDATE bidding_bidupload SET completion_requested_at = %s, completion_sha256 = %s, "
                    "completion_user_id = %s WHERE id = %s",
                    # The values in the database's own form (SQLite keeps times as text, UUIDs as bare hex).
                    [connection.ops.adapt_datetimefield_value(lot.bid_deadline - timedelta(minutes=1)),
                     hashlib.sha256(scene["env"]).hexdigest(), scene["user"].pk,
                     BidUpload._meta.pk.get_db_prep_value(BidUpload.objects.get(pk=uid).pk, connection)])
        assert cur.rowcount == 1
    with time_machine.travel(lot.bid_deadline + timedelta(minutes=1), tick=False):
        res = scene["alice"].post(f"/api/v1/uploads/{uid}/complete")
    assert res.status_code == 409 and res.json()["error"]["code"] == "invalid_state", res.content
    assert "audit log" in res.json()["error"]["message"]
    assert not BidSubmission.objects.exists() and BidUpload.objects.get(pk=uid).status == "refused"
    run_due_timers(lot.bid_deadline + timedelta(minutes=2))
    assert Lot.objects.get(pk=lot.pk).status == LotStatus.FAILED  # not held by the forged request


def test_the_real_token_pulled_out_over_the_deadline_loses_no_bid(on_token, softhsm_tokens, tmp_path, scene):
    """The same, tried by a failing machine: the platform's key on SoftHSM, its token directory
    moved away before the request and back after the deadline."""
    lot, uid = scene["lot"], None
    vkey = platform_vkey()  # read while the token is in
    upload(scene["alice"], lot.pk, scene["env"], complete=False)
    uid = str(BidUpload.objects.get(organisation=scene["org"]).pk)
    asked = lot.bid_deadline - timedelta(seconds=30)
    with pulled_out(softhsm_tokens, tmp_path):
        with time_machine.travel(asked, tick=False):
            res = scene["alice"].post(f"/api/v1/uploads/{uid}/complete")
        assert res.status_code == 503 and res.json()["error"]["code"] == "signing_unavailable"
        failed = []
        run_due_timers(lot.bid_deadline + timedelta(minutes=1), on_error=lambda name, exc: failed.append(name))
        assert "bidding.pending_completions" in failed
        assert BidUpload.objects.get(pk=uid).status == "open" and entries("bidding.bid.completion_pending")
        assert storage.partial_path(uid).read_bytes() == scene["env"]
    done_at = lot.bid_deadline + timedelta(minutes=3)
    run_due_timers(done_at)
    sub = BidSubmission.objects.get()
    body = verify_receipt(sub.receipt, vkey, envelope=io.BytesIO(scene["env"]))
    assert body["received_at"] == format_time(asked) and sub.received_at == asked
    entry = json.loads(AuditEntry.objects.get(action="bidding.bid.submitted").body)["data"]
    assert (entry["requested_at"], entry["signed_at"]) == (format_time(asked), format_time(done_at))


def test_a_request_made_stale_by_a_withdrawal_is_renewed_by_the_next_one(scene, signer, people):
    """Pending at T1; the bidder withdraws its earlier bid at T2 (its latest act: the request is
    stale); asks to complete again at T3, the HSM still away: pending again, since T3."""
    lot = scene["lot"]
    first = seal(lot, scene["org"], scene["key"], package(1, "FIRST"))
    with time_machine.travel(lot.bid_deadline - timedelta(minutes=50), tick=False):
        assert upload(scene["alice"], lot.pk, first).status_code == 201
    uid, asked = asked_while_away(scene, signer, minutes_before=30)
    signer["away"] = False
    with time_machine.travel(asked + timedelta(minutes=5), tick=False):
        assert scene["alice"].post(f"/api/v1/lots/{lot.pk}/bid/withdraw").status_code == 200
    assert not pending.is_pending(BidUpload.objects.get(pk=uid))
    signer["away"] = True
    again = asked + timedelta(minutes=10)
    with time_machine.travel(again, tick=False):
        assert scene["alice"].post(f"/api/v1/uploads/{uid}/complete").status_code == 503
    up = BidUpload.objects.get(pk=uid)
    assert pending.is_pending(up) and up.completion_requested_at == again
    signer["away"] = False
    run_due_timers(lot.bid_deadline + timedelta(minutes=1))
    sub = BidSubmission.objects.get(upload_id=uid)
    assert sub.status == "current" and sub.received_at == again
