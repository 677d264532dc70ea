"""Sealing recordings (docs/media.md, "Recordings"): each closed segment's SHA-256 goes into the
audit log with the tender and its storage location, once; open files and foreign files are left
alone; a file changed afterwards no longer matches its entry. The files here are written by the
test in Janus's naming; the browser suite records real ones (tests/e2e/test_media.py)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from django.db import transaction

from common import clock
from common.actor import Actor
from realtime.models import MediaSegment
from realtime.recordings import parse_name, seal_segments

pytestmark = pytest.mark.django_db(transaction=True)


def entries(action="realtime.media.recording_closed"):
    from audit.models import AuditEntry

    return [(e.tender_id, e.room, json.loads(e.body)["data"])
            for e in AuditEntry.objects.filter(action=action).order_by("index")]


def write(folder, name, data: bytes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_it_reads_janus_names_and_nothing_else():
    assert parse_name("videoroom-eval-12-user-p7-1733230000123456-video-1.mjr") == {
        "room": "eval-12", "feed": "p7", "us": "1733230000123456", "kind": "video", "mid": "1"}
    assert parse_name("videoroom-hall-3-user-42-1733230000123456-audio.mjr")["feed"] == "42"
    for bad in ("videoroom-eval-12-user-p7-1733230000123456-video.mjr.tmp", "notes.txt",
                "videoroom-../x-user-1-1733230000123456-audio.mjr", "videoroom-eval-12-user-1-12-audio.mjr"):
        assert parse_name(bad) is None, bad


def test_each_closed_segment_is_hashed_into_the_audit_log_once(tmp_path):
    folder = tmp_path / "eval-5"
    a = write(folder, "videoroom-eval-5-user-p1-1733230000000000-audio-0.mjr", b"MJR00002" + os.urandom(3000))
    v = write(folder, "videoroom-eval-5-user-p1-1733230000000000-video-1.mjr", b"MJR00002" + os.urandom(9000))
    write(folder, "videoroom-eval-5-user-p2-1733230001000000-video-1.mjr", b"still being written")
    write(folder, "videoroom-eval-6-user-p3-1733230001000000-video-1.mjr", b"another room's file")
    write(folder, "README", b"not a recording")
    actor, now = Actor.system("tests"), clock.now()
    made = seal_segments(folder, "eval-5", room_key="venue:5:1", tender_id=77, actor=actor, now=now,
                         still_open={"p2"})
    assert sorted(m.sha256 for m in made) == sorted([a, v])
    logged = entries()
    assert [(t, r) for t, r, _ in logged] == [(77, "venue:5:1")] * 2
    assert {d["sha256"] for _, _, d in logged} == {a, v}
    assert all(d["location"].startswith(str(folder)) and d["bytes"] > 3000 for _, _, d in logged)
    assert {d["kind"] for _, _, d in logged} == {"audio", "video"}

    # Again, with p2 gone: only its file is new; nothing is sealed twice.
    again = seal_segments(folder, "eval-5", room_key="venue:5:1", tender_id=77, actor=actor, now=now)
    assert [m.name for m in again] == ["videoroom-eval-5-user-p2-1733230001000000-video-1.mjr"]
    assert len(entries()) == 3 and MediaSegment.objects.filter(media_room="eval-5").count() == 3
    assert seal_segments(folder, "eval-5", room_key="venue:5:1", tender_id=77, actor=actor, now=now) == []

    # "Everything may be open" (the media server did not answer): nothing is hashed.
    write(folder, "videoroom-eval-5-user-p9-1733230002000000-audio-0.mjr", b"x")
    assert seal_segments(folder, "eval-5", room_key="venue:5:1", tender_id=77, actor=actor, now=now,
                         still_open={"*"}) == []


def test_a_segment_changed_after_sealing_no_longer_matches_its_entry(tmp_path):
    folder = tmp_path / "hall-9"
    write(folder, "videoroom-hall-9-user-host-1733230000000000-video-1.mjr", b"MJR00002" + b"\x01" * 5000)
    (row,) = seal_segments(folder, "hall-9", room_key="hall:9", tender_id=9, actor=Actor.system("tests"),
                           now=clock.now())
    path = folder / row.name
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    (_, _, logged), = entries()
    assert hashlib.sha256(path.read_bytes()).hexdigest() != logged["sha256"]
    # Re-sealing does not paper over it: the name is sealed already.
    assert seal_segments(folder, "hall-9", room_key="hall:9", tender_id=9, actor=Actor.system("tests"),
                         now=clock.now()) == []


def test_the_evaluation_being_done_seals_its_room_after_the_commit(tmp_path, settings):
    from evaluation.actions import close_session_media
    from evaluation.testing import build
    from evaluation.workflow import Call

    settings.MEDIA_RECORDINGS_DIR = tmp_path
    settings.MEDIA_JANUS_WS = ""  # no media server: the closed files are sealed all the same
    sc = build()
    digest = write(tmp_path / f"eval-{sc.session.pk}",
                   f"videoroom-eval-{sc.session.pk}-user-p1-1733230000000000-video-1.mjr", b"MJR" * 100)
    call = Call(user=sc.host, role="main_staff", actor=Actor.of(sc.host), now=clock.now())
    with transaction.atomic():
        close_session_media(sc.session, call)
        assert entries() == []  # not before the commit
    ((tender, room, data),) = entries()
    assert tender == sc.lot.pk and room == f"venue:{sc.session.pk}:{sc.venues[0].pk}"
    assert data["sha256"] == digest and data["media_room"] == f"eval-{sc.session.pk}"


def test_the_opening_ending_seals_the_halls_room_after_the_commit(tmp_path, settings):
    from bidding.opening.moves import close_hall_media

    settings.MEDIA_RECORDINGS_DIR = tmp_path
    settings.MEDIA_JANUS_WS = ""
    digest = write(tmp_path / "hall-31", "videoroom-hall-31-user-host-1733230000000000-audio-0.mjr", b"MJR" * 10)
    with transaction.atomic():
        close_hall_media(31, actor=Actor.system("tests"), now=clock.now())
    ((tender, room, data),) = entries()
    assert (tender, room, data["sha256"]) == (31, "hall:31", digest)


class FakeJanus:
    """The patrol's view of Janus: the room's participants as ``listparticipants`` returns them."""

    def __init__(self, participants, exists=True):
        self.list, self.exists, self.kicked = participants, exists, []

    def request(self, body):
        assert body["request"] == "exists"
        return {"exists": self.exists}

    def participants(self, room):
        return [p for p in self.list if p["id"] not in self.kicked]

    def kick(self, room, pid):
        present = pid not in self.kicked  # as Janus: a second kick of the same id finds nobody
        self.kicked.append(pid)
        return present


def test_the_patrol_removes_senders_the_platform_did_not_grant_and_seals_who_left(tmp_path, settings):
    from crypto.media_tokens import feed_id
    from realtime.media_patrol import patrol_room

    settings.MEDIA_TOKEN_SECRET, settings.MEDIA_RECORDINGS_DIR = "patrol-secret", tmp_path
    granted = feed_id("patrol-secret", room="hall-4", user=3)
    other_room = feed_id("patrol-secret", room="hall-5", user=3)  # a real id, for another room
    forged = feed_id("someone-elses-secret", room="hall-4", user=3)
    fake = FakeJanus([{"id": granted, "publisher": True, "display": "host"},
                      {"id": other_room, "publisher": True, "display": "copied"},
                      {"id": forged, "publisher": True, "display": "forged"},
                      {"id": "watcher-x", "publisher": False, "display": "watcher"},
                      {"id": "u3", "publisher": True, "display": "no mac"}])
    left = write(tmp_path / "hall-4", "videoroom-hall-4-user-u9-aaaa-1733230000000000-video-1.mjr", b"gone")
    write(tmp_path / "hall-4", f"videoroom-hall-4-user-{granted}-1733230000000000-video-1.mjr", b"open")
    done = patrol_room(fake, "hall-4", room_key="hall:4", tender_id=4, now=clock.now())
    assert sorted(done["removed"]) == sorted([other_room, forged, "u3"]) and fake.kicked == done["removed"]
    removed = entries("realtime.media.sender_removed")
    assert sorted(d["feed"] for _, _, d in removed) == sorted(done["removed"])
    assert {(t, r) for t, r, _ in removed} == {(4, "hall:4")}
    assert done["sealed"] == 1 and [d["sha256"] for _, _, d in entries()] == [left]  # the host's file is open
    assert patrol_room(FakeJanus([], exists=False), "hall-4", room_key="hall:4", tender_id=4,
                       now=clock.now())["exists"] is False


def test_a_granted_feed_id_verifies_only_for_its_room_and_user():
    from crypto.media_tokens import check_feed_id, feed_id

    f = feed_id("s", room="eval-1", user=12)
    assert check_feed_id("s", room="eval-1", feed=f)
    assert not check_feed_id("s", room="eval-2", feed=f)
    assert not check_feed_id("t", room="eval-1", feed=f)
    assert not check_feed_id("s", room="eval-1", feed=f.replace("u12-", "u13-"))
    for bad in ("", "u", "u-", "12-abc", None, 7, f + "0"):
        assert not check_feed_id("s", room="eval-1", feed=bad)
