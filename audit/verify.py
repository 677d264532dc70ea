"""Re-verification of the stored log against itself: nothing the database says is taken on trust.

``check_log()`` (``manage.py audit_check``) streams every entry in index order and recomputes:

- each entry's leaf hash from its body, and every column a page or the API shows from that body;
- the subtree hashes each entry carries, and the head's size, root and frontier;
- every checkpoint: its signed note against the platform key, the note's size and root against the
  row's columns and against the tree recomputed at that size;
- the checkpoint records (``audit.checkpoints``): numbered without gaps, each with its checkpoint
  row (a deleted row leaves its record behind), each row with its record, and each record's tender
  counts against the entries.

It lists every finding (up to ``MAX_PROBLEMS``), each naming what disagrees, instead of stopping at
the first. What it cannot see from the database alone — the newest entries and checkpoints cut off
together, or a log rewritten and re-signed with the platform's own key — is for the anchors outside
the database (docs/audit.md, "What each check proves").

``LogChecker`` is also the ticker's incremental check (``audit.integrity``): it resumes from a size
and a frontier, so a tick costs only the entries appended since the last one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from common.canonical import format_time
from crypto import merkle
from crypto.checkpoint import CheckpointError

from .checkpoints import RECORD_ACTION, verify_stored_checkpoint
from .models import AuditCheckpoint, AuditEntry, AuditHead

MAX_PROBLEMS = 200
# Columns read per entry, in this order (values_list: no model instances for a million rows).
COLUMNS = ("index", "body", "leaf_hash", "nodes", "created_at", "action", "actor_id", "actor_name",
           "role", "organisation_id", "organisation_name", "ip", "object_type", "object_id",
           "tender_id", "room")
# Each displayed column and where the hashed body holds it (``LogChecker.entry`` reads them in
# this order).
BODY_FIELDS = {
    "created_at": ("time",), "action": ("action",), "actor_id": ("actor", "id"),
    "actor_name": ("actor", "username"), "role": ("actor", "role"),
    "organisation_id": ("actor", "org"), "organisation_name": ("actor", "org_name"), "ip": ("ip",),
    "object_type": ("object", "type"), "object_id": ("object", "id"), "tender_id": ("tender",),
    "room": ("room",),
}


@dataclass(frozen=True)
class Problem:
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass
class Report:
    entries: int = 0
    nodes: int = 0
    checkpoints: int = 0
    records: int = 0
    unnumbered: int = 0  # checkpoints issued before the log recorded them
    root: bytes = b""
    problems: list[Problem] = field(default_factory=list)
    more: int = 0  # findings beyond MAX_PROBLEMS, counted but not listed

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, code: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(code, message))
        else:
            self.more += 1

    def as_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "nodes": self.nodes,
                "checkpoints": self.checkpoints, "records": self.records,
                "unnumbered_checkpoints": self.unnumbered, "root": self.root.hex(),
                "problems": [p.as_dict() for p in self.problems], "more_problems": self.more}


def _shown(column: str, value):
    return format_time(value) if column == "created_at" and isinstance(value, datetime) else value


# PostgreSQL: the same columns with created_at formatted by the database as the body spells it,
# read through a server-side cursor (parsing a million timestamps in Python costs more than the
# rest of the check). The format is format_time's: UTC, microseconds, "Z".
_PG_ROWS = ("SELECT \"index\", body, leaf_hash, nodes, "
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
            + ", ".join(c for c in COLUMNS[5:] if c != "index") + " FROM audit_auditentry "
            "WHERE \"index\" >= %s AND \"index\" < %s ORDER BY \"index\"")


def entry_rows(start: int = 0, end: int | None = None, chunk: int = 5000):
    """Entries ``start <= index < end`` as tuples of ``COLUMNS``, in index order, streamed."""
    from django.db import connection

    if connection.vendor != "postgresql":
        rows = AuditEntry.objects.filter(index__gte=start).order_by("index")
        if end is not None:
            rows = rows.filter(index__lt=end)
        yield from rows.values_list(*COLUMNS).iterator(chunk_size=chunk)
        return
    with connection.chunked_cursor() as cursor:
        cursor.execute(_PG_ROWS, [start, 2**63 - 1 if end is None else end])
        while batch := cursor.fetchmany(chunk):
            yield from batch


def frontier_rows(builder: merkle.TreeBuilder) -> list:
    """The head's frontier format, ``[[subtree size, hex hash], ...]`` left to right."""
    sizes = [1 << bit for bit in range(builder.size.bit_length() - 1, -1, -1) if builder.size >> bit & 1]
    return [[s, h.hex()] for s, h in zip(sizes, builder.frontier)]


