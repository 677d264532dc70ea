"""The tender lifecycle rules, without a database."""

from datetime import datetime, timedelta, timezone

import pytest

from bidding import lifecycle
from bidding.lifecycle import Status
from common.errors import ErrorCode, PlatformError
from evaluation.rules.settings import DEFAULT_EVALUATION_SETTINGS

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)


def values(**over):
    base = {
        "title": "施工", "description": "", "code": "01",
        "bid_deadline": NOW + timedelta(days=20), "signin_opens_at": NOW + timedelta(days=20, minutes=-30),
        "decryption_window_minutes": 30, "confirmation_window_minutes": 30, "min_bids": 3,
        "announced_fields": lifecycle.DEFAULT_ANNOUNCED_FIELDS,
        "evaluation_settings": DEFAULT_EVALUATION_SETTINGS, "escrow_required": False,
        "max_bid_bytes": 2**30,
    }
    base.update(over)
    if "bid_deadline" in over and "signin_opens_at" not in over:
        base["signin_opens_at"] = None  # no sign-in time: only the deadline matters here
    return base


def code_of(call) -> ErrorCode:
    with pytest.raises(PlatformError) as info:
        call()
    return info.value.code


@pytest.mark.parametrize("current, target, allowed", [
    (Status.DRAFT, Status.PUBLISHED, True),
    (Status.DRAFT, Status.CANCELLED, True),
    (Status.DRAFT, Status.OPENING, False),
    (Status.PUBLISHED, Status.OPENING, True),
    (Status.PUBLISHED, Status.DRAFT, False),
    (Status.PUBLISHED, Status.FAILED, True),
    (Status.OPENING, Status.CANCELLED, False),
    (Status.OPENING, Status.FAILED, True),
    (Status.COMPLETED, Status.PUBLISHED, False),
    (Status.CANCELLED, Status.PUBLISHED, False),
])
def test_transitions_follow_the_table(current, target, allowed):
    if allowed:
        lifecycle.check_transition(current, target)
    else:
        assert code_of(lambda: lifecycle.check_transition(current, target)) == ErrorCode.INVALID_STATE


def test_a_draft_can_change_anything():
    lifecycle.check_edit(Status.DRAFT, {"bid_deadline", "announced_fields", "title", "min_bids"})


def test_a_published_tender_edits_its_text_directly():
    lifecycle.check_edit(Status.PUBLISHED, {"title", "description"})


@pytest.mark.parametrize("field", sorted(lifecycle.MATERIAL_FIELDS))
def test_a_published_tender_changes_material_fields_only_by_amendment(field):
    assert code_of(lambda: lifecycle.check_edit(Status.PUBLISHED, {field})) == ErrorCode.AMENDMENT_REQUIRED


@pytest.mark.parametrize("status", [Status.OPENING, Status.EVALUATING, Status.COMPLETED, Status.FAILED,
                                    Status.CANCELLED])
def test_nothing_changes_once_the_opening_started(status):
    assert code_of(lambda: lifecycle.check_edit(status, {"title"})) == ErrorCode.INVALID_STATE


def test_unknown_fields_are_refused():
    assert code_of(lambda: lifecycle.check_edit(Status.DRAFT, {"status"})) == ErrorCode.BAD_REQUEST


def test_an_amendment_extending_the_deadline_needs_no_notice_period():
    before = values(bid_deadline=NOW + timedelta(days=2))
    changed = lifecycle.check_amendment(Status.PUBLISHED, before,
                                        {"bid_deadline": NOW + timedelta(days=3)}, now=NOW)
    assert changed == {"bid_deadline"}


def test_an_amendment_affecting_bids_needs_15_days_before_the_deadline():
    before = values(bid_deadline=NOW + timedelta(days=10))
    fields = [*lifecycle.DEFAULT_ANNOUNCED_FIELDS,
              {"key": "warranty", "type": "integer", "label": "质保期"}]
    assert code_of(lambda: lifecycle.check_amendment(
        Status.PUBLISHED, before, {"announced_fields": fields}, now=NOW)) == ErrorCode.AMENDMENT_TOO_LATE
    # Extending the deadline to 15 days after the amendment makes it lawful (实施条例 21).
    lifecycle.check_amendment(Status.PUBLISHED, before, {
        "announced_fields": fields, "bid_deadline": NOW + timedelta(days=15)}, now=NOW)


