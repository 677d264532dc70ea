"""The verifiable expert draw (专家抽取): per-region quotas, specialties, avoidance, replacements.

Before the draw the platform records the pool snapshot (``canonical_snapshot``: canonical JSON, its
SHA-256) and ``commit(seed)`` = SHA-256(seed), hex. After the draw it reveals the seed. Anyone can then
check the commitment and recompute the committee with ``draw`` — the selection is a deterministic
function of (snapshot, quotas, seed) only. Nobody designates experts (Reg 46).

The algorithm (``kaibiao/expert-draw/v1``):

1. Experts of regions without a quota are out of scope (not listed). Every other expert with an
   avoidance reason (``committee.avoidance_reasons``) is excluded, with all its reasons recorded.
2. Each region's eligible experts are ordered by
   ``HMAC-SHA256(key=seed, msg=b"kaibiao/expert-draw/v1\\x00" + expert_id UTF-8)``, smaller first.
3. Specialties first: for each required specialty (sorted by code) and until its count is met, take,
   among all regions with quota left, the eligible expert with that specialty whose HMAC is smallest.
4. Then each region (sorted by code) fills its remaining quota from its own order.
5. In steps 3 and 4 an expert of category "other" is skipped once ``size // 3`` others are in, so
   technical and economic experts stay at least two thirds (Law 37, R12 9).
6. If a step cannot be completed the draw fails with ``CONFLICT`` ("the pool is too small").

The quotas' sum is the committee size: at least ``min_size`` (5) and odd, else the draw is refused.

Replacement (``replace_declined``): when a drawn expert declines, the next expert in that region's
order who is not in the committee and has not declined, and whose arrival keeps every specialty
requirement and the two-thirds rule met, takes the seat. Replacements are recorded in the ``Draw``
and replayed by ``verify_draw``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from common.errors import BadRequest, ErrorCode, PlatformError

from .committee import DEFAULT_MIN_SIZE, Bidder, PoolExpert, avoidance_reasons, check_size
from .ranking import check_seed

DRAW_LABEL = b"kaibiao/expert-draw/v1\x00"
FORMAT = "kaibiao/expert-draw/v1"


@dataclass(frozen=True)
class PoolSnapshot:
    experts: tuple[PoolExpert, ...]
    bidders: tuple[Bidder, ...]
    required_specialties: Mapping[str, int] = field(default_factory=dict)
    min_size: int = DEFAULT_MIN_SIZE

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "PoolSnapshot":
        required = raw.get("required_specialties", {})
        if isinstance(required, (list, tuple)):
            required = {s: 1 for s in required}
        return cls(experts=tuple(PoolExpert.parse(e) for e in raw["experts"]),
                   bidders=tuple(Bidder.parse(b) for b in raw["bidders"]),
                   required_specialties=dict(required), min_size=raw.get("min_size", DEFAULT_MIN_SIZE))


@dataclass(frozen=True)
class Draw:
    committee: tuple[str, ...]  # expert ids, by region then by draw order
    excluded: dict[str, tuple[str, ...]]  # expert id -> avoidance reasons
    order_per_region: dict[str, tuple[str, ...]]  # eligible expert ids in draw order
    snapshot_sha256: str
    replacements: tuple[tuple[str, str], ...] = ()  # (declined, replacement), in order


def commit(seed: bytes) -> str:
    """The commitment published before the draw: SHA-256 of the seed, lowercase hex."""
    return hashlib.sha256(check_seed(seed)).hexdigest()


def draw_key(seed: bytes, expert_id: str) -> bytes:
    return hmac.new(seed, DRAW_LABEL + expert_id.encode("utf-8"), hashlib.sha256).digest()


def canonical_snapshot(snapshot: PoolSnapshot) -> bytes:
    """Canonical JSON (sorted keys and lists, no spaces, UTF-8) of everything the draw depends on
    besides quotas and seed."""
    body = {
        "format": FORMAT,
        "experts": [e.as_dict() for e in sorted(snapshot.experts, key=lambda e: e.id)],
        "bidders": [b.as_dict() for b in sorted(snapshot.bidders, key=lambda b: b.org)],
        "required_specialties": dict(sorted(snapshot.required_specialties.items())),
        "min_size": snapshot.min_size,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check_inputs(snapshot: PoolSnapshot, quotas: Mapping[str, int]) -> int:
    ids = [e.id for e in snapshot.experts]
    if len(set(ids)) != len(ids):
        raise BadRequest("expert ids in a pool snapshot are unique")
    if not quotas or any(isinstance(q, bool) or not isinstance(q, int) or q < 1 for q in quotas.values()):
        raise BadRequest("quotas give each region a positive number of experts")
    for spec, count in snapshot.required_specialties.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise BadRequest("a required specialty needs a positive count", details={"specialty": spec})
    size = sum(quotas.values())
    problems = (["too_small"] if size < snapshot.min_size else []) + (["even"] if size % 2 == 0 else [])
    if problems:
        raise BadRequest("the quotas give a committee that breaks the size rules (Law 37, R12 9)",
                         details={"problems": problems, "size": size, "min_size": snapshot.min_size})
    return size


def check_pool(snapshot: PoolSnapshot, quotas: Mapping[str, int]) -> None:
    """What any seed needs, checked before a draw is opened: each quota region has at least its
    quota of eligible experts, each required specialty enough eligible holders in those regions, and
    enough technical and economic experts for the two-thirds rule (``conflict`` otherwise)."""
    check_inputs(snapshot, quotas)
    size = sum(quotas.values())
    eligible = [e for e in snapshot.experts if e.region in quotas and not avoidance_reasons(e, snapshot.bidders)]
    for region in sorted(quotas):
        have = sum(1 for e in eligible if e.region == region)
        if have < quotas[region]:
            raise _too_small("a region's quota cannot be filled", region=region, missing=quotas[region] - have)
    for spec, count in sorted(snapshot.required_specialties.items()):
        if sum(1 for e in eligible if spec in e.specialties) < count:
            raise _too_small("a required specialty cannot be met", specialty=spec)
    if sum(1 for e in eligible if e.category != "other") < size - size // 3:
        raise _too_small("too few technical and economic experts")


def _too_small(message: str, **details: Any) -> PlatformError:
    return PlatformError(ErrorCode.CONFLICT, f"the pool is too small: {message}", details=details)


def _requirements_met(members: Sequence[PoolExpert], required: Mapping[str, int], max_other: int) -> bool:
    if sum(1 for e in members if e.category == "other") > max_other:
        return False
    return all(sum(1 for e in members if spec in e.specialties) >= n for spec, n in required.items())


def draw(snapshot: PoolSnapshot, quotas: Mapping[str, int], seed: bytes) -> Draw:
    seed = check_seed(seed)
    size = check_inputs(snapshot, quotas)
    max_other = size // 3
    excluded: dict[str, tuple[str, ...]] = {}
    eligible: dict[str, list[PoolExpert]] = {region: [] for region in quotas}
    for expert in snapshot.experts:
        if expert.region not in quotas:
            continue
        reasons = avoidance_reasons(expert, snapshot.bidders)
        if reasons:
            excluded[expert.id] = reasons
        else:
            eligible[expert.region].append(expert)
    keys = {e.id: draw_key(seed, e.id) for experts in eligible.values() for e in experts}
    order = {region: sorted(experts, key=lambda e: keys[e.id]) for region, experts in eligible.items()}

    chosen: list[PoolExpert] = []
    left = dict(quotas)

    def others() -> int:
        return sum(1 for e in chosen if e.category == "other")

    def allowed(e: PoolExpert) -> bool:
        return e not in chosen and (e.category != "other" or others() < max_other)

    for spec in sorted(snapshot.required_specialties):
        while sum(1 for e in chosen if spec in e.specialties) < snapshot.required_specialties[spec]:
            candidates = [e for region, experts in order.items() if left[region] > 0
                          for e in experts if spec in e.specialties and allowed(e)]
            if not candidates:
                raise _too_small("a required specialty cannot be met", specialty=spec)
            pick = min(candidates, key=lambda e: keys[e.id])
            chosen.append(pick)
            left[pick.region] -= 1
    for region in sorted(quotas):
        for e in order[region]:
            if left[region] == 0:
                break
            if allowed(e):
                chosen.append(e)
                left[region] -= 1
        if left[region]:
            raise _too_small("a region's quota cannot be filled", region=region, missing=left[region])

    check_size([e.category for e in chosen], min_size=snapshot.min_size)
    position = {e.id: i for experts in order.values() for i, e in enumerate(experts)}
    committee = tuple(e.id for e in sorted(chosen, key=lambda e: (e.region, position[e.id])))
    return Draw(committee=committee, excluded=dict(sorted(excluded.items())),
                order_per_region={r: tuple(e.id for e in order[r]) for r in sorted(order)},
                snapshot_sha256=hashlib.sha256(canonical_snapshot(snapshot)).hexdigest())


def replace_declined(snapshot: PoolSnapshot, quotas: Mapping[str, int], result: Draw,
                     declined: str) -> Draw:
    """The draw after ``declined`` (a committee member) declines; see the module docstring."""
    if declined not in result.committee:
        raise BadRequest("only a drawn member can decline", details={"expert": declined})
    by_id = {e.id: e for e in snapshot.experts}
    region = by_id[declined].region
    gone = {d for d, _ in result.replacements} | {declined}
    staying = [by_id[i] for i in result.committee if i != declined]
    max_other = sum(quotas.values()) // 3
    for candidate_id in result.order_per_region[region]:
        if candidate_id in result.committee or candidate_id in gone:
            continue
        candidate = by_id[candidate_id]
        if _requirements_met(staying + [candidate], snapshot.required_specialties, max_other):
            position = {i: n for ids in result.order_per_region.values() for n, i in enumerate(ids)}
            members = sorted(staying + [candidate], key=lambda e: (e.region, position[e.id]))
            return replace(result, committee=tuple(e.id for e in members),
                           replacements=result.replacements + ((declined, candidate_id),))
    raise _too_small("no replacement left in the region", region=region)


def verify_draw(snapshot: PoolSnapshot, quotas: Mapping[str, int], seed: bytes, commitment: str,
                committee: Sequence[str], *, declined: Sequence[str] = ()) -> None:
    """Check the seed against its commitment and recompute the committee (replaying ``declined`` in
    order). Raises ``PlatformError(CONFLICT)`` if either does not match."""
    if not hmac.compare_digest(commit(seed), commitment.lower()):
        raise PlatformError(ErrorCode.CONFLICT, "the seed does not match its commitment")
    result = draw(snapshot, quotas, seed)
    for expert in declined:
        result = replace_declined(snapshot, quotas, result, expert)
    if sorted(result.committee) != sorted(committee):
        raise PlatformError(ErrorCode.CONFLICT, "the committee is not the one the draw gives",
                            details={"expected": list(result.committee)})


# --- replacing a member mid-session (Reg 48: drawn again under the same rules) --------------------

REPLACEMENT_FORMAT = "kaibiao/expert-replacement/v1"
REPLACEMENT_LABEL = b"kaibiao/expert-replacement/v1\x00"


@dataclass(frozen=True)
class ReplacementInput:
    """Everything a replacement draw depends on besides the seed: the current pool snapshot (it holds
    the staying members too, for the composition rules), the region of the seat, the members who
    stay, everyone who may not be drawn (the replaced member and every earlier member or decliner),
    and the committee size."""

    snapshot: PoolSnapshot
    region: str
    staying: tuple[str, ...]
    out: tuple[str, ...]
    size: int


@dataclass(frozen=True)
class ReplacementDraw:
    expert: str
    order: tuple[str, ...]  # the eligible experts of the region, in draw order
    excluded: dict[str, tuple[str, ...]]  # expert id -> avoidance reasons
    snapshot_sha256: str


def canonical_replacement(inp: ReplacementInput) -> bytes:
    body = json.loads(canonical_snapshot(inp.snapshot))
    body.update(format=REPLACEMENT_FORMAT, region=inp.region, staying=sorted(inp.staying),
                out=sorted(inp.out), size=inp.size)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_replacement(text: str) -> ReplacementInput:
    raw = json.loads(text)
    return ReplacementInput(snapshot=PoolSnapshot.parse(raw), region=raw["region"],
                            staying=tuple(raw["staying"]), out=tuple(raw["out"]), size=raw["size"])


def draw_replacement(inp: ReplacementInput, seed: bytes) -> ReplacementDraw:
    """One expert for the vacated seat, ``kaibiao/expert-replacement/v1``:

    1. candidates are the experts of ``region`` who are neither staying nor ``out``; those with an
       avoidance reason (``committee.avoidance_reasons``, the same rules as the draw) are excluded;
    2. they are ordered by ``HMAC-SHA256(key=seed, msg=b"kaibiao/expert-replacement/v1\\x00" + id)``;
    3. the first whose arrival keeps the specialty requirements and the two-thirds rule (at most
       ``size // 3`` "other" experts) takes the seat; none: ``CONFLICT`` (the pool is too small).
    """
    seed = check_seed(seed)
    by_id = {e.id: e for e in inp.snapshot.experts}
    missing = sorted(set(inp.staying) - set(by_id))
    if missing or len(inp.staying) + 1 != inp.size:
        raise BadRequest("the snapshot holds every staying member and the seat is the one vacancy",
                         details={"missing": missing, "size": inp.size, "staying": len(inp.staying)})
    gone = set(inp.staying) | set(inp.out)
    excluded: dict[str, tuple[str, ...]] = {}
    eligible = []
    for expert in inp.snapshot.experts:
        if expert.region != inp.region or expert.id in gone:
            continue
        reasons = avoidance_reasons(expert, inp.snapshot.bidders)
        if reasons:
            excluded[expert.id] = reasons
        else:
            eligible.append(expert)

    def key(e: PoolExpert) -> bytes:
        return hmac.new(seed, REPLACEMENT_LABEL + e.id.encode("utf-8"), hashlib.sha256).digest()

    order = sorted(eligible, key=key)
    staying = [by_id[i] for i in inp.staying]
    for candidate in order:
        if _requirements_met(staying + [candidate], inp.snapshot.required_specialties, inp.size // 3):
            return ReplacementDraw(expert=candidate.id, order=tuple(e.id for e in order),
                                   excluded=dict(sorted(excluded.items())),
                                   snapshot_sha256=hashlib.sha256(canonical_replacement(inp)).hexdigest())
    raise _too_small("no replacement left in the region", region=inp.region)


def verify_replacement(text: str, seed: bytes, commitment: str, expert: str) -> None:
    """Check the seed against its commitment and redraw from the recorded input (``CONFLICT`` if not)."""
    if not hmac.compare_digest(commit(seed), commitment.lower()):
        raise PlatformError(ErrorCode.CONFLICT, "the seed does not match its commitment")
    result = draw_replacement(parse_replacement(text), seed)
    if result.expert != expert:
        raise PlatformError(ErrorCode.CONFLICT, "the replacement is not the one the draw gives",
                            details={"expected": result.expert})
