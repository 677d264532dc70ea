"""The stored log as a Merkle tree: roots and proofs read from the database.

Leaf hashes live on ``AuditEntry``, and so do the hashes of the aligned perfect subtrees
(level ≥ 1) each entry completes. A root or a proof therefore costs O(log n) lookups, whatever the
size of the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from crypto import merkle

from .models import AuditEntry, AuditHead


class DbTree(merkle.PerfectSubtreeStore):
    """The first ``size`` entries of the stored log (default: all of them, as of the call)."""

    def __init__(self, size: int | None = None) -> None:
        head = AuditHead.objects.filter(pk=1).first()
        stored = head.size if head else 0
        self.size = stored if size is None else size
        if not 0 <= self.size <= stored:
            raise ValueError(f"the log has {stored} entries, not {self.size}")
        self._cache: dict[tuple, bytes] = {}

    def prefetch(self, ranges) -> None:
        """Load, in one query, every stored hash that the subtree hashes of ``ranges`` need
        (``[start, end)`` pairs, as ``merkle.inclusion_ranges`` gives them): an archive's
        thousands of proofs then cost no query each."""
        keys: set[tuple[int, int]] = set()
        todo = set(ranges)
        while todo:
            start, end = todo.pop()
            n = end - start
            if n & (n - 1) == 0 and start % n == 0:
                keys.add((n.bit_length() - 1, start // n))
            else:  # the unaligned right edge: split as MTH does
                k = 1 << ((n - 1).bit_length() - 1)
                todo.update(((start, start + k), (start + k, end)))
        rows = sorted({((i + 1) << level) - 1 for level, i in keys if (level, i) not in self._cache})
        if not rows:
            return
        with connection.cursor() as cursor:  # one array parameter, not thousands of placeholders
            cursor.execute('SELECT "index", leaf_hash, nodes FROM audit_auditentry WHERE "index" = ANY(%s)'
                           if connection.vendor == "postgresql" else
                           'SELECT "index", leaf_hash, nodes FROM audit_auditentry WHERE "index" IN '
                           f'({",".join(map(str, rows))})', [rows] if connection.vendor == "postgresql" else [])
            for index, leaf, nodes in cursor.fetchall():
                nodes = bytes(nodes)
                self._cache[(0, index)] = bytes(leaf)
                for level in range(1, len(nodes) // 32 + 1):  # the subtrees this entry completes
                    self._cache[(level, ((index + 1) >> level) - 1)] = nodes[(level - 1) * 32:level * 32]

    def subtree_hash(self, start: int, end: int) -> bytes:
        # The same unaligned right-edge ranges recur in every proof of one tree: hash them once.
        key = (-1, start, end)
        if key not in self._cache:
            self._cache[key] = super().subtree_hash(start, end)
        return self._cache[key]

    def perfect_hash(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._cache:
            if level == 0:
                value = bytes(AuditEntry.objects.values_list("leaf_hash", flat=True).get(index=index))
            else:
                # The entry that completes it is the subtree's last leaf.
                last = ((index + 1) << level) - 1
                nodes = bytes(AuditEntry.objects.values_list("nodes", flat=True).get(index=last))
                value = nodes[(level - 1) * 32:level * 32]
                if len(value) != 32:
                    raise LookupError(f"entry {last} does not carry the level-{level} node")
            self._cache[key] = value
        return self._cache[key]


@dataclass(frozen=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    hashes: list[bytes]
    root: bytes


def inclusion_proof(index: int, size: int) -> InclusionProof:
    """Proof that entry ``index`` is in the tree of the first ``size`` entries."""
    tree = DbTree(size)
    return InclusionProof(index=index, size=size, leaf_hash=tree.perfect_hash(0, index),
                          hashes=merkle.inclusion_proof(index, size, tree), root=tree.root())


def consistency_proof(m: int, n: int) -> list[bytes]:
    """Proof that the tree of the first ``m`` entries is a prefix of the tree of ``n``."""
    return merkle.consistency_proof(m, n, DbTree(n))


def current_size() -> int:
    head = AuditHead.objects.filter(pk=1).first()
    return head.size if head else 0
