"""The compliance review by majority (evaluation/rules/compliance.py; F87 61)."""

import pytest

from common.errors import ErrorCode, PlatformError
from evaluation.rules.compliance import decide

EXPERTS = ["e1", "e2", "e3", "e4", "e5"]
CRITERIA = ["licence", "deposit"]


def votes(**per_bidder):
    """per_bidder: bidder -> {criterion: number of pass votes out of 5}."""
    return {b: {c: {e: i < yes for i, e in enumerate(EXPERTS)} for c, yes in crit.items()}
            for b, crit in per_bidder.items()}


def test_a_majority_decides_each_criterion_and_any_failure_rejects_the_bid():
    result = decide(votes(A={"licence": 5, "deposit": 3}, B={"licence": 2, "deposit": 5},
                          C={"licence": 4, "deposit": 4}, D={"licence": 3, "deposit": 3}),
                    experts=EXPERTS, criteria=CRITERIA)
    # B: licence 2 pass vs 3 fail → rejected
    assert result.passed == ("A", "C", "D")
    assert result.rejected == {"B": ("licence",)}
    assert result.tallies["A"]["deposit"] == (3, 2)
    assert result.may_reject_all is False


def test_fewer_than_three_valid_bids_lets_the_committee_reject_all():
    result = decide(votes(A={"licence": 5, "deposit": 5}, B={"licence": 0, "deposit": 5},
                          C={"licence": 5, "deposit": 5}), experts=EXPERTS, criteria=CRITERIA)
    assert result.passed == ("A", "C") and result.may_reject_all is True


def test_every_expert_votes_on_every_criterion():
    v = votes(A={"licence": 5, "deposit": 5})
    del v["A"]["deposit"]["e5"]
    with pytest.raises(PlatformError) as info:
        decide(v, experts=EXPERTS, criteria=CRITERIA)
    assert info.value.details["problems"][0]["missing"] == ["e5"]


def test_an_even_split_is_not_decided_silently():
    v = {"A": {"licence": {"e1": True, "e2": False}}}
    with pytest.raises(PlatformError) as info:
        decide(v, experts=["e1", "e2"], criteria=["licence"])
    assert info.value.code == ErrorCode.INVALID_STATE
