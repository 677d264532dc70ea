"""Look-alike text (实施条例 40(四) 异常一致): stretches of one bidder's documents that reappear,
copied or lightly paraphrased, in another bidder's.

1. Each bid's text is normalised (NFKC, no whitespace or punctuation, lower case), so a reformatted
   copy — a docx paragraph against the lines of a PDF — is still a copy, and cut into overlapping
   windows of ``window`` characters (stride half a window), each remembering where it came from.
2. Boilerplate is removed: a window whose 5-character shingles come mostly from the tender's own
   documents (the forms, declarations and scope the bidders were told to copy) is dropped, so
   quoting the tender never counts.
3. Candidates: MinHash signatures of the windows' shingles, banded for LSH (locality-sensitive
   hashing), give the pairs of windows, from different bidders, likely to be alike, without
   comparing every pair. All in numpy: shingles are hashed in bulk (a polynomial hash of the code
   points), a window's signature is the minimum of its two half-windows' (each shingle is permuted
   once), and each band is one sort. Shingles that most bidders use (the trade's vocabulary) are
   left out of the signatures.
4. Each candidate is aligned exactly (``difflib.SequenceMatcher``) against the other bid's window
   and its neighbours; it counts only when matched blocks of ``min_block`` characters or more cover
   ``align_min`` of the window. The evidence quotes the aligned passages.
5. A window that many bidders share (more than ``common_share`` of them, and more than three) is
   the trade's common text rather than a ring's, and does not count either.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher

from .leads import Lead, Signal, Strength, lead

SHINGLE = 5
_MASK32 = (1 << 32) - 1


@dataclass(frozen=True)
class TextSettings:
    window: int = 120  # normalised characters
    boilerplate_share: float = 0.5  # of a window's shingles found in the tender's documents
    lsh_threshold: float = 0.3  # estimated Jaccard for a candidate
    num_perm: int = 63
    bands: int = 21  # 21 bands of 3 rows: half the pairs at J = 0.28 become candidates, 94 % at J = 0.5
    rows: int = 3
    align_min: float = 0.6  # matched characters / the window
    min_block: int = 6  # matched blocks shorter than this are chance
    common_share: float = 0.5
    min_windows: int = 3  # matched windows before a pair of bidders is a lead
    weak_share: float = 0.03  # shared characters / the smaller bid's own (non-boilerplate) text
    moderate_share: float = 0.10
    strong_share: float = 0.30
    max_examples: int = 5
    max_aligned: int = 400  # candidate windows aligned exactly per pair of bidders, at most
    sample_confirm: float = 0.5  # share of the aligned sample that must align for the rest to count


_KEEP = re.compile(r"[^\s\W_]+", re.UNICODE)
_DROP = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass
class _Doc:
    norm: str
    text: str  # NFKC
    _origin: list[int] | None = None

    def origin(self) -> list[int]:
        """Normalised index → index in ``text``; built only for documents quoted in evidence."""
        if self._origin is None:
            origin: list[int] = []
            for m in _KEEP.finditer(self.text):
                origin.extend(range(m.start(), m.end()))
            if len(origin) != len(self.norm):  # lower() changed a length: keep positions approximate
                origin = (origin + [len(self.text)] * len(self.norm))[:len(self.norm)]
            self._origin = origin
        return self._origin


def normalise(text: str) -> _Doc:
    text = unicodedata.normalize("NFKC", text)
    return _Doc(_DROP.sub("", text).lower(), text)


def _shingle_hashes(norm: str):
    """A 32-bit hash of every 5-character shingle, position by position (numpy, no Python loop)."""
    import numpy as np

    codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - SHINGLE + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint32)
    h = np.zeros(n, dtype=np.uint64)
    for k in range(SHINGLE):  # h = Σ c[i+k]·P^(4-k) mod 2^32
        h = (h * np.uint64(1_000_003) + codes[k:k + n]) & np.uint64(_MASK32)
    # mix, so neighbouring code points do not give neighbouring hashes
    h = (h * np.uint64(0x9E3779B1)) & np.uint64(_MASK32)
    return (h ^ (h >> np.uint64(15))).astype(np.uint32)  # 32-bit values: half the memory


def _permutations(num_perm: int):
    import numpy as np

    rng = np.random.RandomState(20261203)
    a = rng.randint(1, 1 << 31, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.randint(0, 1 << 31, size=num_perm, dtype=np.uint64)
    return a, b


def _block_minimums(hashes, usable, starts, half: int, a, b):
    """For each block [s, s+half) of shingle positions (``starts`` are the multiples of ``half``),
    the permuted minimum of its usable hashes, and how many usable positions it has.

    Only the usable positions are permuted (boilerplate and the trade's vocabulary are not), in
    32-bit arithmetic: (h·a + b) mod 2^32 wraps exactly as the 64-bit product masked to 32 bits
    would, at half the memory traffic. ``minimum.reduceat`` runs over chunks of blocks, so memory
    stays at a chunk's positions × permutations."""
    import numpy as np

    n_blocks = len(starts)
    out = np.full((n_blocks, len(a)), _MASK32, dtype=np.uint32)
    where = np.flatnonzero(usable)
    block_of = where // half
    counts = np.bincount(block_of, minlength=n_blocks)[:n_blocks]
    used = hashes[where].astype(np.uint32)
    a32, b32 = a.astype(np.uint32), b.astype(np.uint32)
    per_chunk = max(1, 40_000 // max(1, half))
    bounds = np.searchsorted(block_of, np.arange(0, n_blocks + per_chunk, per_chunk))
    for c, k0 in enumerate(range(0, n_blocks, per_chunk)):
        p0, p1 = bounds[c], bounds[c + 1]
        if p1 <= p0:
            continue
        permuted = used[p0:p1, None] * a32  # uint32: wraps mod 2^32
        permuted += b32
        local = block_of[p0:p1]
        firsts = np.flatnonzero(np.concatenate(([True], local[1:] != local[:-1])))
        out[local[firsts]] = np.minimum.reduceat(permuted, firsts, axis=0)
    return out, counts.tolist()


def _members(values, sorted_set):
    """``np.isin(values, sorted_set)`` for a sorted, unique ``sorted_set`` (what ``np.unique``
    returns): one binary search per value, no sort of the values."""
    import numpy as np

    if not len(sorted_set) or not len(values):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_set, values)
    at[at == len(sorted_set)] = 0
    return sorted_set[at] == values


def _candidates(sig, owner, s: TextSettings, common_limit: float) -> set[tuple[int, int]]:
    """LSH banding: windows whose signatures agree on all ``rows`` values of at least one of the
    ``bands`` bands are candidates (the probability is 1 - (1 - J^rows)^bands for Jaccard J), then
    kept when the signatures' estimated Jaccard reaches ``lsh_threshold``. Vectorised: each band's
    rows are hashed into one key and the windows sorted by it; a bucket holding more bidders than
    ``common_limit`` is the trade's common text and is skipped."""
    import numpy as np

    pairs: set[tuple[int, int]] = set()
    mult = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5][:s.rows] +
                    [1] * max(0, s.rows - 4), dtype=np.uint64)
    for band in range(min(s.bands, sig.shape[1] // s.rows)):
        keys = (sig[:, band * s.rows:(band + 1) * s.rows] * mult[:s.rows]).sum(axis=1, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(sorted_keys)) + 1, [len(order)]))
        lengths = np.diff(bounds)
        for g in np.flatnonzero((lengths >= 2) & (lengths <= 4 * common_limit + 8)):
            group = order[bounds[g]:bounds[g + 1]]
            owners = owner[group]
            if len(set(owners.tolist())) < 2 or len(set(owners.tolist())) > common_limit:
                continue
            members = sorted(group.tolist())
            for i, n in enumerate(members):
                for m in members[i + 1:]:
                    if owner[n] != owner[m]:
                        pairs.add((n, m))
    if not pairs:
        return pairs
    ordered = sorted(pairs)
    left = np.array([p[0] for p in ordered])
    right = np.array([p[1] for p in ordered])
    estimate = (sig[left] == sig[right]).mean(axis=1)
    return {p for p, e in zip(ordered, estimate) if e >= s.lsh_threshold}


