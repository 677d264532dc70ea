"""The supervisors' recordings page (docs/media.md, "Recordings"): a tender's segments with the
audit entries of their span, in Beijing time; supervisors only; bad input is a clear 4xx."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded(tmp_path):
    from common.actor import Actor
    from evaluation.testing import build
    from realtime.recordings import seal_segments

    sc = build()
    folder = tmp_path / "hall-1"
    folder.mkdir()
    started = datetime(2026, 12, 3, 7, 0, 0, tzinfo=timezone.utc)  # 15:00:00 in Beijing
    us = int(started.timestamp() * 1_000_000)
    (folder / f"videoroom-hall-1-user-u9-abc-{us}-video.mjr").write_bytes(b"MJR00002" + b"\0" * 64)
    seal_segments(folder, "hall-1", room_key=f"hall:{sc.lot.pk}", tender_id=sc.lot.pk, actor=Actor.system("media"),
                  now=started + timedelta(minutes=5))
    return sc


def test_a_supervisor_sees_the_segments_and_the_entries_of_the_same_span(client, recorded):
    sc = recorded
    client.force_login(sc.supervisor)
    page = client.get(f"/console/recordings/?tender={sc.lot.pk}", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    html = page.content.decode()
    assert "录像回放" in html and "2026年12月03日 15:00:00" in html  # Beijing time
    assert f"/api/v1/audit/recordings/" in html and 'data-kind="video"' in html
    assert "realtime.media.recording_closed" in html  # its own sealing entry is in the span
    listing = client.get("/console/recordings/")
    assert listing.status_code == 200 and str(sc.lot) in listing.content.decode()


def test_only_supervisors_and_clear_errors(client, recorded):
    sc = recorded
    client.force_login(next(iter(sc.bidder_users.values())))
    assert client.get(f"/console/recordings/?tender={sc.lot.pk}").status_code == 403
    client.force_login(sc.supervisor)
    assert client.get("/console/recordings/?tender=abc").status_code == 400
    assert client.get("/console/recordings/?tender=99999999999999999999").status_code == 400
    assert client.get("/console/recordings/?tender=987654").status_code == 404
    client.logout()
    assert client.get("/console/recordings/").status_code == 302  # to the sign-in page
