"""Re-verification of the stored log: every entry, every stored node, every checkpoint.

Used by ``manage.py audit_check``. Streams the entries in index order (memory bounded by one level of
the tree), and stops at the first problem, which it reports with the entry it concerns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from crypto import merkle
from crypto.checkpoint import CheckpointError

from .checkpoints import verify_stored_checkpoint
from .log import push_leaf
from .models import AuditCheckpoint, AuditEntry, AuditHead


@dataclass
class Report:
    entries: int = 0
    nodes: int = 0
    checkpoints: int = 0
    root: bytes = b""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _fields_agree(entry: AuditEntry, body: dict) -> str | None:
    expected = {
        "index": entry.index, "action": entry.action, "ip": entry.ip, "room": entry.room,
        "tender": entry.tender_id,
    }
    for key, value in expected.items():
        if body.get(key) != value:
            return f"column {key!r} does not match the hashed body"
    actor = body.get("actor") or {}
    if actor.get("id") != entry.actor_id or actor.get("username") != entry.actor_name:
        return "the actor columns do not match the hashed body"
    obj = body.get("object") or {}
    if obj.get("type") != entry.object_type or obj.get("id") != entry.object_id:
        return "the object columns do not match the hashed body"
    return None


def check_log(chunk: int = 5000) -> Report:
    report = Report()
    checkpoints = list(AuditCheckpoint.objects.order_by("size", "id"))
    pending = iter(checkpoints)
    next_cp = next(pending, None)
    builder = merkle.TreeBuilder()
    frontier: list = []
    # Checkpoints at size 0 commit to the empty tree.
    while next_cp is not None and next_cp.size == 0:
        if bytes(next_cp.root) != merkle.EMPTY_ROOT:
            report.problems.append(f"checkpoint #{next_cp.pk} at size 0 has a wrong root")
            return report
        next_cp = next(pending, None)
    for entry in AuditEntry.objects.order_by("index").iterator(chunk_size=chunk):
        i = report.entries
        if entry.index != i:
            report.problems.append(f"entry {i}: missing (the next stored index is {entry.index})")
            return report
        body_bytes = entry.body.encode()
        if bytes(entry.leaf_hash) != merkle.leaf_hash(body_bytes):
            report.problems.append(f"entry {i}: its stored body does not hash to its leaf hash")
            return report
        try:
            problem = _fields_agree(entry, json.loads(entry.body))
        except ValueError:
            problem = "the body is not JSON"
        if problem:
            report.problems.append(f"entry {i}: {problem}")
            return report
        leaf = merkle.leaf_hash(body_bytes)
        builder.append(leaf)
        frontier, nodes = push_leaf(frontier, leaf)
        if bytes(entry.nodes) != b"".join(nodes):
            report.problems.append(f"entry {i}: the subtree hashes it carries are wrong")
            return report
        report.nodes += len(nodes)
        report.entries += 1
        while next_cp is not None and next_cp.size == report.entries:
            if bytes(next_cp.root) != builder.root():
                report.problems.append(
                    f"entry {i}: the tree of size {next_cp.size} differs from checkpoint #{next_cp.pk}")
                return report
            next_cp = next(pending, None)
    if next_cp is not None:
        report.problems.append(f"checkpoint #{next_cp.pk} is for size {next_cp.size}, "
                               f"beyond the {report.entries} stored entries")
        return report
    report.root = builder.root()
    for record in checkpoints:
        try:
            verify_stored_checkpoint(record)
        except CheckpointError as exc:
            report.problems.append(f"checkpoint #{record.pk} (size {record.size}): {exc}")
            return report
        report.checkpoints += 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.size != report.entries or bytes(head.root) != report.root):
        report.problems.append("the log head disagrees with the entries")
        return report
    return report
