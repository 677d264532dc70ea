"""The hall's media (docs/media.md): the host sends, bidders and supervisors watch, until the opening
ends; and the 唱标 read aloud from the published announcement only (espeak-ng)."""

from __future__ import annotations

import pytest
from django.test import Client

from bidding.models_opening import Opening
from bidding.opening.hall import HallRoom
from bidding.opening.speech import announcement_text, money_words
from common import clock
from common.errors import PlatformError
from tests.bidding.test_opening_support import five, hall  # noqa: F401
from tests.conftest import need_tool

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(fast_hashing):
    """Autouse, so the cheap hasher is set before the people are made."""


def opening(lot, phase="announced", announcement=None) -> Opening:
    now = clock.now()
    return Opening.objects.create(lot=lot, phase=phase, announcement=announcement, created_at=now, updated_at=now)


def test_the_host_sends_and_everyone_else_in_the_hall_watches(hall):
    people, lot, kind = hall["people"], hall["lot"], HallRoom()
    key = f"hall:{lot.pk}"
    host = kind.media_grant(people["host"], key, "host")
    assert (host.room, host.publish, host.tender_id) == (f"hall-{lot.pk}", True, lot.pk)
    for who, role in (("alice", "bidder"), ("supervisor", "supervisor")):
        grant = kind.media_grant(people[who], key, role)
        assert grant.room == host.room and grant.publish is False
        assert grant.display == "watcher"  # nothing of a bidder reaches the others (招标投标法 22)
    op = opening(lot, phase="closed")
    with pytest.raises(PlatformError) as info:
        kind.media_grant(people["host"], key, "host")
    assert info.value.code == "invalid_state"
    op.phase = "failed"
    op.save(update_fields=["phase"])
    with pytest.raises(PlatformError):
        kind.media_grant(people["alice"], key, "bidder")


ANNOUNCEMENT = [
    {"org": "1", "name": "甲建设有限公司", "status": "decrypted", "fields": [
        {"key": "price", "label": "投标报价", "value": 123456789, "shown": "1,234,567.89", "unit": "元"},
        {"key": "duration", "label": "工期", "value": 180, "shown": "180", "unit": "日历天"}]},
    {"org": "2", "name": "乙路桥有限公司", "status": "revoked", "fields": []},
]


def test_the_announcement_is_read_as_it_is_published():
    assert money_words(100_000_000) == "1000000元整"
    assert money_words(123456789) == "1234567元8角9分"
    assert money_words(105) == "1元零5分"
    assert money_words(150) == "1元5角"
    text = announcement_text(ANNOUNCEMENT, "某项目施工", {"price"})
    assert text.startswith("某项目施工，现在唱标。共2家投标人。")
    assert "第1家，甲建设有限公司，投标报价1234567元8角9分，工期180日历天。" in text
    assert "第2家，乙路桥有限公司，投标文件未解密，视为撤销。" in text and text.endswith("唱标完毕。")


def test_the_hall_hears_the_announcement_and_outsiders_do_not(hall, settings, tmp_path):
    need_tool("espeak-ng")
    settings.VAR_DIR = tmp_path
    people, lot = hall["people"], hall["lot"]
    url = f"/api/v1/lots/{lot.pk}/opening/announcement.wav"
    alice = Client()
    alice.force_login(people["alice"])
    assert alice.get(url).json()["error"]["code"] == "invalid_state"  # no opening yet
    opening(lot, announcement=ANNOUNCEMENT)
    res = alice.get(url)
    assert res.status_code == 200 and res["Content-Type"] == "audio/wav"
    body = res.content
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE" and len(body) > 100_000  # seconds of speech
    assert len(res["X-Text-SHA256"]) == 64
    again = alice.get(url)
    assert again.content == body  # cached by the text's hash
    outsider = Client()
    outsider.force_login(people["other_host"])
    assert outsider.get(url).status_code == 404
