"""A PATCH sent while the body before it is still being written (docs/api.md, "Resumable uploads"):
it waits for its turn instead of being refused, is then written exactly where it belongs, and is
refused as before when its turn does not come (the body before never arrives), when it starts
further ahead than one chunk, or when the waiting is turned off."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from django.db import connection

from bidding import storage, submissions
from bidding.models import BidUpload
from common import clock
from common.actor import Actor
from common.errors import PlatformError
from tests.bidding.conftest import certify, patch, seal, token_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_hashing")]


@pytest.fixture
def open_upload(people, make_lot, bid_storage):
    lot = make_lot(max_bid_bytes=4 * 2**20)
    key, _ = certify(people["alice"], people["host"])
    env = seal(lot, people["alice"].organisation, key, os.urandom(200_000))
    client = token_client(people["alice"])
    uid = client.post(f"/api/v1/lots/{lot.pk}/uploads", data=json.dumps({"size": len(env)}),
                      content_type="application/json").json()["id"]
    return {"user": people["alice"], "client": client, "uid": uid, "env": env}


def _write(u, offset: int, piece: bytes, read=None):
    """``write_chunk`` in a thread of its own (its own database connection), as a request runs."""
    out = {}

    def run():
        try:
            out["upload"] = submissions.write_chunk(
                u["user"], Actor.of(u["user"]), u["uid"], offset=offset, length=len(piece),
                read=read or _reader(piece), now=clock.now())
        except PlatformError as exc:
            out["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def _reader(data: bytes):
    view = memoryview(data)
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        piece = bytes(view[pos:pos + n])
        pos += len(piece)
        return piece
    return read


def test_the_next_body_waits_for_the_one_being_written_and_lands_after_it(open_upload, settings):
    settings.BID_UPLOAD_NEXT_WAIT_SECONDS = 10
    u, env = open_upload, open_upload["env"]
    cut = 70_000
    gate, started = threading.Event(), threading.Event()
    first_read = _reader(env[:cut])

    def slow_read(n):
        started.set()
        gate.wait(10)  # the first body is still arriving on disk (its fsync is slow, say)
        return first_read(n)

    first, first_out = _write(u, 0, env[:cut], slow_read)
    assert started.wait(10)
    second, second_out = _write(u, cut, env[cut:])
    time.sleep(0.3)
    assert second.is_alive(), "the next body was answered before the one before it was written"
    gate.set()
    first.join(10)
    second.join(10)
    assert "error" not in first_out and "error" not in second_out, (first_out, second_out)
    assert second_out["upload"].offset == len(env)
    assert storage.partial_path(u["uid"]).read_bytes() == env
    res = u["client"].post(f"/api/v1/uploads/{u['uid']}/complete")
    assert res.status_code == 201, res.content


def test_the_next_body_waits_even_before_the_one_before_has_its_lock(open_upload, settings):
    """The next body's request gets to the upload first (the one before is still being
    authenticated, say): it waits for the offset, not only for the lock, and lands after it."""
    settings.BID_UPLOAD_NEXT_WAIT_SECONDS = 10
    u, env = open_upload, open_upload["env"]
    cut = 50_000
    second, second_out = _write(u, cut, env[cut:])
    time.sleep(0.3)
    assert second.is_alive()
    first, first_out = _write(u, 0, env[:cut])
    first.join(10)
    second.join(10)
    assert "error" not in first_out and "error" not in second_out, (first_out, second_out)
    assert storage.partial_path(u["uid"]).read_bytes() == env


def test_the_next_body_is_refused_when_the_one_before_never_comes(open_upload, settings):
    settings.BID_UPLOAD_NEXT_WAIT_SECONDS = 0.3
    u = open_upload
    t0 = time.monotonic()
    res = patch(u["client"], u["uid"], 1000, u["env"][1000:2000])
    assert 0.3 <= time.monotonic() - t0 < 5
    assert res.status_code == 409 and res.json()["error"]["code"] == "upload_offset_mismatch"
    assert res.json()["error"]["details"]["offset"] == 0
    assert BidUpload.objects.get(pk=u["uid"]).offset == 0
    assert storage.partial_path(u["uid"]).read_bytes() == b""


def test_a_body_whose_turn_does_not_come_in_time_is_answered_busy(open_upload, settings):
    """The lock stays held past the wait (a writer stuck on its disk): ``upload_busy``, nothing
    written, after the wait and not before."""
    settings.BID_UPLOAD_NEXT_WAIT_SECONDS = 0.5
    u = open_upload
    with storage.locked(storage.partial_path(u["uid"])):
        t0 = time.monotonic()
        res = patch(u["client"], u["uid"], 0, u["env"][:1000])
        waited = time.monotonic() - t0
    assert res.status_code == 409 and res.json()["error"]["code"] == "upload_busy"
    assert 0.5 <= waited < 5
    assert storage.partial_path(u["uid"]).read_bytes() == b""
    assert patch(u["client"], u["uid"], 0, u["env"][:1000]).status_code == 200


@pytest.mark.parametrize("wait", [0, 10])
def test_a_body_further_ahead_or_behind_is_refused_at_once(open_upload, settings, wait):
    settings.BID_UPLOAD_NEXT_WAIT_SECONDS = wait
    settings.BID_UPLOAD_MAX_CHUNK_BYTES = 50_000
    u, env = open_upload, open_upload["env"]
    assert patch(u["client"], u["uid"], 0, env[:40_000]).status_code == 200
    # More than one chunk ahead: no body being written can end there. Behind: stale. And, with
    # the waiting off, one chunk ahead too — even while a body is being written.
    offsets = [40_000 + 50_001, 39_999, 0] + ([40_000 + 10_000] if wait == 0 else [])
    with storage.locked(storage.partial_path(u["uid"])):
        for offset in offsets:
            t0 = time.monotonic()
            res = patch(u["client"], u["uid"], offset, env[offset:offset + 100])
            assert time.monotonic() - t0 < 2
            assert res.status_code == 409 and res.json()["error"]["code"] == "upload_offset_mismatch", offset
            assert res.json()["error"]["details"]["offset"] == 40_000
    assert storage.partial_path(u["uid"]).read_bytes() == env[:40_000]
