"""The compliance review (资格审查/符合性审查) decided by majority.

Every expert votes pass/fail for every bidder on every criterion. A criterion passes for a bidder when
more than half of the experts vote pass (F87 61: disputed joint findings go by majority). With the
odd committee of Law 37 / R12 9 there is always a majority; an even split (possible only with an even
number of voters) cannot be decided and raises ``INVALID_STATE`` so the session resolves it instead
of a silent default. A bidder failing any criterion is rejected and leaves the evaluation. Fewer than
``min_valid`` (3) valid bids sets ``may_reject_all``: the committee may reject all bids (R12 27;
Reg 44's 3-bid minimum) — a flag, not a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from common.errors import BadRequest, ErrorCode, PlatformError

# bidder -> criterion -> expert -> passed?
Votes = Mapping[str, Mapping[str, Mapping[str, bool]]]


@dataclass(frozen=True)
class ComplianceResult:
    passed: tuple[str, ...]
    rejected: dict[str, tuple[str, ...]]  # bidder -> the criteria it failed
    tallies: dict[str, dict[str, tuple[int, int]]]  # bidder -> criterion -> (pass, fail)
    may_reject_all: bool


def decide(votes: Votes, *, experts: Sequence[str], criteria: Sequence[str],
           min_valid: int = 3) -> ComplianceResult:
    experts_set = set(experts)
    if not experts_set:
        raise BadRequest("the compliance review needs experts")
    problems = []
    tallies: dict[str, dict[str, tuple[int, int]]] = {}
    rejected: dict[str, tuple[str, ...]] = {}
    passed = []
    for bidder in sorted(votes):
        tallies[bidder] = {}
        failed = []
        for criterion in criteria:
            cast = votes[bidder].get(criterion, {})
            if set(cast) != experts_set or not all(isinstance(v, bool) for v in cast.values()):
                problems.append({"bidder": bidder, "criterion": criterion,
                                 "missing": sorted(experts_set - set(cast)),
                                 "unknown": sorted(set(cast) - experts_set)})
                continue
            yes = sum(1 for v in cast.values() if v)
            no = len(cast) - yes
            tallies[bidder][criterion] = (yes, no)
            if yes == no:
                raise PlatformError(ErrorCode.INVALID_STATE, "an even split has no majority",
                                    details={"bidder": bidder, "criterion": criterion})
            if no > yes:
                failed.append(criterion)
        if failed:
            rejected[bidder] = tuple(failed)
        else:
            passed.append(bidder)
    if problems:
        raise BadRequest("every expert votes on every criterion for every bidder",
                         details={"problems": problems})
    return ComplianceResult(passed=tuple(passed), rejected=rejected, tallies=tallies,
                            may_reject_all=len(passed) < min_valid)
