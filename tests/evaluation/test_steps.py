"""The evaluation session's state machine (evaluation/rules/steps.py)."""

from datetime import datetime, timedelta, timezone

import pytest

from common.errors import ErrorCode, PlatformError
from evaluation.rules import steps
from evaluation.rules.steps import (ApproveBack, ChairVote, Next, RejectBack, RequestBack, Step, VenueDown,
                                    VenueUp, advance)

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
MEMBERS = frozenset({"e1", "e2", "e3", "e4", "e5"})


def code_of(state, event, now=T0):
    with pytest.raises(PlatformError) as info:
        advance(state, event, now=now)
    return info.value.code


def at(step: Step, chair="e1") -> steps.State:
    return steps.State(step=step, step_started_at=T0, chair=chair)


def elected():
    state = advance(advance(steps.start(now=T0), Next("main_venue"), now=T0), Next("main_venue"), now=T0)
    return advance(state, ChairVote({"e1": "e2", "e2": "e2", "e3": "e2", "e4": "e1", "e5": "e3"}, MEMBERS),
                   now=T0)


def test_the_steps_run_in_order_to_done():
    state = elected()
    assert state.step == Step.CHAIR_ELECTION and state.chair == "e2"
    seen = [state.step]
    for i in range(6):
        state = advance(state, Next("chair"), now=T0 + timedelta(minutes=i))
        seen.append(state.step)
    assert seen == list(steps.ORDER[2:])
    assert state.step == Step.DONE and state.step_started_at == T0 + timedelta(minutes=5)
    assert code_of(state, Next("chair")) == ErrorCode.INVALID_STATE


def test_the_chair_election_needs_a_majority_and_a_tie_is_a_revote():
    state = advance(advance(steps.start(now=T0), Next("main_venue"), now=T0), Next("main_venue"), now=T0)
    tie = ChairVote({"e1": "e1", "e2": "e1", "e3": "e2", "e4": "e2", "e5": "e3"}, MEMBERS)
    state = advance(state, tie, now=T0)
    assert state.chair is None and state.election_round == 2
    assert code_of(state, Next("main_venue")) == ErrorCode.INVALID_STATE  # no chair, no leaving


def test_the_tenderers_representative_cannot_chair():
    state = at(Step.CHAIR_ELECTION, chair=None)
    votes = ChairVote({m: "e5" for m in MEMBERS}, MEMBERS, ineligible=frozenset({"e5"}))
    assert code_of(state, votes) == ErrorCode.BAD_REQUEST


def test_a_chair_vote_outside_the_election_step_is_refused():
    vote = ChairVote({m: "e1" for m in MEMBERS}, MEMBERS)
    assert code_of(at(Step.SCORING), vote) == ErrorCode.INVALID_STATE


def test_only_the_main_venue_or_the_chair_drives_the_steps():
    assert code_of(at(Step.SCORING), Next("sub_venue")) == ErrorCode.FORBIDDEN
    assert code_of(at(Step.PLEDGE, chair=None), Next("chair")) == ErrorCode.FORBIDDEN


def test_going_back_needs_the_chairs_request_and_a_supervisors_approval():
    state = advance(at(Step.RANKING), RequestBack("chair", Step.SCORING, "price table corrected"),
                    now=T0)
    assert state.step == Step.RANKING and state.pending_back.to == Step.SCORING
    assert code_of(state, Next("chair")) == ErrorCode.INVALID_STATE  # waiting for the supervisor
    assert code_of(state, ApproveBack("chair")) == ErrorCode.FORBIDDEN
    back = advance(state, ApproveBack("supervisor"), now=T0 + timedelta(minutes=3))
    assert back.step == Step.SCORING and back.pending_back is None
    assert back.step_started_at == T0 + timedelta(minutes=3)
    rejected = advance(state, RejectBack("supervisor"), now=T0)
    assert rejected.step == Step.RANKING and rejected.pending_back is None


def test_going_back_is_refused_without_a_chair_forward_or_to_sign_in():
    assert code_of(at(Step.RANKING), RequestBack("main_venue", Step.SCORING, "x")) == ErrorCode.FORBIDDEN
    assert code_of(at(Step.SCORING), RequestBack("chair", Step.RANKING, "x")) == ErrorCode.INVALID_STATE
    assert code_of(at(Step.SCORING), RequestBack("chair", Step.SIGN_IN, "x")) == ErrorCode.INVALID_STATE
    assert code_of(at(Step.SCORING), RequestBack("chair", Step.COMPLIANCE, " ")) == ErrorCode.INVALID_STATE
    assert code_of(at(Step.SCORING), ApproveBack("supervisor")) == ErrorCode.INVALID_STATE


def test_going_back_to_the_election_clears_the_chair():
    state = advance(at(Step.COMPLIANCE), RequestBack("chair", Step.CHAIR_ELECTION, "chair recused"), now=T0)
    state = advance(state, ApproveBack("supervisor"), now=T0)
    assert state.step == Step.CHAIR_ELECTION and state.chair is None


def test_a_dropped_venue_locks_the_session_until_every_venue_is_back():
    state = at(Step.SCORING)
    steps.check_scores_open(state)
    state = advance(state, VenueDown("sub-1"), now=T0)
    state = advance(state, VenueDown("sub-2"), now=T0 + timedelta(minutes=1))
    assert state.locked and state.missing_venues == {"sub-1", "sub-2"}
    with pytest.raises(PlatformError) as info:
        steps.check_scores_open(state)
    assert info.value.details["missing"] == ["sub-1", "sub-2"]
    assert code_of(state, Next("chair")) == ErrorCode.INVALID_STATE
    assert code_of(state, RequestBack("chair", Step.COMPLIANCE, "x")) == ErrorCode.INVALID_STATE
    state = advance(state, VenueUp("sub-1"), now=T0 + timedelta(minutes=5))
    assert state.locked
    state = advance(state, VenueUp("sub-2"), now=T0 + timedelta(minutes=12))
    assert not state.locked
    steps.check_scores_open(state)
    # one lock, recorded with both venues and its length (12 minutes)
    (lock,) = state.locks
    assert lock.venues == {"sub-1", "sub-2"} and lock.ended_at - lock.started_at == timedelta(minutes=12)
    assert code_of(state, VenueUp("sub-1")) == ErrorCode.INVALID_STATE


def test_scores_change_only_while_scoring_or_in_the_summary():
    for step in steps.ORDER:
        state = at(step)
        if step in (Step.SCORING, Step.SUMMARY):
            steps.check_scores_open(state)
        else:
            with pytest.raises(PlatformError):
                steps.check_scores_open(state)
