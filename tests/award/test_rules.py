"""The rules after the evaluation, without a database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from award import rules
from common.errors import PlatformError

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("days", [0, 1, 2, -3, 31, True, 3.5, "3"])
def test_it_refuses_a_publicity_shorter_than_three_days_or_not_whole(days):
    with pytest.raises(PlatformError) as info:
        rules.publicity_period(NOW, days)
    assert info.value.code.value == "bad_request" and info.value.details["field"] == "days"


def test_a_publicity_of_three_days_ends_three_days_later_and_a_longer_minimum_holds():
    assert rules.publicity_period(NOW, 3) == (NOW, NOW + timedelta(days=3))
    with pytest.raises(PlatformError):
        rules.publicity_period(NOW, 4, min_days=5)


def test_objections_are_raised_only_during_the_period():
    ends = NOW + timedelta(days=3)
    rules.check_objection_window(NOW, ends, NOW)
    rules.check_objection_window(NOW, ends, ends - timedelta(microseconds=1))
    for when in (NOW - timedelta(seconds=1), ends):
        with pytest.raises(PlatformError) as info:
            rules.check_objection_window(NOW, ends, when)
        assert info.value.details["reason"] == "publicity_closed"


def test_the_award_waits_for_the_period_and_every_answer():
    ends = NOW + timedelta(days=3)
    kwargs = dict(ends_at=ends, candidates=["B02", "B01"], winner="B02", reason="")
    with pytest.raises(PlatformError) as info:
        rules.check_award(now=ends - timedelta(seconds=1), open_objections=0, **kwargs)
    assert info.value.details["reason"] == "publicity_running"
    with pytest.raises(PlatformError) as info:
        rules.check_award(now=ends, open_objections=1, **kwargs)
    assert info.value.details["reason"] == "objection_open"
    rules.check_award(now=ends, open_objections=0, **kwargs)


def test_another_candidate_than_the_first_needs_a_reason_and_a_stranger_is_refused():
    ends = NOW
    with pytest.raises(PlatformError):
        rules.check_award(ends_at=ends, now=NOW, open_objections=0, candidates=["B02", "B01"], winner="B01",
                          reason=" ")
    rules.check_award(ends_at=ends, now=NOW, open_objections=0, candidates=["B02", "B01"], winner="B01",
                      reason="第一中标候选人放弃中标")
    with pytest.raises(PlatformError):
        rules.check_award(ends_at=ends, now=NOW, open_objections=0, candidates=["B02"], winner="B09", reason="x")


@pytest.mark.parametrize("items", [
    [("a.pdf", "application/pdf", 10)] * (rules.MAX_ATTACHMENTS + 1),
    [("a.pdf", "application/pdf", rules.MAX_ATTACHMENT_BYTES + 1)],
    [("a.pdf", "application/pdf", 0)],
    [("../../etc/passwd", "text/plain", 10)],
    [("a.exe", "application/x-msdownload", 10)],
    [("a.pdf", "application/pdf", rules.MAX_ATTACHMENT_BYTES)] * 3,  # over the total
])
def test_it_bounds_the_attachments(items):
    with pytest.raises(PlatformError) as info:
        rules.check_attachments(items)
    assert info.value.details["field"] == "attachments"


def test_the_deposits_are_due_five_days_after_the_contract():
    assert rules.refund_due(NOW) == NOW + timedelta(days=5)
    assert rules.answer_due(NOW) == NOW + timedelta(days=3)