class _Signed:
    """A checkpoint row with what its note says (None when the note does not verify)."""

    def __init__(self, row: AuditCheckpoint, report: Report) -> None:
        self.row = row
        self.label = f"checkpoint #{row.number}" if row.number is not None else f"checkpoint (id {row.pk})"
        self.size, self.root = row.size, bytes(row.root)
        try:
            note = verify_stored_checkpoint(row)
        except CheckpointError as exc:
            report.add("checkpoint_signature", f"{self.label} (size {row.size}): its note does not "
                                               f"verify with the platform key: {exc}")
            return
        report.checkpoints += 1
        if note.size != row.size:
            report.add("checkpoint_row", f"{self.label}: the size column says {row.size}, its signed "
                                         f"note {note.size}")
        if note.root_hash != bytes(row.root):
            report.add("checkpoint_row", f"{self.label} (size {note.size}): the root column differs "
                                         "from the root in its signed note")
        self.size, self.root = note.size, note.root_hash


class LogChecker:
    """Recomputes entries in index order from a known state (size 0, or the ticker's last one)."""

    def __init__(self, report: Report, checkpoints: list[AuditCheckpoint], *, size: int = 0,
                 frontier: list | tuple = (), record_number: int = 0, count_tenders: bool = True):
        self.report = report
        self.builder = merkle.TreeBuilder(size, [bytes.fromhex(h) for _, h in frontier])
        self.record_number = record_number
        self.last_record_index = -1
        self.records: dict[int, int] = {}  # number -> index of its record entry
        self.first_record: int | None = None
        # tender id -> [entry count, last index]; None: not counted (the incremental check)
        self.tenders: dict[str, list[int]] | None = {} if count_tenders else None
        self.touched: set[str] = set()
        self.signed = [_Signed(row, report) for row in checkpoints]
        self.by_size: dict[int, list[_Signed]] = {}
        for item in self.signed:
            self.by_size.setdefault(item.size, []).append(item)
        if self.builder.size == 0:
            for item in self.by_size.get(0, []):
                self._compare_root(item)

    @property
    def size(self) -> int:
        return self.builder.size

    def _compare_root(self, item: _Signed) -> None:
        if item.root != self.builder.root():
            self.report.add("checkpoint_root", f"{item.label} (size {item.size}): its signed root "
                                               "differs from the tree recomputed from the entries")

    def entry(self, row: tuple) -> bool:
        """Check the next entry (a tuple of ``COLUMNS``); False when the log cannot be followed
        further (a gap in the indices)."""
        report, i = self.report, self.builder.size
        index, body_text, stored_leaf, stored_nodes = row[:4]
        if index != i:
            report.add("entry_missing", f"entry {i} is missing (the next stored entry is {index})")
            return False
        leaf = merkle.leaf_hash(body_text.encode())
        if bytes(stored_leaf) != leaf:
            report.add("entry_leaf", f"entry {i}: its body does not hash to its stored leaf hash")
        try:
            body = json.loads(body_text)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("index") != i:
            report.add("entry_body", f"entry {i}: its body is not the JSON entry for index {i}")
            body = {}
        actor = body.get("actor") if isinstance(body.get("actor"), dict) else {}
        obj = body.get("object") if isinstance(body.get("object"), dict) else {}
        hashed = (body.get("time"), body.get("action"), actor.get("id"), actor.get("username"),
                  actor.get("role"), actor.get("org"), actor.get("org_name"), body.get("ip"),
                  obj.get("type"), obj.get("id"), body.get("tender"), body.get("room"))
        shown = (_shown("created_at", row[4]), *row[5:])
        if shown != hashed:  # the fast path compares all at once; name each column that differs
            for column, value, said in zip(COLUMNS[4:], shown, hashed):
                if value != said:
                    report.add("entry_column", f"entry {i}: column {column} is {value!r}, but the "
                                               f"hashed body says {said!r}")
        nodes = self.builder.append(leaf)
        if bytes(stored_nodes) != b"".join(nodes):
            report.add("entry_nodes", f"entry {i}: the subtree hashes it carries differ from the "
                                      "recomputed tree")
        report.nodes += len(nodes)
        report.entries += 1
        tender = body.get("tender")
        if self.tenders is not None and tender is not None:
            counted = self.tenders.setdefault(str(tender), [0, -1])
            counted[0] += 1
            counted[1] = i
            self.touched.add(str(tender))
        if body.get("action") == RECORD_ACTION:
            self._record(i, body)
        for item in self.by_size.get(self.builder.size, []):
            self._compare_root(item)
        return True

    def _record(self, i: int, body: dict) -> None:
        report = self.report
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        number = data.get("number")
        report.records += 1
        if type(number) is not int:
            report.add("record", f"entry {i}: a checkpoint record without a number")
            return
        if self.first_record is None:
            self.first_record = i
        if number != self.record_number + 1:
            report.add("record_number", f"entry {i}: checkpoint record #{number} follows record "
                                        f"#{self.record_number}: the log's checkpoint numbers have a gap")
        previous = data.get("previous")
        if self.last_record_index >= 0:
            expected_previous = {"number": self.record_number, "size": self.last_record_index + 1}
            if previous != expected_previous:
                report.add("record", f"entry {i}: checkpoint record #{number} names the previous "
                                     f"checkpoint {previous}, not {expected_previous}")
        elif self.tenders is not None and previous is not None:  # the whole log: its first record
            report.add("record", f"entry {i}: checkpoint record #{number} names a previous checkpoint, "
                                 "but no earlier record is in the log")
        if self.tenders is not None:
            stated = data.get("tenders")
            # Every tender with entries since the record before, and any other it chose to state
            # (an export states its tender's count): each as the log counts it.
            named = self.touched | (set(stated) & set(self.tenders) if isinstance(stated, dict) else set())
            expected = {t: {"count": self.tenders[t][0], "last": self.tenders[t][1]} for t in named}
            if stated != expected:
                differ = sorted(set(expected) ^ set(stated or {})
                                | {t for t in expected if (stated or {}).get(t) != expected[t]})
                report.add("record_tenders", f"entry {i}: checkpoint record #{number} states tender "
                                             f"entry counts that differ from the log for tenders "
                                             f"{', '.join(differ)}")
            self.touched = set()
        self.records[number] = i
        self.record_number = number
        self.last_record_index = i

    def finish(self, *, complete: bool) -> None:
        """Match checkpoint rows and records; ``complete``: every stored entry was read."""
        report = self.report
        rows = {item.row.number: item for item in self.signed if item.row.number is not None}
        for number, index in sorted(self.records.items()):
            item = rows.get(number)
            if item is None:
                report.add("checkpoint_missing", f"checkpoint #{number} is missing: the log records "
                                                 f"it at entry {index} (size {index + 1}), but no "
                                                 "such checkpoint is stored")
            elif item.size != index + 1:
                report.add("checkpoint_record", f"checkpoint #{number} signs size {item.size}, but "
                                                f"its record is entry {index}")
        for number, item in sorted(rows.items()):
            if number not in self.records and (complete or item.size <= self.builder.size):
                report.add("checkpoint_unrecorded", f"checkpoint #{number} (size {item.size}) has no "
                                                    "record in the log")
        ordered = [rows[n] for n in sorted(rows)]
        for a, b in zip(ordered, ordered[1:]):
            if b.row.created_at < a.row.created_at:
                report.add("checkpoint_order", f"checkpoint #{b.row.number} is dated before "
                                               f"#{a.row.number}")
        for item in self.signed:
            if item.row.number is None:
                report.unnumbered += 1
                if self.first_record is not None and item.size > self.first_record:
                    report.add("checkpoint_unrecorded", f"{item.label} (size {item.size}) has no "
                                                        "number, yet checkpoints were numbered by then")
            if complete and item.size > self.builder.size:
                report.add("checkpoint_beyond", f"{item.label} signs size {item.size}, but the log "
                                                f"holds {self.builder.size} entries: entries were "
                                                "removed from its end")
        report.root = self.builder.root()

    def compare_head(self, head: AuditHead | None) -> None:
        report = self.report
        size = head.size if head else 0
        if size != self.builder.size:
            report.add("head_size", f"the head says {size} entries; the log holds {self.builder.size}")
            return
        if head is None:
            return
        if bytes(head.root) != self.builder.root() and (size or bytes(head.root)):
            report.add("head_root", "the head's root differs from the tree recomputed from the entries")
        if head.frontier != frontier_rows(self.builder):
            report.add("head_frontier", "the head's frontier differs from the tree recomputed from "
                                        "the entries")


def check_log(chunk: int = 5000) -> Report:
    """The whole check (``manage.py audit_check``)."""
    report = Report()
    checker = LogChecker(report, list(AuditCheckpoint.objects.order_by("size", "id")))
    complete = all(checker.entry(row) for row in entry_rows(chunk=chunk))
    checker.finish(complete=complete)
    if complete:
        checker.compare_head(AuditHead.objects.filter(pk=1).first())
    return report