def similar_text(bids: dict[str, str], tender_text: str, settings: TextSettings = TextSettings()) -> list[Lead]:
    """``bids``: bidder key → the text of its documents; ``tender_text``: the tender's documents."""
    import numpy as np  # imported when the signal runs

    s = settings
    half = s.window // 2
    a, b = _permutations(s.num_perm)
    tender_hashes = np.unique(_shingle_hashes(normalise(tender_text).norm))
    docs: dict[str, _Doc] = {}
    all_hashes = {}
    for bidder, text in bids.items():
        docs[bidder] = normalise(text)
        all_hashes[bidder] = _shingle_hashes(docs[bidder].norm)
    # The trade's vocabulary: shingles most bidders use are no evidence of copying, and would make
    # every window a candidate of every other.
    common_limit = max(3, s.common_share * len(bids))
    if all_hashes:
        values, counts = np.unique(np.concatenate([np.unique(h) for h in all_hashes.values()]), return_counts=True)
        common = values[counts > common_limit]
    else:
        common = np.zeros(0, dtype=np.uint32)
    excluded = np.union1d(tender_hashes, common)
    from_tender = _members(excluded, tender_hashes)
    windows: list[tuple[str, int]] = []  # (bidder, start in norm)
    signatures = []
    own_chars: dict[str, int] = {}
    for bidder in bids:
        hashes = all_hashes.pop(bidder)
        # one binary search per shingle against tender ∪ common, then which of the two it was
        at = np.searchsorted(excluded, hashes) if len(excluded) else np.zeros(len(hashes), dtype=np.intp)
        at[at == len(excluded)] = 0
        hit = excluded[at] == hashes if len(excluded) else np.zeros(len(hashes), dtype=bool)
        boiler = hit & from_tender[at] if len(excluded) else hit
        usable = ~hit
        starts = np.arange(0, max(1, len(hashes)), half)
        blocks, sizes = _block_minimums(hashes, usable, starts.tolist(), half, a, b)
        # Window n is blocks n and n + 1 (the last window is its block alone), all at once.
        cumulative = np.concatenate(([0], np.cumsum(boiler, dtype=np.int64)))
        ends = np.minimum(len(hashes), starts + s.window)
        lengths = ends - starts
        own_text = (lengths >= SHINGLE * 4) & ((cumulative[ends] - cumulative[starts])
                                              < s.boilerplate_share * lengths)
        own_chars[bidder] = int(np.minimum(half, lengths)[own_text].sum())
        sizes = np.asarray(sizes, dtype=np.int64)
        following = np.concatenate((sizes[1:], [0]))
        kept = own_text & (sizes + following >= SHINGLE * 4)  # else nothing left but vocabulary
        nxt = np.concatenate((blocks[1:], np.full((1, blocks.shape[1]), _MASK32, dtype=blocks.dtype)))
        signatures.append(np.minimum(blocks, nxt)[kept].astype(np.uint32))
        windows.extend((bidder, int(start)) for start in starts[kept])
    if not windows:
        return []
    sig = np.concatenate(signatures)
    owner = np.array([hash(w[0]) for w in windows])
    matches: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    by_pair: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for n, m in sorted(_candidates(sig, owner, s, common_limit)):
        by_pair[tuple(sorted((windows[n][0], windows[m][0])))].append((n, m))
    sampled: dict[tuple[str, str], tuple[int, int, int]] = {}  # pair → (candidates, aligned, confirmed)
    for pair, candidates in by_pair.items():
        # Exact alignment is the costly step: a pair with thousands of candidate windows (one bid
        # copied into another) is aligned on an even sample; if most of the sample aligns, the
        # rest of its candidates count too, and the evidence says how many were aligned.
        step = max(1, len(candidates) // s.max_aligned)
        aligned = confirmed = 0
        kept = []
        for i, (n, m) in enumerate(candidates):
            if i % step:
                kept.append((n, m, None))
                continue
            bidder, start = windows[n]
            other, ostart = windows[m]
            span = _align(docs[bidder].norm[start:start + s.window],
                          docs[other].norm[max(0, ostart - half):ostart + s.window + half], s)
            aligned += 1
            confirmed += span is not None
            if span is not None:
                kept.append((n, m, span))
        accept_rest = step > 1 and confirmed >= s.sample_confirm * aligned
        for n, m, span in kept:
            if span is None and not accept_rest:
                continue
            matches[n][m] = span or (0, 0)
            matches[m][n] = (-1, -1)
        sampled[pair] = (len(candidates), aligned, confirmed)
    pair_hits: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for n, others in matches.items():
        if len({windows[m][0] for m in others}) + 1 > common_limit:
            continue  # the trade's common text
        for m, span in others.items():
            if span == (-1, -1) or len({windows[x][0] for x in matches[m]}) + 1 > common_limit:
                continue
            pair_hits[tuple(sorted((windows[n][0], windows[m][0])))].append((n, m))
    leads = []
    for (x, y), hits in sorted(pair_hits.items()):
        if len({n for n, _ in hits}) < s.min_windows:
            continue
        cover = {x: set(), y: set()}
        for n, m in hits:
            for w in (n, m):
                bidder, start = windows[w]
                cover[bidder].update(range(start // half, start // half + 2))
        shared = min(len(cover[x]), len(cover[y])) * half
        share = shared / max(1, min(own_chars[x], own_chars[y]))
        if share < s.weak_share:
            continue
        strength = (Strength.STRONG if share >= s.strong_share
                    else Strength.MODERATE if share >= s.moderate_share else Strength.WEAK)
        shown = [h for h in hits if matches[h[0]].get(h[1]) != (0, 0)] or hits  # aligned ones first
        examples = [_example(docs, windows, n, m, s) for n, m in shown[:s.max_examples]]
        candidates, aligned, confirmed = sampled.get((x, y), (len(hits), len(hits), len(hits)))
        leads.append(lead(Signal.SIMILAR_TEXT, (x, y), strength, windows=len(hits), shared_chars=min(shared, min(
            len(docs[x].norm), len(docs[y].norm))), share=round(min(1.0, share), 4), candidates=candidates,
            aligned=aligned, confirmed=confirmed, examples=examples))
    return leads


def _align(a: str, context: str, s: TextSettings) -> tuple[int, int] | None:
    sm = SequenceMatcher(None, a, context, autojunk=False)
    blocks = [blk for blk in sm.get_matching_blocks() if blk.size >= s.min_block]
    if sum(blk.size for blk in blocks) < s.align_min * len(a):
        return None
    return blocks[0].b, blocks[-1].b + blocks[-1].size


def _example(docs, windows, n, m, s: TextSettings) -> dict:
    """The two passages in their original wording (punctuation and all), and how alike they are."""
    (xb, xs), (yb, ys) = windows[n], windows[m]
    dx, dy = docs[xb], docs[yb]
    a = dx.norm[xs:xs + s.window]
    half = s.window // 2
    lo = max(0, ys - half)
    context = dy.norm[lo:ys + s.window + half]
    span = _align(a, context, s) or (0, len(context))
    b = context[span[0]:span[1]]
    ratio = SequenceMatcher(None, a, b, autojunk=False).ratio()

    def original(doc: _Doc, start: int, end: int) -> str:
        origin = doc.origin()
        if not origin or end <= start:
            return ""
        return doc.text[origin[start]:origin[min(end, len(origin)) - 1] + 1].replace("\n", "")

    return {"a": original(dx, xs, xs + len(a)), "b": original(dy, lo + span[0], lo + span[1]),
            "ratio": round(ratio, 3)}
