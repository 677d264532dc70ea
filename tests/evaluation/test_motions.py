"""The committee's decisions as a body (evaluation/rules/motions.py): rejecting all bids when fewer
than 3 valid bids remain (R12 27; Law 42) by majority, and extending the time when more than a third
of the members consider it insufficient (Reg 48). Worked examples."""

from datetime import datetime, timedelta, timezone

import pytest

from common.errors import ErrorCode, PlatformError
from evaluation.rules import steps
from evaluation.rules.motions import (CONTINUE, REJECT_ALL, extended_deadline, extension_due,
                                      reject_all_options, tally_reject_all)
from evaluation.rules.steps import RejectAll, Replace, Step, advance

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
FIVE = ("E1", "E2", "E3", "E4", "E5")


def error_code(fn, *args, **kwargs):
    with pytest.raises(PlatformError) as info:
        fn(*args, **kwargs)
    return info.value.code


def test_only_fewer_than_three_valid_bids_leave_a_choice_and_none_leaves_only_rejection():
    assert reject_all_options(3) == frozenset()
    assert reject_all_options(7) == frozenset()
    assert reject_all_options(2) == {REJECT_ALL, CONTINUE}
    assert reject_all_options(1) == {REJECT_ALL, CONTINUE}
    assert reject_all_options(0) == {REJECT_ALL}  # nothing is left to evaluate (Law 42)
    assert reject_all_options(4, min_valid=5) == {REJECT_ALL, CONTINUE}
    assert error_code(reject_all_options, -1) == ErrorCode.BAD_REQUEST
    assert error_code(reject_all_options, True) == ErrorCode.BAD_REQUEST


def test_a_majority_of_the_members_decides_as_soon_as_it_is_reached():
    # 5 members: 3 votes (3 × 2 = 6 > 5) are a majority, 2 are not (4 < 5).
    two = tally_reject_all({"E1": True, "E2": True}, members=FIVE, valid=2)
    assert (two.decision, two.reject, two.keep, two.missing) == (None, 2, 0, ("E3", "E4", "E5"))
    three = tally_reject_all({"E1": True, "E2": False, "E3": True, "E4": True}, members=FIVE, valid=2)
    assert (three.decision, three.reject, three.keep, three.missing) == (REJECT_ALL, 3, 1, ("E5",))
    keep = tally_reject_all({"E1": False, "E2": False, "E3": False}, members=FIVE, valid=1)
    assert keep.decision == CONTINUE and keep.missing == ("E4", "E5")


def test_an_even_split_with_every_vote_in_opens_a_new_round():
    four = ("E1", "E2", "E3", "E4")  # an even committee cannot arise from a valid draw; the rule still holds
    split = tally_reject_all({"E1": True, "E2": True, "E3": False, "E4": False}, members=four, valid=2)
    assert split.decision is None and split.new_round
    partial = tally_reject_all({"E1": True, "E3": False}, members=four, valid=2)
    assert partial.decision is None and not partial.new_round


def test_the_vote_is_refused_when_nothing_is_to_decide_or_continuing_is_impossible():
    assert error_code(tally_reject_all, {"E1": True}, members=FIVE, valid=3) == ErrorCode.INVALID_STATE
    assert error_code(tally_reject_all, {"E1": False}, members=FIVE, valid=0) == ErrorCode.BAD_REQUEST
    assert tally_reject_all({"E1": True, "E2": True, "E3": True}, members=FIVE, valid=0).decision == REJECT_ALL
    assert error_code(tally_reject_all, {"X9": True}, members=FIVE, valid=2) == ErrorCode.BAD_REQUEST
    assert error_code(tally_reject_all, {"E1": "yes"}, members=FIVE, valid=2) == ErrorCode.BAD_REQUEST


def test_more_than_one_third_of_the_members_extends_the_time():
    # 5 members: one third is 1.67; 1 claim (3 > 5? no), 2 claims (6 > 5) extend.
    assert not extension_due({"E1"}, members=FIVE)
    assert extension_due({"E1", "E4"}, members=FIVE)
    # 9 members: exactly a third (3: 9 > 9? no) is not more than a third; 4 (12 > 9) is.
    nine = [f"E{i}" for i in range(1, 10)]
    assert not extension_due(nine[:3], members=nine)
    assert extension_due(nine[:4], members=nine)
    # 7 members: 2 claims (6 > 7? no), 3 claims (9 > 7) extend.
    assert not extension_due(nine[:2], members=nine[:7])
    assert extension_due(nine[:3], members=nine[:7])
    assert error_code(extension_due, {"X1"}, members=FIVE) == ErrorCode.BAD_REQUEST


