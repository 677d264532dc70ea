"""Decisions the committee takes as a body: rejecting all bids, and extending the evaluation time.

**Rejecting all bids (否决所有投标).** After the compliance review, when fewer than ``min_valid`` (3)
valid bids remain, the competition is plainly lacking and the committee *may* reject all bids
(R12 27; Law 42 when no bid meets the requirements). It is a choice, not an automatic result:

- ``reject_all_options(valid)``: with ``min_valid`` or more valid bids there is nothing to decide
  (empty); with fewer, ``reject_all`` or ``continue`` (with the remaining valid bids); with none,
  only ``reject_all`` — nothing is left to evaluate.
- The chair proposes, every member votes once a round: reject or continue. A side with more than
  half of the members' votes decides at once (the remaining votes cannot change it); all votes in
  without a majority (an even split, possible only with an even number of members) opens a new
  round (F87 61: disputed findings go by majority).

**Extending the time (Reg 48).** Members may each state that the time is insufficient for the
current step. When *more than one third* of the members have (``3 × claims > members``) the step's
deadline is extended by ``minutes``, counted from the deadline, or from ``now`` when it has already
passed. Claims then start afresh, so a further extension needs a new third.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from common.errors import BadRequest, ErrorCode, PlatformError

MIN_VALID_BIDS = 3
REJECT_ALL, CONTINUE = "reject_all", "continue"


def reject_all_options(valid: int, *, min_valid: int = MIN_VALID_BIDS) -> frozenset[str]:
    """What the committee may decide with ``valid`` valid bids after the compliance review."""
    if isinstance(valid, bool) or not isinstance(valid, int) or valid < 0:
        raise BadRequest("the number of valid bids is a non-negative integer")
    if valid >= min_valid:
        return frozenset()
    if valid == 0:
        return frozenset({REJECT_ALL})
    return frozenset({REJECT_ALL, CONTINUE})


@dataclass(frozen=True)
class Tally:
    decision: str | None  # REJECT_ALL, CONTINUE, or None (not decided yet)
    reject: int
    keep: int
    missing: tuple[str, ...]  # members who have not voted
    new_round: bool = False  # every member voted and no side has a majority


def tally_reject_all(votes: Mapping[str, bool], *, members: Iterable[str], valid: int,
                     min_valid: int = MIN_VALID_BIDS) -> Tally:
    """``votes``: member -> True (reject all) / False (continue)."""
    members = set(members)
    options = reject_all_options(valid, min_valid=min_valid)
    if not options:
        raise PlatformError(ErrorCode.INVALID_STATE, "enough valid bids remain: nothing to decide",
                            details={"valid": valid, "min_valid": min_valid})
    unknown = sorted(set(votes) - members)
    if unknown or not all(isinstance(v, bool) for v in votes.values()):
        raise BadRequest("only members vote, reject (true) or continue (false)", details={"unknown": unknown})
    if CONTINUE not in options and not all(votes.values()):
        raise BadRequest("no valid bid remains: the committee can only reject all bids (Law 42)")
    reject = sum(1 for v in votes.values() if v)
    keep = len(votes) - reject
    missing = tuple(sorted(members - set(votes)))
    if 2 * reject > len(members):
        return Tally(REJECT_ALL, reject, keep, missing)
    if 2 * keep > len(members):
        return Tally(CONTINUE, reject, keep, missing)
    return Tally(None, reject, keep, missing, new_round=not missing)


def extension_due(claims: Iterable[str], *, members: Iterable[str]) -> bool:
    """Reg 48: more than one third of the members consider the time insufficient."""
    members, claims = set(members), set(claims)
    if not members:
        raise BadRequest("a committee has members")
    if claims - members:
        raise BadRequest("only members state that the time is insufficient",
                         details={"unknown": sorted(claims - members)})
    return 3 * len(claims) > len(members)


def extended_deadline(deadline: datetime | None, *, now: datetime, minutes: int) -> datetime:
    """The step's new deadline: ``minutes`` after the deadline, or after ``now`` once it passed."""
    if deadline is None:
        raise PlatformError(ErrorCode.INVALID_STATE, "no step clock is running: there is no time to extend")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
        raise BadRequest("an extension is an integer from 1 to 1440 minutes")
    return max(deadline, now) + timedelta(minutes=minutes)
