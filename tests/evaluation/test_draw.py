"""The verifiable expert draw (evaluation/rules/draw.py; Reg 46, R12 12, Law 37, R12 9)."""

import hashlib
import hmac

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from common.errors import ErrorCode, PlatformError
from evaluation.rules.committee import Bidder, PoolExpert, avoidance_reasons, size_problems
from evaluation.rules.draw import (PoolSnapshot, canonical_snapshot, commit, draw, replace_declined,
                                   verify_draw)

SEED = hashlib.sha256(b"seed for the tests").digest()
BIDDERS = (Bidder("org-alice", ("张三",)), Bidder("org-bob", ("王五",)))
QUOTAS = {"main": 3, "sub1": 1, "sub2": 1}


def e(id, region, category="technical", **over):
    return PoolExpert(id=id, region=region, category=category, **over)


POOL = (
    e("m1", "main"), e("m2", "main", employer="org-alice"), e("m3", "main", "economic"),
    e("m4", "main", related_people=("张三",)), e("m5", "main"), e("m6", "main", penalised=True),
    e("m7", "main", "economic"), e("m8", "main", authority_staff=True),
    e("s1", "sub1"), e("s2", "sub1", available=False), e("s3", "sub1", related_orgs=("org-bob",)),
    e("s4", "sub1"),
    e("t1", "sub2"), e("t2", "sub2", specialties=("electrical",)), e("t3", "sub2"),
    e("x1", "elsewhere"),  # a region without a quota: out of scope
)
SNAPSHOT = PoolSnapshot(experts=POOL, bidders=BIDDERS)


def hmac_order(seed, ids):
    """Recompute the published rule: HMAC-SHA256(seed, "kaibiao/expert-draw/v1\\0" + id), smaller first."""
    return sorted(ids, key=lambda i: hmac.new(seed, b"kaibiao/expert-draw/v1\x00" + i.encode(),
                                              hashlib.sha256).digest())


def test_the_commitment_is_the_sha256_of_the_seed():
    assert commit(SEED) == hashlib.sha256(SEED).hexdigest()
    with pytest.raises(PlatformError):
        commit(b"too short")


def test_avoided_experts_are_excluded_with_their_reasons():
    result = draw(SNAPSHOT, QUOTAS, SEED)
    assert result.excluded == {
        "m2": ("employer_is_bidder",), "m4": ("related_to_bidder_manager",), "m6": ("penalised",),
        "m8": ("supervising_authority_staff",), "s2": ("unavailable",), "s3": ("related_to_bidder",),
    }
    assert "x1" not in result.excluded and all("x1" not in o for o in result.order_per_region.values())


def test_each_region_takes_the_first_of_its_hmac_order():
    result = draw(SNAPSHOT, QUOTAS, SEED)
    main = hmac_order(SEED, ["m1", "m3", "m5", "m7"])
    sub1 = hmac_order(SEED, ["s1", "s4"])
    sub2 = hmac_order(SEED, ["t1", "t2", "t3"])
    assert result.order_per_region == {"main": tuple(main), "sub1": tuple(sub1), "sub2": tuple(sub2)}
    assert result.committee == tuple(main[:3] + sub1[:1] + sub2[:1])
    assert result.snapshot_sha256 == hashlib.sha256(canonical_snapshot(SNAPSHOT)).hexdigest()


def test_required_specialties_are_filled_first():
    snapshot = PoolSnapshot(experts=POOL, bidders=BIDDERS, required_specialties={"electrical": 1})
    result = draw(snapshot, QUOTAS, SEED)
    # t2 is the only eligible electrical expert: sub2's single seat goes to it whatever its HMAC rank
    assert "t2" in result.committee and sum(1 for i in result.committee if i.startswith("t")) == 1
    with pytest.raises(PlatformError) as info:
        draw(PoolSnapshot(experts=POOL, bidders=BIDDERS, required_specialties={"electrical": 2}),
             QUOTAS, SEED)
    assert info.value.code == ErrorCode.CONFLICT


def test_other_experts_are_capped_to_keep_two_thirds_technical_and_economic():
    # main offers only "other" experts first in any order: at most 5 // 3 = 1 of them is taken
    pool = tuple(e(f"o{i}", "main", "other") for i in range(6)) + (
        e("m1", "main"), e("m2", "main"), e("s1", "sub1"), e("t1", "sub2"))
    result = draw(PoolSnapshot(experts=pool, bidders=BIDDERS), QUOTAS, SEED)
    categories = {p.id: p.category for p in pool}
    assert sum(1 for i in result.committee if categories[i] == "other") == 1
    assert size_problems([categories[i] for i in result.committee]) == []


def test_quotas_must_make_an_odd_committee_of_at_least_five():
    for quotas in ({"main": 3, "sub1": 1}, {"main": 2, "sub1": 1}, {"main": 3, "sub1": 0, "sub2": 2}):
        with pytest.raises(PlatformError):
            draw(SNAPSHOT, quotas, SEED)
    with pytest.raises(PlatformError) as info:
        draw(SNAPSHOT, {"main": 5, "sub1": 1, "sub2": 1}, SEED)  # main has 4 eligible
    assert info.value.code == ErrorCode.CONFLICT and info.value.details["region"] == "main"


