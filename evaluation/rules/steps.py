"""The evaluation session's steps as a pure state machine: ``advance(state, event, *, now)``.

    sign_in → pledge → chair_election → compliance → scoring → summary → ranking → signing → done

- ``Next(by)`` moves one step forward. It is driven from the main venue: by the main venue's staff
  (``"main_venue"``) or, once elected, the chair (``"chair"``). Leaving ``chair_election`` needs an
  elected chair; ``done`` is final.
- ``ChairVote(votes, members, ineligible)`` in ``chair_election``: see ``committee.elect_chair``;
  without a majority (a tie included) the round number goes up and the members vote again.
  The tenderer's representative cannot chair (F87 45).
- Going back (e.g. from ranking to scoring) takes two events: ``RequestBack(by="chair", to, reason)``
  and then ``ApproveBack(by="supervisor")`` (or ``RejectBack``). While a request is pending nothing
  else moves. Any earlier step except ``sign_in`` may be the target; nothing leaves ``done``.
  Going back to ``chair_election`` or earlier clears the chair: it is elected again.
- A venue dropping (``VenueDown``) locks the session: no step change and no score change
  (``check_scores_open``) until every missing venue is back (``VenueUp``). Each lock is recorded with
  its start, end and venues (807: locked and sealed on a failure, continue when restored).

- ``RejectAll(by="committee")`` in ``scoring`` (the committee voted to reject all bids after the
  compliance review, ``motions.tally_reject_all``) jumps to ``signing`` with ``outcome``
  ``"all_rejected"``: the report records that no bid is recommended and the members sign it.
  Going back to ``scoring`` or earlier clears the outcome.
- ``Replace(member)`` (a member replaced, Reg 48) — the replaced member's conclusions are void and
  the replacement reviews again: a replaced chair sends the session back to ``chair_election`` (the
  chair is elected again); otherwise a session past ``compliance`` goes back to ``compliance`` (the
  review is decided again with the new member's votes); during the chair election a new round
  starts. Not once the report exists (``signing``, ``done``).

Every illegal move raises ``PlatformError(INVALID_STATE)`` (or ``FORBIDDEN`` for the wrong actor).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Mapping, Union

from common.errors import ErrorCode, PlatformError

from .committee import elect_chair


class Step(StrEnum):
    SIGN_IN = "sign_in"
    PLEDGE = "pledge"
    CHAIR_ELECTION = "chair_election"
    COMPLIANCE = "compliance"
    SCORING = "scoring"
    SUMMARY = "summary"
    RANKING = "ranking"
    SIGNING = "signing"
    DONE = "done"


ORDER = tuple(Step)
# Score values may change while scoring, and in the summary only through a permitted return (F87 64).
SCORES_OPEN = frozenset({Step.SCORING, Step.SUMMARY})


@dataclass(frozen=True)
class Lock:
    started_at: datetime
    venues: frozenset[str]
    ended_at: datetime | None = None


@dataclass(frozen=True)
class BackRequest:
    to: Step
    reason: str
    requested_at: datetime


@dataclass(frozen=True)
class State:
    step: Step = Step.SIGN_IN
    step_started_at: datetime | None = None
    chair: str | None = None
    election_round: int = 1
    missing_venues: frozenset[str] = frozenset()
    pending_back: BackRequest | None = None
    locks: tuple[Lock, ...] = ()
    outcome: str | None = None  # "all_rejected" once the committee rejects all bids

    @property
    def locked(self) -> bool:
        return bool(self.missing_venues)


@dataclass(frozen=True)
class Next:
    by: str  # "main_venue" or "chair"


@dataclass(frozen=True)
class ChairVote:
    votes: Mapping[str, str]
    members: frozenset[str]
    ineligible: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RequestBack:
    by: str
    to: Step
    reason: str


@dataclass(frozen=True)
class ApproveBack:
    by: str


@dataclass(frozen=True)
class RejectBack:
    by: str


@dataclass(frozen=True)
class RejectAll:
    by: str  # "committee": decided by the members' vote


@dataclass(frozen=True)
class Replace:
    member: str  # the replaced member's code


ALL_REJECTED = "all_rejected"


@dataclass(frozen=True)
class VenueDown:
    venue: str


@dataclass(frozen=True)
class VenueUp:
    venue: str


Event = Union[Next, ChairVote, RequestBack, ApproveBack, RejectBack, RejectAll, Replace, VenueDown, VenueUp]


def _invalid(message: str, state: State, **details: object) -> PlatformError:
    return PlatformError(ErrorCode.INVALID_STATE, message, details={"step": state.step.value, **details})


def _forbidden(message: str) -> PlatformError:
    return PlatformError(ErrorCode.FORBIDDEN, message)


def start(*, now: datetime) -> State:
    return State(step=Step.SIGN_IN, step_started_at=now)


def check_scores_open(state: State) -> None:
    """Raise unless a score may change now: in scoring or summary, and not locked."""
    if state.locked:
        raise _invalid("the session is locked: a venue is missing", state,
                       missing=sorted(state.missing_venues))
    if state.step not in SCORES_OPEN:
        raise _invalid("scores cannot change in this step", state)


def advance(state: State, event: Event, *, now: datetime) -> State:
    if isinstance(event, VenueDown):
        if event.venue in state.missing_venues:
            return state
        if state.locked:
            last = state.locks[-1]
            locks = state.locks[:-1] + (replace(last, venues=last.venues | {event.venue}),)
        else:
            locks = state.locks + (Lock(started_at=now, venues=frozenset({event.venue})),)
        return replace(state, missing_venues=state.missing_venues | {event.venue}, locks=locks)
    if isinstance(event, VenueUp):
        if event.venue not in state.missing_venues:
            raise _invalid("that venue is not missing", state, venue=event.venue)
        missing = state.missing_venues - {event.venue}
        locks = state.locks
        if not missing:
            locks = locks[:-1] + (replace(locks[-1], ended_at=now),)
        return replace(state, missing_venues=missing, locks=locks)
    if state.locked:
        raise _invalid("the session is locked: a venue is missing", state,
                       missing=sorted(state.missing_venues))
    if state.step == Step.DONE:
        raise _invalid("the evaluation is done", state)

    if isinstance(event, (ApproveBack, RejectBack)):
        if state.pending_back is None:
            raise _invalid("no request to go back is pending", state)
        if event.by != "supervisor":
            raise _forbidden("only a supervisor approves or rejects going back")
        if isinstance(event, RejectBack):
            return replace(state, pending_back=None)
        target = state.pending_back.to
        return _back_to(replace(state, pending_back=None), target, now=now)
    if state.pending_back is not None:
        raise _invalid("a request to go back is waiting for the supervisor", state)

    if isinstance(event, RequestBack):
        if event.by != "chair" or state.chair is None:
            raise _forbidden("only the chair requests going back")
        target = Step(event.to)
        if target == Step.SIGN_IN or ORDER.index(target) >= ORDER.index(state.step):
            raise _invalid("going back needs an earlier step after sign-in", state, to=target.value)
        if not event.reason.strip():
            raise _invalid("going back needs a reason", state)
        return replace(state, pending_back=BackRequest(target, event.reason.strip(), now))
    if isinstance(event, RejectAll):
        if event.by != "committee":
            raise _forbidden("the committee rejects all bids by its vote")
        if state.step != Step.SCORING:
            raise _invalid("all bids are rejected after the compliance review, before scoring", state)
        return replace(state, step=Step.SIGNING, step_started_at=now, outcome=ALL_REJECTED)
    if isinstance(event, Replace):
        return _after_replacement(state, event.member, now=now)
    if isinstance(event, ChairVote):
        if state.step != Step.CHAIR_ELECTION:
            raise _invalid("the chair is elected in the chair election step", state)
        result = elect_chair(event.votes, members=event.members, ineligible=event.ineligible)
        if result.chair is None:
            return replace(state, election_round=state.election_round + 1)
        return replace(state, chair=result.chair)
    if isinstance(event, Next):
        if event.by not in ("main_venue", "chair") or (event.by == "chair" and state.chair is None):
            raise _forbidden("the steps are driven by the main venue or the chair")
        if state.step == Step.CHAIR_ELECTION and state.chair is None:
            raise _invalid("no chair is elected yet", state, round=state.election_round)
        following = ORDER[ORDER.index(state.step) + 1]
        return replace(state, step=following, step_started_at=now)
    raise _invalid("unknown event", state, event=type(event).__name__)


def _back_to(state: State, target: Step, *, now: datetime) -> State:
    """``target`` (earlier than the step) becomes the step; what was decided from it on is undone."""
    outcome = None if ORDER.index(target) <= ORDER.index(Step.SCORING) else state.outcome
    if ORDER.index(target) <= ORDER.index(Step.CHAIR_ELECTION):
        # Back to (or before) the election: the chair is elected again.
        return replace(state, step=target, step_started_at=now, chair=None, election_round=1, outcome=outcome)
    return replace(state, step=target, step_started_at=now, outcome=outcome)


def _after_replacement(state: State, member: str, *, now: datetime) -> State:
    if ORDER.index(state.step) >= ORDER.index(Step.SIGNING):
        raise _invalid("the report exists: go back before replacing a member", state)
    if state.chair is not None and state.chair == member:
        return _back_to(state, Step.CHAIR_ELECTION, now=now)
    if state.step == Step.CHAIR_ELECTION:
        return replace(state, election_round=state.election_round + 1)  # votes cast so far are void
    if ORDER.index(state.step) > ORDER.index(Step.COMPLIANCE):
        return _back_to(state, Step.COMPLIANCE, now=now)
    return state