def test_the_deadline_moves_from_itself_or_from_now_once_passed():
    deadline = T0 + timedelta(minutes=10)
    # Not passed: 01:10 + 30 min = 01:40.
    assert extended_deadline(deadline, now=T0, minutes=30) == T0 + timedelta(minutes=40)
    # Passed 5 minutes ago (now 01:15): 01:15 + 30 min = 01:45, not 01:40.
    assert extended_deadline(deadline, now=T0 + timedelta(minutes=15), minutes=30) == T0 + timedelta(minutes=45)
    assert error_code(extended_deadline, None, now=T0, minutes=30) == ErrorCode.INVALID_STATE
    assert error_code(extended_deadline, deadline, now=T0, minutes=0) == ErrorCode.BAD_REQUEST


# --- the steps (rules/steps.py) -------------------------------------------------------------------

def at(step: Step, chair="E1", **over) -> steps.State:
    return steps.State(step=step, step_started_at=T0, chair=chair, **over)


def test_rejecting_all_bids_jumps_from_scoring_to_signing_with_the_outcome():
    later = T0 + timedelta(minutes=3)
    state = advance(at(Step.SCORING), RejectAll(by="committee"), now=later)
    assert (state.step, state.outcome, state.step_started_at) == (Step.SIGNING, steps.ALL_REJECTED, later)
    assert error_code(advance, at(Step.SCORING), RejectAll(by="chair"), now=T0) == ErrorCode.FORBIDDEN
    assert error_code(advance, at(Step.SUMMARY), RejectAll(by="committee"), now=T0) == ErrorCode.INVALID_STATE
    locked = at(Step.SCORING, missing_venues=frozenset({"2"}))
    assert error_code(advance, locked, RejectAll(by="committee"), now=T0) == ErrorCode.INVALID_STATE
    # Going back to scoring undoes the outcome; going back to the ranking... is not possible from signing
    # without a ranking, and the outcome only stays for a target after scoring.
    back = advance(state, steps.RequestBack(by="chair", to=Step.SCORING, reason="重新表决"), now=T0)
    back = advance(back, steps.ApproveBack(by="supervisor"), now=T0)
    assert back.step == Step.SCORING and back.outcome is None


def test_a_replacement_sends_the_session_back_so_the_new_member_reviews_again():
    # Before the review is decided nothing moves.
    assert advance(at(Step.PLEDGE, chair=None), Replace("E3"), now=T0) == at(Step.PLEDGE, chair=None)
    assert advance(at(Step.COMPLIANCE), Replace("E3"), now=T0).step == Step.COMPLIANCE
    # After it: back to the compliance review (the replaced member's conclusions are void, Reg 48).
    later = T0 + timedelta(minutes=1)
    for step in (Step.SCORING, Step.SUMMARY, Step.RANKING):
        state = advance(at(step), Replace("E3"), now=later)
        assert (state.step, state.chair, state.step_started_at) == (Step.COMPLIANCE, "E1", later)
    # The chair replaced: the chair is elected again.
    state = advance(at(Step.SUMMARY), Replace("E1"), now=later)
    assert (state.step, state.chair, state.election_round) == (Step.CHAIR_ELECTION, None, 1)
    # During the election: a new round (votes cast in this round are void).
    state = advance(at(Step.CHAIR_ELECTION, chair=None, election_round=2), Replace("E4"), now=T0)
    assert (state.step, state.election_round) == (Step.CHAIR_ELECTION, 3)
    for step in (Step.SIGNING, Step.DONE):
        assert error_code(advance, at(step), Replace("E3"), now=T0) == ErrorCode.INVALID_STATE
    pending = at(Step.SCORING, pending_back=steps.BackRequest(Step.COMPLIANCE, "x", T0))
    assert error_code(advance, pending, Replace("E3"), now=T0) == ErrorCode.INVALID_STATE


def test_the_outcome_survives_the_json_round_trip():
    from evaluation.state import dump_state, load_state

    state = advance(at(Step.SCORING), RejectAll(by="committee"), now=T0)
    assert load_state(dump_state(state)) == state
    assert load_state({k: v for k, v in dump_state(at(Step.SCORING)).items() if k != "outcome"}) == at(Step.SCORING)