def test_moving_the_deadline_earlier_is_bid_affecting():
    before = values(bid_deadline=NOW + timedelta(days=20))
    assert code_of(lambda: lifecycle.check_amendment(
        Status.PUBLISHED, before, {"bid_deadline": NOW + timedelta(days=14)}, now=NOW)) \
        == ErrorCode.AMENDMENT_TOO_LATE
    lifecycle.check_amendment(Status.PUBLISHED, before, {"bid_deadline": NOW + timedelta(days=16)}, now=NOW)


def test_the_notice_period_is_the_tenders_setting():
    before = values(bid_deadline=NOW + timedelta(days=10))
    lifecycle.check_amendment(Status.PUBLISHED, before, {"min_bids": 5}, now=NOW, notice_days=5)


def test_no_amendment_after_the_deadline():
    before = values(bid_deadline=NOW)
    assert code_of(lambda: lifecycle.check_amendment(
        Status.PUBLISHED, before, {"title": "x"}, now=NOW)) == ErrorCode.DEADLINE_PASSED


def test_no_amendment_of_a_draft_or_after_the_opening():
    for status in (Status.DRAFT, Status.OPENING):
        assert code_of(lambda: lifecycle.check_amendment(
            status, values(), {"min_bids": 5}, now=NOW)) == ErrorCode.INVALID_STATE


def test_an_empty_amendment_is_refused():
    assert code_of(lambda: lifecycle.check_amendment(
        Status.PUBLISHED, values(), {"min_bids": 3}, now=NOW)) == ErrorCode.BAD_REQUEST


@pytest.mark.parametrize("over, field", [
    ({"bid_deadline": NOW - timedelta(minutes=1)}, "bid_deadline"),
    ({"signin_opens_at": NOW + timedelta(days=21)}, "signin_opens_at"),
    ({"decryption_window_minutes": 0}, "decryption_window_minutes"),
    ({"confirmation_window_minutes": 100000}, "confirmation_window_minutes"),
    ({"min_bids": 0}, "min_bids"),
    ({"min_bids": 2}, "min_bids"),
    ({"min_bids": 1000}, "min_bids"),
    ({"max_bid_bytes": 0}, "max_bid_bytes"),
])
def test_the_schedule_must_be_coherent(over, field):
    with pytest.raises(PlatformError) as info:
        lifecycle.validate_schedule(values(**over), now=NOW)
    assert field in info.value.details


@pytest.mark.parametrize("fields", [
    [],
    [{"key": "duration_days", "type": "integer", "label": "工期"}],  # no price
    [{"key": "price", "type": "decimal", "label": "报价"}],  # price must be integer fen
    [{"key": "price", "type": "money_fen", "label": "报价", "required": False}],
    [{"key": "price", "type": "money_fen", "label": "报价"}, {"key": "price", "type": "text", "label": "x"}],
    [{"key": "price", "type": "money_fen", "label": "报价"}, {"key": "Bad-Key", "type": "text", "label": "x"}],
    [{"key": "price", "type": "money_fen", "label": "报价"}, {"key": "q", "type": "float", "label": "x"}],
    [{"key": "price", "type": "money_fen", "label": "报价"}, {"key": "q", "type": "choice", "label": "质量"}],
])
def test_bad_announced_fields_are_refused(fields):
    with pytest.raises(PlatformError):
        lifecycle.validate_announced_fields(fields)


def test_the_default_announced_fields_are_valid():
    out = lifecycle.validate_announced_fields(lifecycle.DEFAULT_ANNOUNCED_FIELDS)
    assert [f["key"] for f in out] == ["price", "duration_days", "quality"]


@pytest.mark.parametrize("statuses, changed, refused", [
    (set(), {"code", "tenderee", "agency", "title"}, False),
    ({"draft"}, {"code"}, False),
    ({"draft", "published"}, {"code"}, True),
    ({"cancelled"}, {"code"}, True),  # a cancelled lot may have been published, with bids sealed
    ({"failed"}, {"tenderee"}, True),
    ({"published"}, {"title", "description"}, False),
    ({"published", "completed"}, {"title"}, True),
    ({"draft"}, {"created_by"}, True),
])
def test_a_projects_code_tenderee_and_agency_are_fixed_once_a_lot_was_published(statuses, changed, refused):
    from bidding.lifecycle import check_project_edit, project_readonly_fields

    if refused:
        with pytest.raises(PlatformError):
            check_project_edit(statuses, changed)
    else:
        check_project_edit(statuses, changed)
    if "created_by" not in changed:  # what a form shows read-only is exactly what the check refuses
        assert refused == bool(changed & project_readonly_fields(statuses))
