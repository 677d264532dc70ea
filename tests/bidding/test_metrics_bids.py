"""Upload bytes and refusals, and failed decryptions, are counted where the platform writes and
refuses them (common/metrics.py)."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest

from common import metrics
from tests.bidding.conftest import certify, patch, seal, token_client
from tests.bidding.test_opening_support import five, hall  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]


def test_written_bytes_and_refused_requests_are_counted(people, make_lot, bid_storage):
    lot = make_lot(max_bid_bytes=4 * 2**20)
    key, _ = certify(people["alice"], people["host"])
    alice = token_client(people["alice"])
    env = seal(lot, people["alice"].organisation, key, os.urandom(200_000))
    written = metrics.UPLOAD_BYTES._value.get()
    mismatch = metrics.UPLOAD_FAILURES.labels("upload_offset_mismatch")._value.get()
    incomplete = metrics.UPLOAD_FAILURES.labels("upload_incomplete")._value.get()
    uid = alice.post(f"/api/v1/lots/{lot.pk}/uploads", data=json.dumps({"size": len(env)}),
                     content_type="application/json").json()["id"]
    half = len(env) // 2
    assert patch(alice, uid, 0, env[:half]).status_code == 200
    assert metrics.UPLOAD_BYTES._value.get() == written + half
    assert patch(alice, uid, 0, env[:1000]).status_code == 409  # a stale offset: nothing written
    assert alice.post(f"/api/v1/uploads/{uid}/complete").status_code == 409
    assert metrics.UPLOAD_BYTES._value.get() == written + half
    assert metrics.UPLOAD_FAILURES.labels("upload_offset_mismatch")._value.get() == mismatch + 1
    assert metrics.UPLOAD_FAILURES.labels("upload_incomplete")._value.get() == incomplete + 1
    assert patch(alice, uid, half, env[half:]).status_code == 200
    assert alice.post(f"/api/v1/uploads/{uid}/complete").status_code == 201
    assert metrics.UPLOAD_BYTES._value.get() == written + len(env)


@pytest.mark.usefixtures("bid_storage")
def test_a_failed_decryption_is_counted_once_committed(hall, django_capture_on_commit_callbacks):
    import base64

    from common.errors import PlatformError
    from tests.bidding.test_opening_actions import release, to_deadline

    _, now = to_deadline(hall)
    failures = metrics.DECRYPTION_FAILURES.labels("invalid_file_key", "bidder")
    before = failures._value.get()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(PlatformError):
            release(hall, "bob", now + timedelta(minutes=1), key=base64.b64encode(b"\x01" * 32).decode())
    assert failures._value.get() == before + 1
    with django_capture_on_commit_callbacks(execute=True):
        release(hall, "bob", now + timedelta(minutes=1))  # the right key: nothing more counted
    assert failures._value.get() == before + 1
