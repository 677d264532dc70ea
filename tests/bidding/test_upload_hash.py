"""The server's running SHA-256 of an open upload (bidding/upload_hash.py, issue 22): ``complete``
takes what the PATCHes hashed as they wrote and reads back only what they did not cover; pieces
written by another process are caught up from the file; an entry left by a request that died
before its offset was committed is dropped; and the receipt's SHA-256 is the stored file's in
every case, whatever the client announced."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from bidding import storage, upload_hash
from bidding.models import BidSubmission
from tests.bidding.conftest import certify, patch, seal, token_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]


@pytest.fixture
def started(people, make_lot, bid_storage):
    lot = make_lot(max_bid_bytes=4 * 2**20)
    key, _ = certify(people["alice"], people["host"])
    env = seal(lot, people["alice"].organisation, key, os.urandom(600_000))
    client = token_client(people["alice"])
    uid = client.post(f"/api/v1/lots/{lot.pk}/uploads", data=json.dumps({"size": len(env)}),
                      content_type="application/json").json()["id"]
    upload_hash._running.clear()
    yield {"client": client, "uid": uid, "env": env, "cuts": [0, len(env) // 3, 2 * len(env) // 3, len(env)]}
    upload_hash._running.clear()


def _send(s, pieces):
    for a, b in pieces:
        assert patch(s["client"], s["uid"], a, s["env"][a:b]).status_code == 200


def _complete(s):
    res = s["client"].post(f"/api/v1/uploads/{s['uid']}/complete")
    assert res.status_code == 201, res.content
    submission = BidSubmission.objects.get(pk=res.json()["id"])
    assert submission.sha256 == res.json()["sha256"] == hashlib.sha256(s["env"]).hexdigest()
    assert storage.absolute(submission.path).read_bytes() == s["env"]
    return submission


def _reads(monkeypatch):
    """The bytes ``upload_hash`` reads back from upload files."""
    read = []
    real = os.pread

    def counting(fd, n, at):
        piece = real(fd, n, at)
        read.append(len(piece))
        return piece
    monkeypatch.setattr(upload_hash.os, "pread", counting)
    return read


def test_complete_uses_the_hash_the_patches_made_and_reads_nothing_back(started, monkeypatch):
    s, c = started, started["cuts"]
    read = _reads(monkeypatch)
    _send(s, zip(c, c[1:]))
    offset, _ = upload_hash._running[s["uid"]]
    assert offset == len(s["env"])
    _complete(s)
    assert sum(read) == 0
    assert s["uid"] not in upload_hash._running  # taken by complete


def test_pieces_another_process_wrote_are_caught_up_from_the_file(started, monkeypatch):
    s, c = started, started["cuts"]
    read = _reads(monkeypatch)
    _send(s, [(c[0], c[1])])
    kept = upload_hash._running.pop(s["uid"])  # the next piece lands on the other process, ...
    _send(s, [(c[1], c[2])])
    assert sum(read) == c[1]  # ... which reads the first one back (it has no entry yet)
    upload_hash._running.pop(s["uid"])  # (its entry is its own)
    upload_hash.keep(s["uid"], *kept)
    read.clear()
    _send(s, [(c[2], c[3])])  # back here: only the middle piece is read from the file first
    assert sum(read) == c[2] - c[1]
    _complete(s)


def test_an_entry_past_the_durable_offset_is_dropped(started, monkeypatch):
    s, c = started, started["cuts"]
    _send(s, [(c[0], c[1])])
    # A request that hashed bytes and died before its offset was committed (its bytes are cut).
    bogus = hashlib.sha256(s["env"][:c[1]] + b"x" * 100)
    upload_hash.keep(s["uid"], c[1] + 100, bogus)
    _send(s, [(c[1], c[2]), (c[2], c[3])])
    _complete(s)


def test_with_no_entry_complete_reads_the_whole_file(started, monkeypatch):
    s, c = started, started["cuts"]
    _send(s, zip(c, c[1:]))
    upload_hash._running.clear()  # a restart, or complete on another process
    read = _reads(monkeypatch)
    _complete(s)
    assert sum(read) == len(s["env"])


def test_a_process_far_behind_stops_keeping_a_hash(started, monkeypatch):
    s, c = started, started["cuts"]
    monkeypatch.setattr(upload_hash, "CATCH_UP_BYTES", 1000)
    _send(s, [(c[0], c[1])])
    upload_hash._running.clear()
    read = _reads(monkeypatch)
    _send(s, [(c[1], c[2])])  # would have to read c[1] bytes back first: it does not
    assert sum(read) == 0 and s["uid"] not in upload_hash._running
    _send(s, [(c[2], c[3])])
    _complete(s)


def test_the_store_keeps_a_bounded_number_of_uploads(monkeypatch):
    monkeypatch.setattr(upload_hash, "KEEP", 3)
    upload_hash._running.clear()
    for n in range(5):
        upload_hash.keep(f"u{n}", n, hashlib.sha256())
    assert list(upload_hash._running) == ["u2", "u3", "u4"]
    upload_hash._running.clear()
