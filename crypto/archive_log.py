"""The ``log/`` sections of a ``kaibiao-archive/v2`` archive: checkpoints and their records,
consistency, cosignatures, and the entries — all of them (scope ``log``) or a tender's, proven
complete (scope ``tender``). Pure: reads the ZIP, no Django, no database (docs/archive.md)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from typing import Iterator

from crypto import merkle
from crypto.checkpoint import Checkpoint, CheckpointError, NoteVerifier, open_checkpoint
from crypto.cosignature import CosignatureVerifier

CHECKPOINTS = "log/checkpoints.jsonl"
CONSISTENCY = "log/consistency.jsonl"
ENTRIES = "log/entries.jsonl"
RECORDS = "log/records.jsonl"
INCLUSION = "log/inclusion.jsonl"
RECORD_ACTION = "audit.checkpoint.issued"


class ArchiveError(ValueError):
    """The archive failed a check; the message names the first failure."""


@dataclass
class Signed:
    """One checkpoint of the archive, as its note states it, with what came with it."""

    checkpoint: Checkpoint
    item: dict
    number: int | None = None  # from its record
    record_time: str | None = None  # the record's "time": when the platform says it issued it

    @property
    def size(self) -> int:
        return self.checkpoint.size


@dataclass
class LogView:
    checkpoints: list[Signed]
    entries: list[tuple[int, dict]] = field(default_factory=list)  # (index, parsed body)


def jsonl(archive: zipfile.ZipFile, name: str) -> Iterator[dict]:
    if name not in archive.namelist():
        return
    with archive.open(name) as raw:
        for number, data in enumerate(raw, start=1):
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ArchiveError(f"{name} line {number}: not UTF-8") from None
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                raise ArchiveError(f"{name} line {number}: not JSON") from None
            if not isinstance(item, dict):
                raise ArchiveError(f"{name} line {number}: not a JSON object")
            yield item


def read_checkpoints(archive: zipfile.ZipFile, verifier: NoteVerifier, origin: str,
                     lines: list[str]) -> list[Signed]:
    """Every checkpoint signed by the trusted key, ascending, each extending the one before."""
    signed = []
    for number, item in enumerate(jsonl(archive, CHECKPOINTS), start=1):
        try:
            signed.append(Signed(open_checkpoint(item.get("note", ""), verifier, origin=origin), item))
        except CheckpointError as exc:
            raise ArchiveError(f"checkpoint {number}: {exc}") from None
    if not signed:
        raise ArchiveError("the archive holds no checkpoint")
    sizes = [s.size for s in signed]
    if any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ArchiveError("checkpoints are not in strictly ascending size")
    lines.append(f"checkpoints: {len(signed)} signatures verified (sizes {sizes[0]}..{sizes[-1]})")
    proofs = {(p.get("from"), p.get("to")): p.get("proof") for p in jsonl(archive, CONSISTENCY)
              if type(p.get("from")) is int and type(p.get("to")) is int}
    for old, new in zip(signed, signed[1:]):
        proof = proofs.get((old.size, new.size))
        if not isinstance(proof, list):
            raise ArchiveError(f"no consistency proof from size {old.size} to {new.size}")
        try:
            merkle.verify_consistency(old.size, new.size, [bytes.fromhex(h) for h in proof],
                                      old.checkpoint.root_hash, new.checkpoint.root_hash)
        except (merkle.ProofError, ValueError, TypeError) as exc:
            raise ArchiveError(f"checkpoint of size {old.size} is not a prefix of size {new.size}: "
                               f"{exc}") from None
    if len(signed) > 1:
        lines.append(f"consistency: {len(signed) - 1} proofs verified (each checkpoint extends the "
                     "previous one)")
    return signed


def check_cosignatures(signed: list[Signed], witnesses: list[CosignatureVerifier], quorum: int,
                       lines: list[str]) -> None:
    """The final checkpoint must carry ``quorum`` valid cosignatures from the given witnesses."""
    if not witnesses:
        lines.append("witnesses: NOT CHECKED (no --witness key given); the archive's own cosignatures "
                     "are not trusted without one")
        return
    final = signed[-1]
    note = final.item.get("note", "") + "".join(final.item.get("cosignatures") or [])
    valid = []
    for witness in witnesses:
        try:
            witness.verify(note)
            valid.append(witness.name)
        except CheckpointError as exc:
            if "not cosigned" not in str(exc):
                raise ArchiveError(f"the final checkpoint (size {final.size}): {exc}") from None
    if len(valid) < quorum:
        raise ArchiveError(f"the final checkpoint (size {final.size}) has {len(valid)} of the {quorum} "
                           "cosignatures required from the given witnesses: no witness vouches that "
                           "it extends what they saw (a log cut back or rewritten cannot collect them)")
    lines.append(f"witnesses: the final checkpoint is cosigned by {', '.join(valid)} "
                 f"(quorum {quorum})")


def parse_entry(item: dict, where: str) -> tuple[int, bytes, dict]:
    index, body = item.get("index"), item.get("body")
    if type(index) is not int or not isinstance(body, str):
        raise ArchiveError(f"{where}: needs an integer index and a text body")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise ArchiveError(f"entry {index}: the body is not JSON") from None
    # The body's bytes are what was hashed: any other spelling changes the leaf hash and fails
    # the tree, so re-serialising it here would add time and no assurance.
    if not isinstance(parsed, dict) or parsed.get("index") != index:
        raise ArchiveError(f"entry {index}: the body is not the entry for this index")
    return index, merkle.leaf_hash(body.encode()), parsed


def check_records(signed: list[Signed], records: dict[int, dict], lines: list[str], *,
                  first_is_first: bool) -> None:
    """Each checkpoint's tree ends with its record; numbers run without a gap.
    ``first_is_first``: the archive starts at the log's first record (scope ``log``)."""
    previous = None
    for item in signed:
        body = records.get(item.size - 1)
        data = body.get("data") if body and body.get("action") == RECORD_ACTION else None
        if not isinstance(data, dict) or type(data.get("number")) is not int:
            raise ArchiveError(f"the checkpoint of size {item.size}: entry {item.size - 1} is not its "
                               "record")
        item.number = data["number"]
        item.record_time = body.get("time")
        if previous is not None:
            if item.number != previous.number + 1:
                raise ArchiveError(f"checkpoints #{previous.number + 1}..#{item.number - 1} are missing "
                                   f"from the archive (between sizes {previous.size} and {item.size})")
            if data.get("previous") != {"number": previous.number, "size": previous.size}:
                raise ArchiveError(f"checkpoint #{item.number}'s record names another previous checkpoint")
        elif first_is_first and (item.number != 1 or data.get("previous") is not None):
            raise ArchiveError(f"the log's first checkpoint record is #{item.number}, not #1")
        previous = item
    lines.append(f"records: checkpoints #{signed[0].number}..#{signed[-1].number}, each recorded as "
                 "the last entry of its tree, none missing")


