"""The committee: who is in the pool snapshot, who must be avoided, size rules, the chair election.

Avoidance (回避, R12 12; Reg 46) — an expert is excluded, with every reason that applies recorded:

==================================  ==========================================================
reason                              when
==================================  ==========================================================
``employer_is_bidder``              the expert's employer org is one of the bidders
``related_to_bidder``               a declared relation names a bidder's org id
``related_to_bidder_manager``       a declared relation names one of a bidder's managers
``supervising_authority_staff``     the expert works for the supervising authority
``penalised``                       the expert is currently penalised
``unavailable``                     the expert is not available (leave, illness, declined in advance)
==================================  ==========================================================

Names compare after Unicode NFKC normalisation and removing all whitespace ("张 三" = "张三").

Size (Law 37; R12 9; F87 47): at least ``min_size`` members (5; 7 for large government procurement),
an odd number, and technical plus economic experts at least two thirds: ``3 × (technical + economic)
≥ 2 × size``, i.e. at most ``size // 3`` "other" experts.

Chair election (R12 9; F87 45): every member votes once for an eligible member; the tenderer's (or
purchaser's) representatives cannot chair. A candidate needs more than half of the members' votes;
otherwise — including any tie at the top — the vote is taken again (the next round).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from common.errors import BadRequest

EXPERT_CATEGORIES = frozenset({"technical", "economic", "other"})
DEFAULT_MIN_SIZE = 5


def normalise_name(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


@dataclass(frozen=True)
class PoolExpert:
    id: str
    region: str
    category: str
    specialties: tuple[str, ...] = ()
    employer: str | None = None  # org id
    related_orgs: tuple[str, ...] = ()
    related_people: tuple[str, ...] = ()
    authority_staff: bool = False
    penalised: bool = False
    available: bool = True

    def __post_init__(self) -> None:
        if not self.id or not self.region:
            raise BadRequest("a pool expert needs an id and a region")
        if self.category not in EXPERT_CATEGORIES:
            raise BadRequest("an expert is technical, economic or other", details={"expert": self.id})

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "PoolExpert":
        return cls(id=str(raw["id"]), region=str(raw["region"]), category=raw.get("category", "technical"),
                   specialties=tuple(sorted(set(raw.get("specialties", ())))),
                   employer=None if raw.get("employer") is None else str(raw["employer"]),
                   related_orgs=tuple(sorted(set(map(str, raw.get("related_orgs", ()))))),
                   related_people=tuple(sorted(set(raw.get("related_people", ())))),
                   authority_staff=bool(raw.get("authority_staff", False)),
                   penalised=bool(raw.get("penalised", False)), available=bool(raw.get("available", True)))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "region": self.region, "category": self.category,
                "specialties": list(self.specialties), "employer": self.employer,
                "related_orgs": list(self.related_orgs), "related_people": list(self.related_people),
                "authority_staff": self.authority_staff, "penalised": self.penalised,
                "available": self.available}


@dataclass(frozen=True)
class Bidder:
    org: str
    managers: tuple[str, ...] = ()  # legal representative, project manager, ... (names)

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | "Bidder") -> "Bidder":
        if isinstance(raw, Bidder):
            return raw
        return cls(org=str(raw["org"]), managers=tuple(sorted(set(raw.get("managers", ())))))

    def as_dict(self) -> dict[str, Any]:
        return {"org": self.org, "managers": list(self.managers)}


def avoidance_reasons(expert: PoolExpert, bidders: Iterable[Bidder]) -> tuple[str, ...]:
    bidders = list(bidders)
    orgs = {b.org for b in bidders}
    managers = {normalise_name(m) for b in bidders for m in b.managers}
    reasons = []
    if expert.employer is not None and expert.employer in orgs:
        reasons.append("employer_is_bidder")
    if orgs & set(expert.related_orgs):
        reasons.append("related_to_bidder")
    if managers & {normalise_name(p) for p in expert.related_people}:
        reasons.append("related_to_bidder_manager")
    if expert.authority_staff:
        reasons.append("supervising_authority_staff")
    if expert.penalised:
        reasons.append("penalised")
    if not expert.available:
        reasons.append("unavailable")
    return tuple(reasons)


def size_problems(categories: Sequence[str], *, min_size: int = DEFAULT_MIN_SIZE) -> list[str]:
    """The committee size rules a composition breaks (empty when it is valid)."""
    n = len(categories)
    problems = []
    if n < min_size:
        problems.append("too_small")
    if n % 2 == 0:
        problems.append("even")
    professional = sum(1 for c in categories if c in ("technical", "economic"))
    if 3 * professional < 2 * n:
        problems.append("too_few_technical_economic")
    return problems


def check_size(categories: Sequence[str], *, min_size: int = DEFAULT_MIN_SIZE) -> None:
    problems = size_problems(categories, min_size=min_size)
    if problems:
        raise BadRequest("the committee breaks the size rules (Law 37, R12 9)",
                         details={"problems": problems, "size": len(categories), "min_size": min_size})


@dataclass(frozen=True)
class ChairElection:
    chair: str | None  # None: no majority, vote again
    tally: dict[str, int] = field(default_factory=dict)


def elect_chair(votes: Mapping[str, str], *, members: Iterable[str],
                ineligible: Iterable[str] = ()) -> ChairElection:
    """``votes``: voter -> candidate. Every member votes exactly once, for an eligible member."""
    members = set(members)
    ineligible = set(ineligible)
    if set(votes) != members:
        raise BadRequest("every member votes exactly once",
                         details={"missing": sorted(members - set(votes)),
                                  "unknown": sorted(set(votes) - members)})
    bad = sorted({c for c in votes.values() if c not in members or c in ineligible})
    if bad:
        raise BadRequest("the tenderer's representatives and non-members cannot chair (F87 45)",
                         details={"candidates": bad})
    tally = dict(sorted(Counter(votes.values()).items()))
    winner, count = max(tally.items(), key=lambda kv: kv[1])
    if 2 * count > len(members):
        return ChairElection(winner, tally)
    return ChairElection(None, tally)
