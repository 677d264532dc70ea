"""Crash recovery of uploads without a server to kill (the kill -9 loop is
tests/sealbid/test_crash_resume.py): ``complete`` is idempotent and finishes a move a crash
interrupted; an upload whose bytes are gone says so with ``upload_lost``; ``sweep_uploads`` finds
and repairs each kind of leftover, audited, and ``--dry-run`` changes nothing."""

from __future__ import annotations

import io
import json
import os
import time
import uuid

import pytest
from django.core.management import call_command

from audit.models import AuditEntry
from bidding import storage
from bidding.models import BidSubmission, BidUpload
from bidding.sweep import sweep
from common import clock
from tests.bidding.conftest import certify, package, patch, seal, stored_files, token_client, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]


@pytest.fixture
def scene(people, make_lot, bid_storage):
    lot = make_lot()
    key, _ = certify(people["alice"], people["host"])
    return {"lot": lot, "key": key, "alice": token_client(people["alice"]),
            "org": people["alice"].organisation, "root": bid_storage}


def submitted(scene, marker="A"):
    env = seal(scene["lot"], scene["org"], scene["key"], package(100, marker))
    res = upload(scene["alice"], scene["lot"].pk, env)
    assert res.status_code == 201, res.content
    return BidSubmission.objects.get(pk=res.json()["id"]), env


def unplace(sub):
    """What a kill between the commit and the move leaves: the row, the bytes still partial."""
    os.replace(storage.absolute(sub.path), storage.partial_path(sub.upload_id))


def swept(kind):
    bodies = [json.loads(e.body) for e in AuditEntry.objects.filter(action="bidding.storage.swept")]
    return [b["data"] for b in bodies if b["data"]["kind"] == kind]


def test_complete_again_returns_the_same_submission_and_finishes_the_move(scene):
    sub, env = submitted(scene)
    unplace(sub)
    res = scene["alice"].post(f"/api/v1/uploads/{sub.upload_id}/complete")
    assert res.status_code == 200, res.content
    assert res.json()["id"] == str(sub.pk) and res.json()["receipt"] == sub.receipt
    assert storage.absolute(sub.path).read_bytes() == env
    assert not storage.partial_path(sub.upload_id).exists()
    # And again: the same answer, nothing new recorded.
    assert scene["alice"].post(f"/api/v1/uploads/{sub.upload_id}/complete").json()["id"] == str(sub.pk)
    assert BidSubmission.objects.count() == 1


def test_a_partial_file_that_is_not_the_receipted_one_is_not_moved(scene):
    sub, env = submitted(scene)
    unplace(sub)
    with open(storage.partial_path(sub.upload_id), "r+b") as f:
        f.seek(100)
        f.write(b"\xff")
    res = scene["alice"].post(f"/api/v1/uploads/{sub.upload_id}/complete")
    assert res.status_code == 500 and res.json()["error"]["code"] == "internal_error"
    assert not storage.absolute(sub.path).exists()  # left where it is, for the operator


def test_an_upload_whose_bytes_are_gone_says_start_again(scene):
    env = seal(scene["lot"], scene["org"], scene["key"], package(100, "A"))
    res = upload(scene["alice"], scene["lot"].pk, env, complete=False)
    uid = res.json()["id"]
    storage.partial_path(uid).unlink()
    res = scene["alice"].post(f"/api/v1/uploads/{uid}/complete")
    assert res.status_code == 409 and res.json()["error"]["code"] == "upload_lost", res.content
    res = scene["alice"].post(f"/api/v1/lots/{scene['lot'].pk}/uploads", data={"size": len(env)},
                              content_type="application/json")
    uid = res.json()["id"]
    assert patch(scene["alice"], uid, 0, env[:len(env) // 2]).status_code == 200
    storage.partial_path(uid).unlink()
    res = patch(scene["alice"], uid, len(env) // 2, env[len(env) // 2:])
    assert res.status_code == 409 and res.json()["error"]["code"] == "upload_lost", res.content


def test_the_sweeper_repairs_every_kind_of_leftover_and_audits_it(scene):
    placed, env = submitted(scene, "PLACED")
    unplace(placed)
    lost, _ = submitted(scene, "LOST")
    storage.absolute(lost.path).unlink()
    # An open upload whose bytes are gone; an aborted one whose bytes stayed.
    res = upload(scene["alice"], scene["lot"].pk, b"x" * 10, complete=False)
    gone = BidUpload.objects.get(pk=res.json()["id"])
    storage.partial_path(gone.pk).unlink()
    res = upload(scene["alice"], scene["lot"].pk, b"y" * 10, complete=False)
    aborted = BidUpload.objects.get(pk=res.json()["id"])
    BidUpload.objects.filter(pk=aborted.pk).update(status=BidUpload.Status.ABORTED)
    # A partial file without a row (old, and young: the young one may be a transaction in flight).
    old_orphan = storage.partial_path(uuid.uuid4())
    old_orphan.write_bytes(b"orphan")
    past = time.time() - 3600
    os.utime(old_orphan, (past, past))
    young_orphan = storage.partial_path(uuid.uuid4())
    young_orphan.write_bytes(b"young")
    # An envelope under a final name with no row (an older version moved before committing).
    orphan_file = storage.absolute(storage.final_relpath(scene["lot"].pk, scene["org"].pk, uuid.uuid4()))
    orphan_file.write_bytes(env)
    before = stored_files(scene["root"])

    report = sweep(clock.now(), repair=False)
    assert stored_files(scene["root"]) == before  # a dry run changes nothing
    assert BidUpload.objects.get(pk=gone.pk).status == BidUpload.Status.OPEN
    kinds = sorted(f.kind for f in report.findings)
    assert kinds == ["lost_upload", "missing_file", "orphan_file", "orphan_partial",
                     "placement_finished", "stale_partial"], kinds

    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("sweep_uploads", stdout=out)
    assert exit_.value.code == 1  # the lost submission cannot be repaired: the operator is told
    assert "missing_file" in out.getvalue() and "MISSING" in out.getvalue()
    assert storage.absolute(placed.path).read_bytes() == env
    assert not orphan_file.exists() and not old_orphan.exists() and young_orphan.exists()
    assert not storage.partial_path(aborted.pk).exists()
    assert BidUpload.objects.get(pk=gone.pk).status == BidUpload.Status.ABORTED
    assert swept("placement_finished")[0]["submission"] == str(placed.pk)
    assert swept("orphan_file")[0]["sha256"] == storage.sha256_of(storage.absolute(placed.path))[0]
    assert {k for k in ("orphan_partial", "stale_partial", "lost_upload") if swept(k)} == {
        "orphan_partial", "stale_partial", "lost_upload"}
    # Run again: only the unrepairable finding remains.
    assert [f.kind for f in sweep(clock.now()).findings] == ["missing_file"]


def test_the_deadline_finishes_a_move_before_counting_the_bids(scene):
    from bidding.submissions import expire_uploads

    sub, env = submitted(scene)
    unplace(sub)
    expire_uploads(clock.now())
    assert storage.absolute(sub.path).read_bytes() == env
    assert swept("placement_finished")
