"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Pure functions over 32-byte SHA-256 hashes; no I/O. The tree of leaves D[0:n] is hashed as
MTH (RFC 6962 §2.1): a leaf is ``SHA-256(0x00 || data)``, an inner node ``SHA-256(0x01 || l || r)``,
and a list of n > 1 leaves splits at k, the largest power of two smaller than n. The distinct
prefixes keep a leaf from ever being passed off as an inner node (second-preimage resistance).

Proof generation reads hashes from a store with ``subtree_hash(start, end)`` (see ``SubtreeHashes``)
so that a database can serve proofs for a large log from cached subtree hashes.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256() (RFC 6962 §2.1)

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof, hash or tree size failed verification. The only error the verifiers raise."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an inner node."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash")
    return bytes(value)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves whose leaf hashes are given, in O(n) time.

    Hashes level by level, carrying an unpaired last node up unchanged: this yields exactly the
    RFC 6962 split-at-largest-power-of-two tree (the left part is always a perfect subtree) and
    is several times faster in Python than recursion. Raises ``ValueError`` for a hash that is
    not 32 bytes.
    """
    level = [bytes(h) for h in hashes]
    if any(len(h) != HASH_SIZE for h in level):
        raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes")
    if not level:
        return EMPTY_ROOT
    sha, one = _sha256, b"\x01"
    while len(level) > 1:
        paired = [sha(one + a + b).digest() for a, b in zip(level[0::2], level[1::2])]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


class TreeBuilder:
    """Streaming MTH: ``append`` leaf hashes one by one, ask ``root()`` at any size.

    Keeps only the roots of the perfect subtrees the leaves so far decompose into (one per set
    bit of ``size``, largest and leftmost first), so memory is O(log n) and an offline verifier
    can stream a log of any length. ``frontier`` and the constructor let a caller persist and
    resume that state.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self, size: int = 0, frontier: Iterable[bytes] = ()) -> None:
        stack = [bytes(h) for h in frontier]
        if size < 0 or len(stack) != size.bit_count() or any(len(h) != HASH_SIZE for h in stack):
            raise ValueError("frontier must hold one 32-byte hash per set bit of size")
        self._size = size
        self._stack = stack

    @property
    def size(self) -> int:
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees covering the leaves, left to right."""
        return tuple(self._stack)

    def append(self, leaf: bytes) -> list[bytes]:
        """Add the next leaf hash (not leaf data), merging equal-sized subtrees as they complete;
        returns the hashes of the perfect subtrees this leaf completes, level 1 first."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes")
        h, n = bytes(leaf), self._size
        completed = []
        while n & 1:  # a trailing 1 bit of size: a stacked subtree as large as h, so merge them
            h = node_hash(self._stack.pop(), h)
            completed.append(h)
            n >>= 1
        self._stack.append(h)
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of the leaves so far: the frontier folded right to left (EMPTY_ROOT when empty)."""
        if not self._stack:
            return EMPTY_ROOT
        root = self._stack[-1]
        for h in reversed(self._stack[:-1]):
            root = node_hash(h, root)
        return root


class SubtreeHashes(Protocol):
    """What proof generation needs from storage.

    ``subtree_hash(start, end)`` returns MTH(D[start:end]) for 0 <= start < end <= the store's
    size. Proofs only ask for ranges whose start is a multiple of the largest power of two not
    above ``end - start``; such a range is a run of at most log2(n) *aligned perfect* subtrees
    (the binary digits of its length, largest first), folded right to left. A database store
    therefore only needs the hashes of aligned perfect subtrees — leaf hashes plus (level, index)
    node rows — and can subclass ``PerfectSubtreeStore``, implementing ``perfect_hash``.
    """

    def subtree_hash(self, start: int, end: int) -> bytes: ...


class PerfectSubtreeStore(ABC):
    """A ``SubtreeHashes`` built from aligned perfect subtree hashes.

    Subclasses provide ``size`` and ``perfect_hash(level, index)``: the hash of the perfect
    subtree over leaves [index * 2**level, (index + 1) * 2**level), level 0 being leaf hashes.
    """

    size: int

    @abstractmethod
    def perfect_hash(self, level: int, index: int) -> bytes: ...

    def subtree_hash(self, start: int, end: int) -> bytes:
        if not 0 <= start < end <= self.size:
            raise ValueError(f"range [{start}, {end}) is not within a tree of size {self.size}")
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.perfect_hash(n.bit_length() - 1, start // n)
        # Not one stored subtree (n >= 2 here: a single leaf is always aligned): split as MTH
        # does. For the ranges proofs ask for, the left part is aligned (one lookup); other
        # ranges still come out right, only with more lookups.
        k = _split(n)
        return node_hash(self.subtree_hash(start, start + k), self.subtree_hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is not within 0..{self.size}")
        return self.subtree_hash(0, size) if size else EMPTY_ROOT


class MemoryTree(PerfectSubtreeStore):
    """All aligned perfect subtree hashes of a list of leaf hashes, held in memory.

    Building costs O(n) hashes and about 2n * 32 bytes; afterwards each hash of a root or proof,
    for any size <= n, costs at most log2(n) lookups (and node hashes on the unaligned right edge).
    """

    def __init__(self, leaf_hashes: Iterable[bytes]) -> None:
        level = [bytes(h) for h in leaf_hashes]
        if any(len(h) != HASH_SIZE for h in level):
            raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes")
        self._levels = [level]
        sha, one = _sha256, b"\x01"
        while len(level) >= 2:  # an unpaired last node is not a perfect subtree: not stored
            level = [sha(one + a + b).digest() for a, b in zip(level[0::2], level[1::2])]
            self._levels.append(level)
        self.size = len(self._levels[0])

    def perfect_hash(self, level: int, index: int) -> bytes:
        if index < 0:
            raise IndexError(index)
        return self._levels[level][index]


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The [start, end) leaf ranges whose MTHs make up PATH(index, D[0:size]), in proof order.

    RFC 9162 §2.1.3.1, unrolled: descend from the root towards the leaf, each step recording the
    sibling subtree; the proof lists siblings from the leaf up, hence the final reverse.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    ranges = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up PROOF(m, D[0:n]) (RFC 9162 §2.1.4.1), in proof order.

    SUBPROOF unrolled. The proof is empty for m == 0 and m == n (nothing to prove; see
    ``verify_consistency``), as in the reference implementation (transparency-dev/merkle).
    """
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    ranges = []
    start, end, whole = 0, n, True  # whole: b in SUBPROOF, "this subtree is the old tree itself"
    while True:
        if m == end - start:
            if not whole:  # the old tree's right edge is a subtree of the new one: give its hash
                ranges.append((start, end))
            break
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, store: SubtreeHashes) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` leaves of ``store``."""
    return [store.subtree_hash(s, e) for s, e in inclusion_ranges(index, size)]


def consistency_proof(m: int, n: int, store: SubtreeHashes) -> list[bytes]:
    """The proof that the tree of size ``m`` is a prefix of the tree of size ``n`` in ``store``."""
    return [store.subtree_hash(s, e) for s, e in consistency_ranges(m, n)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2 step by step. Returns None; raises ``ProofError`` on any failure,
    including index >= size, a proof of the wrong length or a hash that is not 32 bytes.
    """
    r = _check_hash(leaf, "leaf hash")
    root = _check_hash(root, "root")
    path = [_check_hash(p, "proof hash") for p in proof]
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn = index, size - 1
    for p in path:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:  # skip levels where this node has no right sibling
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(m: int, n: int, proof: Sequence[bytes], root_m: bytes,
                       root_n: bytes) -> None:
    """Check that the tree of size ``m`` with ``root_m`` is a prefix of the one of size ``n``.

    RFC 9162 §2.1.4.2 for 0 < m < n. Edge cases, as transparency-dev/merkle's ``proof`` package
    treats them: m > n fails; m == n needs an empty proof and equal roots; 0 == m < n fails
    whatever the proof ("a consistency proof from the empty tree is meaningless": every tree
    extends it, so a caller asking has a bug); an empty proof for 0 < m < n fails. Stricter in one
    place: a tree of size 0 has only one root, SHA-256 of nothing. Raises ``ProofError``.
    """
    root_m = _check_hash(root_m, "old root")
    root_n = _check_hash(root_n, "new root")
    path = [_check_hash(p, "proof hash") for p in proof]
    if not 0 <= m <= n:
        raise ProofError(f"no consistency proof from size {m} to size {n}")
    if m == n:
        if path:
            raise ProofError(f"consistency proof from size {m} to {n} must be empty")
        if m == 0 and root_m != EMPTY_ROOT:
            raise ProofError("the root of an empty tree is SHA-256 of nothing")
        if root_m != root_n:
            raise ProofError("trees of the same size have different roots")
        return
    if m == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if not path:
        raise ProofError("consistency proof is empty")
    if m & (m - 1) == 0:  # the old tree is a perfect subtree of the new one: its root is implied
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root_m or sr != root_n:
        raise ProofError("consistency proof does not lead to both roots")
