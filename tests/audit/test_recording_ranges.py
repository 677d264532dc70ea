"""A recording is served with byte ranges (docs/media.md, "Recordings"; RFC 9110 §14), so the
supervisors' player seeks without loading the whole segment — and the access check still applies to
every range."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from common.http_range import parse_range

pytestmark = pytest.mark.django_db

SIZE = 1000


@pytest.mark.parametrize("header, expected", [
    ("bytes=0-99", (0, 99)),
    ("bytes=900-", (900, 999)),
    ("bytes=-100", (900, 999)),
    ("bytes=-5000", (0, 999)),      # a suffix longer than the file: all of it
    ("bytes=990-5000", (990, 999)),  # a last byte past the end: up to the end
    ("bytes=1000-", "unsatisfiable"),
    ("bytes=-0", "unsatisfiable"),
    ("bytes=5-1", None),            # invalid: ignored
    ("bytes=0-1,5-6", None),        # several ranges: the whole file
    ("items=0-1", None),            # another unit
    ("bytes=-", None), ("bytes=a-b", None), ("", None),
])
def test_range_headers(header, expected):
    assert parse_range(header, SIZE) == expected


def test_an_empty_file_satisfies_no_range():
    assert parse_range("bytes=0-", 0) == "unsatisfiable" and parse_range("bytes=-1", 0) == "unsatisfiable"


@pytest.fixture
def segment(tmp_path):
    from evaluation.testing import build
    from realtime.models import MediaSegment

    sc = build()
    played = tmp_path / "segment.webm"
    played.write_bytes(bytes(range(256)) * 40)  # 10,240 bytes
    row = MediaSegment.objects.create(
        tender_id=sc.lot.pk, media_room="hall-1", room_key=f"hall:{sc.lot.pk}", kind="video", name="seg.mjr",
        sha256=hashlib.sha256(b"raw").hexdigest(), size=3, location=str(tmp_path / "seg.mjr"),
        converted=str(played), closed_at=datetime(2026, 12, 3, 7, 5, tzinfo=timezone.utc))
    return sc, row, played.read_bytes()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_player_seeks_with_a_range(client, segment):
    sc, row, data = segment
    client.force_login(sc.supervisor)
    url = f"/api/v1/audit/recordings/{row.pk}/media"
    whole = client.get(url)
    assert whole.status_code == 200 and body(whole) == data and whole["Accept-Ranges"] == "bytes"
    etag = whole["ETag"]
    part = client.get(url, HTTP_RANGE="bytes=5000-")
    assert part.status_code == 206 and body(part) == data[5000:]
    assert part["Content-Range"] == f"bytes 5000-{len(data) - 1}/{len(data)}"
    assert part["Content-Length"] == str(len(data) - 5000) and part["Content-Type"] == "video/webm"
    tail = client.get(url, HTTP_RANGE="bytes=-16")
    assert tail.status_code == 206 and body(tail) == data[-16:]
    same = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert same.status_code == 206 and body(same) == data[:10]
    changed = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"another-version"')
    assert changed.status_code == 200 and body(changed) == data
    past = client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(data)}"


def test_a_range_does_not_bypass_the_access_check(client, segment):
    sc, row, _ = segment
    client.force_login(next(iter(sc.bidder_users.values())))
    response = client.get(f"/api/v1/audit/recordings/{row.pk}/media", HTTP_RANGE="bytes=0-9")
    assert response.status_code == 403 and response.json()["error"]["code"]
