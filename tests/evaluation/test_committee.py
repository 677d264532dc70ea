"""Avoidance, committee size rules and the chair election (evaluation/rules/committee.py)."""

import pytest

from common.errors import PlatformError
from evaluation.rules.committee import (Bidder, PoolExpert, avoidance_reasons, check_size, elect_chair,
                                        size_problems)

BIDDERS = [Bidder("org-alice", ("张三", "李四")), Bidder("org-bob", ("王五",))]


def expert(**over):
    return PoolExpert(**{"id": "x1", "region": "320100", "category": "technical", **over})


@pytest.mark.parametrize("over, reasons", [
    ({}, ()),
    ({"employer": "org-alice"}, ("employer_is_bidder",)),
    ({"employer": "org-carol"}, ()),
    ({"related_orgs": ("org-bob",)}, ("related_to_bidder",)),
    ({"related_people": ("张 三",)}, ("related_to_bidder_manager",)),  # whitespace does not hide a name
    ({"related_people": ("Ｗang",)}, ()),
    ({"authority_staff": True}, ("supervising_authority_staff",)),
    ({"penalised": True}, ("penalised",)),
    ({"available": False}, ("unavailable",)),
    ({"employer": "org-bob", "penalised": True, "available": False},
     ("employer_is_bidder", "penalised", "unavailable")),
])
def test_avoidance_records_every_reason(over, reasons):
    assert avoidance_reasons(expert(**over), BIDDERS) == reasons


@pytest.mark.parametrize("categories, problems", [
    (["technical"] * 5, []),
    (["technical"] * 3 + ["economic"] + ["other"], []),  # 4 of 5 ≥ 2/3
    (["technical"] * 3 + ["other"] * 2, ["too_few_technical_economic"]),  # 3 of 5 < 2/3
    (["technical"] * 5 + ["other"] * 2, []),  # 5 of 7 ≥ 2/3 (15 ≥ 14)
    (["technical"] * 4 + ["other"] * 3, ["too_few_technical_economic"]),  # 12 < 14
    (["technical"] * 4, ["too_small", "even"]),
    (["technical"] * 6, ["even"]),
])
def test_committee_size_rules(categories, problems):
    assert size_problems(categories) == problems


def test_large_procurement_needs_seven():
    assert size_problems(["technical"] * 5, min_size=7) == ["too_small"]
    with pytest.raises(PlatformError):
        check_size(["technical"] * 5, min_size=7)


MEMBERS = {"e1", "e2", "e3", "e4", "e5"}


def test_a_chair_needs_more_than_half_of_the_members():
    result = elect_chair({"e1": "e2", "e2": "e2", "e3": "e2", "e4": "e1", "e5": "e1"}, members=MEMBERS)
    assert result.chair == "e2" and result.tally == {"e1": 2, "e2": 3}
    plurality = elect_chair({"e1": "e2", "e2": "e2", "e3": "e1", "e4": "e3", "e5": "e4"}, members=MEMBERS)
    assert plurality.chair is None  # 2 of 5 is not a majority: vote again


def test_every_member_votes_once_for_an_eligible_member():
    with pytest.raises(PlatformError):
        elect_chair({"e1": "e2"}, members=MEMBERS)
    with pytest.raises(PlatformError):
        elect_chair({m: "outsider" for m in MEMBERS}, members=MEMBERS)
    with pytest.raises(PlatformError):
        elect_chair({m: "e1" for m in MEMBERS}, members=MEMBERS, ineligible={"e1"})
