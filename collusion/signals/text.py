"""Look-alike text (实施条例 40(四) 异常一致): stretches of one bidder's documents that reappear,
copied or lightly paraphrased, in another bidder's.

1. Each bid's text is normalised (NFKC, no whitespace or punctuation, lower case), so a reformatted
   copy — a docx paragraph against the lines of a PDF — is still a copy, and cut into overlapping
   windows of ``window`` characters (stride half a window), each remembering where it came from.
2. Boilerplate is removed: a window whose 5-character shingles come mostly from the tender's own
   documents (the forms, declarations and scope the bidders were told to copy) is dropped, so
   quoting the tender never counts.
3. Candidates: MinHash signatures of the windows' shingles in an LSH index (``datasketch``) give
   the pairs of windows, from different bidders, likely to be alike, without comparing every pair.
   Shingles are hashed in bulk with numpy (a polynomial hash of the code points), and a window's
   signature is the minimum of its two half-windows', so each shingle is permuted once.
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
    num_perm: int = 64
    align_min: float = 0.6  # matched characters / the window
    min_block: int = 6  # matched blocks shorter than this are chance
    common_share: float = 0.5
    min_windows: int = 3  # matched windows before a pair of bidders is a lead
    weak_share: float = 0.03  # shared characters / the smaller bid's own (non-boilerplate) text
    moderate_share: float = 0.10
    strong_share: float = 0.30
    max_examples: int = 5


_KEEP = re.compile(r"[^\s\W_]+", re.UNICODE)


@dataclass
class _Doc:
    norm: str
    origin: list[int]  # normalised index → index in ``text``
    text: str


def normalise(text: str) -> _Doc:
    text = unicodedata.normalize("NFKC", text)
    parts, origin = [], []
    for m in _KEEP.finditer(text):
        parts.append(m.group().lower())
        origin.extend(range(m.start(), m.end()))
    norm = "".join(parts)
    if len(norm) != len(origin):  # lower() changed a length (rare letters): keep positions approximate
        origin = (origin + [len(text)] * len(norm))[:len(norm)]
    return _Doc(norm, origin, text)


def _shingle_hashes(norm: str):
    """A 32-bit hash of every 5-character shingle, position by position (numpy, no Python loop)."""
    import numpy as np

    codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - SHINGLE + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    for k in range(SHINGLE):  # h = Σ c[i+k]·P^(4-k) mod 2^32
        h = (h * np.uint64(1_000_003) + codes[k:k + n]) & np.uint64(_MASK32)
    # mix, so neighbouring code points do not give neighbouring hashes
    h = (h * np.uint64(0x9E3779B1)) & np.uint64(_MASK32)
    return h ^ (h >> np.uint64(15))


def _permutations(num_perm: int):
    import numpy as np

    rng = np.random.RandomState(20261203)
    a = rng.randint(1, 1 << 31, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.randint(0, 1 << 31, size=num_perm, dtype=np.uint64)
    return a, b


def _block_minimums(hashes, starts, half: int, a, b):
    """For each block [s, s+half) of shingle positions, the permuted minimum of its hashes."""
    import numpy as np

    out = np.full((len(starts), len(a)), _MASK32, dtype=np.uint64)
    for n, s in enumerate(starts):
        block = hashes[s:s + half]
        if len(block):
            out[n] = ((np.unique(block)[:, None] * a + b) & np.uint64(_MASK32)).min(axis=0)
    return out


def similar_text(bids: dict[str, str], tender_text: str, settings: TextSettings = TextSettings()) -> list[Lead]:
    """``bids``: bidder key → the text of its documents; ``tender_text``: the tender's documents."""
    import numpy as np
    from datasketch import MinHash, MinHashLSH  # imported when the signal runs

    s = settings
    half = s.window // 2
    a, b = _permutations(s.num_perm)
    tender_hashes = np.unique(_shingle_hashes(normalise(tender_text).norm))
    docs: dict[str, _Doc] = {}
    windows: list[tuple[str, int]] = []  # (bidder, start in norm)
    signatures = []
    own_chars: dict[str, int] = {}
    for bidder, text in bids.items():
        doc = normalise(text)
        docs[bidder] = doc
        hashes = _shingle_hashes(doc.norm)
        boiler = np.isin(hashes, tender_hashes) if len(tender_hashes) else np.zeros(len(hashes), dtype=bool)
        starts = list(range(0, max(1, len(hashes)), half))
        blocks = _block_minimums(hashes, starts, half, a, b)
        own = 0
        for n, start in enumerate(starts):
            end = min(len(hashes), start + s.window)
            if end - start < SHINGLE * 4:
                continue
            if boiler[start:end].mean() >= s.boilerplate_share:
                continue
            own += min(half, end - start)
            sig = blocks[n] if n + 1 >= len(blocks) else np.minimum(blocks[n], blocks[n + 1])
            windows.append((bidder, start))
            signatures.append(sig)
        own_chars[bidder] = own
    if not windows:
        return []
    lsh = MinHashLSH(threshold=s.lsh_threshold, num_perm=s.num_perm)
    hashes_of = [MinHash(num_perm=s.num_perm, hashvalues=sig, permutations=(a, b), scheme="affine32")
                 for sig in signatures]
    with lsh.insertion_session() as session:
        for n, mh in enumerate(hashes_of):
            session.insert(n, mh, check_duplication=False)
    matches: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for n, mh in enumerate(hashes_of):
        bidder, start = windows[n]
        for m in lsh.query(mh):
            if m <= n or windows[m][0] == bidder:
                continue
            other, ostart = windows[m]
            span = _align(docs[bidder].norm[start:start + s.window],
                          docs[other].norm[max(0, ostart - half):ostart + s.window + half], s)
            if span is not None:
                matches[n][m] = span
                matches[m][n] = (-1, -1)
    common_limit = max(3, s.common_share * len(bids))
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
        examples = [_example(docs, windows, n, m, s) for n, m in hits[:s.max_examples]]
        leads.append(lead(Signal.SIMILAR_TEXT, (x, y), strength, windows=len(hits), shared_chars=min(shared, min(
            len(docs[x].norm), len(docs[y].norm))), share=round(min(1.0, share), 4), examples=examples))
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
        if not doc.origin:
            return ""
        return doc.text[doc.origin[start]:doc.origin[min(end, len(doc.origin)) - 1] + 1].replace("\n", "")

    return {"a": original(dx, xs, xs + len(a)), "b": original(dy, lo + span[0], lo + span[1]),
            "ratio": round(ratio, 3)}