def test_a_declining_expert_is_replaced_by_the_next_in_that_regions_order():
    result = draw(SNAPSHOT, QUOTAS, SEED)
    main = list(result.order_per_region["main"])
    after = replace_declined(SNAPSHOT, QUOTAS, result, main[0])
    assert after.replacements == ((main[0], main[3]),)
    assert sorted(after.committee) == sorted(main[1:4] + [result.order_per_region["sub1"][0],
                                                          result.order_per_region["sub2"][0]])
    with pytest.raises(PlatformError):  # main had 4 eligible: nobody left after a second decline
        replace_declined(SNAPSHOT, QUOTAS, after, main[1])
    verify_draw(SNAPSHOT, QUOTAS, SEED, commit(SEED), after.committee, declined=[main[0]])


def test_anyone_can_verify_the_draw_and_tampering_fails():
    result = draw(SNAPSHOT, QUOTAS, SEED)
    verify_draw(SNAPSHOT, QUOTAS, SEED, commit(SEED), result.committee)
    verify_draw(SNAPSHOT, QUOTAS, SEED, commit(SEED).upper(), tuple(reversed(result.committee)))
    other_seed = hashlib.sha256(b"another").digest()
    outsider = next(i for i in result.order_per_region["main"] if i not in result.committee)
    swapped = tuple(outsider if i == result.committee[0] else i for i in result.committee)
    for args in (
        (SNAPSHOT, QUOTAS, other_seed, commit(SEED), result.committee),  # seed ≠ commitment
        (SNAPSHOT, QUOTAS, SEED, commit(SEED), swapped),  # a designated expert
        (SNAPSHOT, QUOTAS, SEED, commit(SEED), result.committee[:-1]),  # a dropped member
    ):
        with pytest.raises(PlatformError) as info:
            verify_draw(*args)
        assert info.value.code == ErrorCode.CONFLICT


def test_the_snapshot_is_canonical_whatever_the_order_of_its_lists():
    shuffled = PoolSnapshot(experts=tuple(reversed(POOL)), bidders=tuple(reversed(BIDDERS)))
    assert canonical_snapshot(shuffled) == canonical_snapshot(SNAPSHOT)
    assert draw(shuffled, QUOTAS, SEED).committee == draw(SNAPSHOT, QUOTAS, SEED).committee


def test_a_different_seed_usually_gives_a_different_committee():
    pool = tuple(e(f"{r}{i}", r) for r in ("main", "sub1", "sub2") for i in range(20))
    snapshot = PoolSnapshot(experts=pool, bidders=BIDDERS)
    committees = {frozenset(draw(snapshot, QUOTAS, bytes([n]) * 32).committee) for n in range(20)}
    assert len(committees) >= 18


ORGS = ["org-alice", "org-bob", "org-carol", "org-dan"]
MOSTLY_FALSE = st.sampled_from([False] * 15 + [True])


def region_experts(region, min_size, max_size):
    one = st.builds(
        lambda cat, emp, rel, people, staff, pen, unavailable, spec: dict(
            region=region, category=cat, employer=emp, related_orgs=rel, related_people=people,
            authority_staff=staff, penalised=pen, available=not unavailable, specialties=spec),
        st.sampled_from(["technical", "technical", "economic", "other"]),
        st.sampled_from([None] * 16 + ORGS),
        st.sampled_from([()] * 8 + [("org-carol",), ("org-bob",)]),
        st.sampled_from([()] * 8 + [("张 三",), ("赵六",)]),
        MOSTLY_FALSE, MOSTLY_FALSE, MOSTLY_FALSE,
        st.lists(st.sampled_from(["civil", "electrical"]), max_size=2, unique=True).map(tuple))
    return st.lists(one, min_size=min_size, max_size=max_size)


@st.composite
def pool_experts(draw_):
    raw = (draw_(region_experts("main", 5, 10)) + draw_(region_experts("sub1", 2, 5))
           + draw_(region_experts("sub2", 2, 5)) + draw_(region_experts("far", 0, 3)))
    ids = draw_(st.permutations(range(len(raw))))  # ids do not follow regions
    return [PoolExpert(id=f"x{n}", **fields) for n, fields in zip(ids, raw)]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool_experts(), st.binary(min_size=32, max_size=32), st.sampled_from([{}, {"electrical": 1}]))
def test_random_pools_respect_quotas_avoidance_and_size_and_are_reproducible(pool, seed, required):
    snapshot = PoolSnapshot(experts=tuple(pool), bidders=BIDDERS, required_specialties=required)
    try:
        result = draw(snapshot, QUOTAS, seed)
    except PlatformError as exc:
        assert exc.code == ErrorCode.CONFLICT  # the pool is too small: never a wrong committee
        event("pool too small")
        return
    event("drawn")
    by_id = {p.id: p for p in pool}
    members = [by_id[i] for i in result.committee]
    assert {r: sum(1 for m in members if m.region == r) for r in QUOTAS} == QUOTAS
    assert all(avoidance_reasons(m, BIDDERS) == () for m in members)
    assert size_problems([m.category for m in members]) == []
    for spec, n in required.items():
        assert sum(1 for m in members if spec in m.specialties) >= n
    for p in pool:
        if p.region in QUOTAS:
            assert result.excluded.get(p.id, ()) == avoidance_reasons(p, BIDDERS)
    assert draw(snapshot, QUOTAS, seed) == result
    verify_draw(snapshot, QUOTAS, seed, commit(seed), result.committee)
    try:
        after = replace_declined(snapshot, QUOTAS, result, result.committee[0])
    except PlatformError:
        return
    replaced = [by_id[i] for i in after.committee]
    assert {r: sum(1 for m in replaced if m.region == r) for r in QUOTAS} == QUOTAS
    assert result.committee[0] not in after.committee
    assert size_problems([m.category for m in replaced]) == []
