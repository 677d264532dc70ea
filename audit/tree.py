"""The stored log as a Merkle tree: roots and proofs read from the database.

Leaf hashes live on ``AuditEntry``, and so do the hashes of the aligned perfect subtrees
(level ≥ 1) each entry completes. A root or a proof therefore costs O(log n) lookups, whatever the
size of the log.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        self._cache: dict[tuple[int, int], bytes] = {}

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