def whole_log(archive: zipfile.ZipFile, signed: list[Signed], lines: list[str]) -> None:
    builder = merkle.TreeBuilder()
    pending = list(signed)
    records: dict[int, dict] = {}
    position = 0
    for number, item in enumerate(jsonl(archive, ENTRIES), start=1):
        index, leaf, body = parse_entry(item, f"entry line {number}")
        if index != position:
            raise ArchiveError(f"entry {position}: missing (the next entry is {index})")
        if body.get("action") == RECORD_ACTION:
            records[index] = body
        builder.append(leaf)
        position += 1
        while pending and pending[0].size == position:
            if builder.root() != pending.pop(0).checkpoint.root_hash:
                raise ArchiveError(f"entry {index}: the tree of size {position} differs from its signed "
                                   "checkpoint (the first differing entry is at or before it)")
    if pending:
        raise ArchiveError(f"a checkpoint covers {pending[0].size} entries; the archive holds {position}")
    lines.append(f"entries: {position} entries recomputed into the tree; the roots equal every signed "
                 "checkpoint")
    numbered = [s for s in signed if s.size - 1 in records]
    if len(numbered) != len(records):
        raise ArchiveError("the log records checkpoints the archive does not hold")
    if numbered:
        check_records(numbered, records, lines, first_is_first=True)


def _included(archive: zipfile.ZipFile, final: Signed) -> dict[int, list[bytes]]:
    proofs = {}
    for p in jsonl(archive, INCLUSION):
        if p.get("size") != final.size or type(p.get("index")) is not int:
            raise ArchiveError(f"an inclusion proof is not for the final checkpoint (size {final.size})")
        try:
            proofs[p["index"]] = [bytes.fromhex(h) for h in p["proof"]]
        except (KeyError, TypeError, ValueError):
            raise ArchiveError(f"entry {p.get('index')}: malformed inclusion proof") from None
    return proofs


def tender_entries(archive: zipfile.ZipFile, signed: list[Signed], tender: int,
                   lines: list[str]) -> list[tuple[int, dict]]:
    """The tender's entries, each proven in the final tree, and proven to be all of them."""
    final = signed[-1]
    proofs = _included(archive, final)

    def included(index: int, leaf: bytes) -> None:
        proof = proofs.get(index)
        if proof is None:
            raise ArchiveError(f"entry {index}: no inclusion proof in the checkpoint of size {final.size}")
        try:
            merkle.verify_inclusion(leaf, index, final.size, proof, final.checkpoint.root_hash)
        except merkle.ProofError as exc:
            raise ArchiveError(f"entry {index}: its inclusion proof fails: {exc}") from None

    records = {}
    for number, item in enumerate(jsonl(archive, RECORDS), start=1):
        index, leaf, body = parse_entry(item, f"record line {number}")
        included(index, leaf)
        records[index] = body
    check_records(signed, records, lines, first_is_first=False)
    entries: list[tuple[int, dict]] = []
    for number, item in enumerate(jsonl(archive, ENTRIES), start=1):
        index, leaf, body = parse_entry(item, f"entry line {number}")
        if entries and index <= entries[-1][0]:
            raise ArchiveError(f"entry {index}: out of order or twice (after entry {entries[-1][0]})")
        if body.get("tender") != tender:
            raise ArchiveError(f"entry {index}: belongs to tender {body.get('tender')!r}, not {tender}")
        included(index, leaf)
        entries.append((index, body))
    _complete(signed, records, entries, tender)
    lines.append(f"entries: {len(entries)} entries of tender {tender}, each proven in the signed tree of "
                 f"size {final.size}; the checkpoint records #{signed[0].number}..#{signed[-1].number} "
                 "count exactly these (none missing, none foreign, none twice, in order)")
    return entries


def _complete(signed: list[Signed], records: dict[int, dict], entries: list[tuple[int, dict]],
              tender: int) -> None:
    """Each record states the tender's entry count and last index whenever it had entries since
    the record before; the archive must hold exactly those."""
    key, position, previous_index = str(tender), 0, -1
    for item in signed:
        record_index = item.size - 1
        while position < len(entries) and entries[position][0] < record_index:
            position += 1
        stated = (records[record_index].get("data") or {}).get("tenders", {}).get(key)
        last = entries[position - 1][0] if position else None
        if stated is not None:
            if stated != {"count": position, "last": last}:
                how = ("missing" if isinstance(stated.get("count"), int) and position < stated["count"]
                       else "added or out of place")
                raise ArchiveError(f"checkpoint #{item.number}'s record counts {stated.get('count')} "
                                   f"entries of tender {tender} before entry {record_index}, the last "
                                   f"{stated.get('last')}; the archive holds {position}, the last "
                                   f"{last}: entries are {how}")
        elif last is not None and last > previous_index:
            raise ArchiveError(f"entry {last} of tender {tender} falls before checkpoint #{item.number}, "
                               "whose record counts no entry of the tender since the one before")
        previous_index = record_index
    final = (records[signed[-1].size - 1].get("data") or {}).get("tenders", {})
    if key not in final:
        raise ArchiveError(f"the final checkpoint's record does not state tender {tender}'s count")
    if position != len(entries):
        raise ArchiveError(f"entry {entries[position][0]} is not below the final checkpoint's record")


def check_timestamps(signed: list[Signed], roots: list, max_delay: float, lines: list[str]) -> None:
    """With TSA roots given: every checkpoint carries an RFC 3161 timestamp over its note from a TSA
    chaining to them, dated no earlier than its record says it was issued (5 s of clock skew)
    and at most ``max_delay`` seconds later — a checkpoint made, or remade, later than it claims
    cannot get a timestamp from the past."""
    import base64
    from datetime import datetime

    from crypto.timestamp import TimestampError, verify_timestamp

    if not roots:
        lines.append("timestamps: NOT CHECKED (no --tsa-root given)")
        return
    for item in signed:
        token = item.item.get("timestamp")
        label = f"checkpoint #{item.number} (size {item.size})"
        if not isinstance(token, str):
            raise ArchiveError(f"{label} carries no RFC 3161 timestamp")
        try:
            gen_time = verify_timestamp(base64.b64decode(token, validate=True), item.item["note"].encode(),
                                        roots)
            issued = datetime.fromisoformat(item.record_time or "")
        except (TimestampError, ValueError) as exc:
            raise ArchiveError(f"{label}: its timestamp does not verify: {exc}") from None
        delay = (gen_time - issued).total_seconds()
        if delay < -5:
            raise ArchiveError(f"{label} was timestamped {-delay:.0f} s before its record says it was "
                               "issued")
        if delay > max_delay:
            raise ArchiveError(f"{label} was timestamped {delay:.0f} s after its record says it was "
                               f"issued (at most {max_delay:.0f} s): it was made, or remade, later")
    lines.append(f"timestamps: {len(signed)} checkpoints timestamped by a trusted TSA, each within "
                 f"{max_delay:.0f} s of its issue")
