"""The tender archive (电子归档) format ``kaibiao-archive/v1`` and its offline verifier.

No database, no Django: ``python -m crypto.archive ARCHIVE --vkey VKEY`` (or the ``kaibiao-verify``
console script) checks an exported archive with nothing but the platform's published verifier key.
The format is specified in docs/archive.md. An archive is a ZIP file holding:

- ``archive.json``: format, origin, the platform's vkey, scope, and the SHA-256 of every other file;
- ``log/checkpoints.jsonl``: signed checkpoints (C2SP signed notes), ascending size;
- ``log/consistency.jsonl``: a consistency proof between each pair of successive checkpoints;
- ``log/entries.jsonl``: audit entries ``{"index", "body"}`` in index order — every entry of the log
  (scope ``log``: the verifier recomputes the whole tree), or a tender's entries (scope ``tender``);
- ``log/inclusion.jsonl``: for scope ``tender``, each entry's inclusion proof in the last checkpoint;
- further sections (tender, envelopes, receipts, released keys, records, reports) that the verifier
  checks by their hashes and, where it knows their format, by their own signatures.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Iterator

from crypto import merkle
from crypto.checkpoint import Checkpoint, CheckpointError, NoteVerifier, open_checkpoint

FORMAT = "kaibiao-archive/v1"
MANIFEST = "archive.json"
CHECKPOINTS = "log/checkpoints.jsonl"
CONSISTENCY = "log/consistency.jsonl"
ENTRIES = "log/entries.jsonl"
INCLUSION = "log/inclusion.jsonl"


class ArchiveError(ValueError):
    """The archive failed a check; the message names the first failure."""


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Result:
    """What was checked, for the printout."""

    lines: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.lines.append(line)


def _jsonl(archive: zipfile.ZipFile, name: str) -> Iterator[dict]:
    if name not in archive.namelist():
        return
    with archive.open(name) as raw:
        for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                raise ArchiveError(f"{name} line {number}: not JSON") from None


def _check_files(archive: zipfile.ZipFile, manifest: dict, result: Result) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise ArchiveError("archive.json lists no files")
    present = set(archive.namelist()) - {MANIFEST}
    if present != set(listed):
        extra, missing = sorted(present - set(listed)), sorted(set(listed) - present)
        raise ArchiveError(f"files not as listed: unlisted {extra}, missing {missing}")
    for name, expected in sorted(listed.items()):
        digest = hashlib.sha256()
        with archive.open(name) as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise ArchiveError(f"{name}: its SHA-256 differs from archive.json")
    result.note(f"files: {len(listed)} files match their SHA-256 in archive.json")


def _checkpoints(archive: zipfile.ZipFile, verifier: NoteVerifier, origin: str,
                 result: Result) -> list[Checkpoint]:
    checkpoints = []
    for number, item in enumerate(_jsonl(archive, CHECKPOINTS), start=1):
        try:
            checkpoints.append(open_checkpoint(item.get("note", ""), verifier, origin=origin))
        except CheckpointError as exc:
            raise ArchiveError(f"checkpoint {number}: {exc}") from None
    sizes = [c.size for c in checkpoints]
    if not checkpoints:
        raise ArchiveError("the archive holds no checkpoint")
    if sizes != sorted(sizes):
        raise ArchiveError("checkpoints are not in ascending size")
    result.note(f"checkpoints: {len(checkpoints)} signatures verified (sizes {sizes[0]}..{sizes[-1]})")
    proofs = {(p.get("from"), p.get("to")): p.get("proof") for p in _jsonl(archive, CONSISTENCY)}
    for old, new in zip(checkpoints, checkpoints[1:]):
        proof = proofs.get((old.size, new.size))
        if proof is None and old.size != new.size:
            raise ArchiveError(f"no consistency proof from size {old.size} to {new.size}")
        try:
            merkle.verify_consistency(old.size, new.size, [bytes.fromhex(h) for h in proof or []],
                                      old.root_hash, new.root_hash)
        except (merkle.ProofError, ValueError) as exc:
            raise ArchiveError(f"checkpoint of size {old.size} is not a prefix of size {new.size}: "
                               f"{exc}") from None
    if len(checkpoints) > 1:
        result.note(f"consistency: {len(checkpoints) - 1} proofs verified (each checkpoint extends "
                    "the previous one)")
    return checkpoints


def _entry_leaf(item: dict, number: int) -> tuple[int, bytes]:
    index, body = item.get("index"), item.get("body")
    if type(index) is not int or not isinstance(body, str):
        raise ArchiveError(f"entry line {number}: needs an integer index and a text body")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise ArchiveError(f"entry {index}: the body is not JSON") from None
    # The body's bytes are what was hashed: any other spelling of the same entry changes its leaf
    # hash and fails the tree, so re-serialising it here would add time and no assurance.
    if not isinstance(parsed, dict) or parsed.get("index") != index:
        raise ArchiveError(f"entry {index}: the body is not the entry for this index")
    return index, merkle.leaf_hash(body.encode())


def _whole_log(archive, checkpoints: list[Checkpoint], result: Result) -> None:
    builder = merkle.TreeBuilder()
    pending = [c for c in checkpoints]
    position = 0
    while pending and pending[0].size == 0:
        if pending.pop(0).root_hash != merkle.EMPTY_ROOT:
            raise ArchiveError("the checkpoint of size 0 is not the empty tree")
    for number, item in enumerate(_jsonl(archive, ENTRIES), start=1):
        index, leaf = _entry_leaf(item, number)
        if index != position:
            raise ArchiveError(f"entry {position}: missing (the next entry is {index})")
        builder.append(leaf)
        position += 1
        while pending and pending[0].size == position:
            if builder.root() != pending.pop(0).root_hash:
                raise ArchiveError(f"entry {index}: the tree of size {position} differs from its "
                                   "signed checkpoint (the first differing entry is at or before it)")
    if pending:
        raise ArchiveError(f"a checkpoint covers {pending[0].size} entries; the archive holds {position}")
    result.note(f"entries: {position} entries recomputed into the tree; the roots equal every signed "
                "checkpoint")


def _tender_entries(archive, checkpoints: list[Checkpoint], result: Result) -> None:
    last = checkpoints[-1]
    proofs = {p.get("index"): p for p in _jsonl(archive, INCLUSION)}
    count = 0
    for number, item in enumerate(_jsonl(archive, ENTRIES), start=1):
        index, leaf = _entry_leaf(item, number)
        proof = proofs.get(index)
        if proof is None or proof.get("size") != last.size:
            raise ArchiveError(f"entry {index}: no inclusion proof in the checkpoint of size {last.size}")
        try:
            merkle.verify_inclusion(leaf, index, last.size, [bytes.fromhex(h) for h in proof["proof"]],
                                    last.root_hash)
        except (merkle.ProofError, ValueError, KeyError) as exc:
            raise ArchiveError(f"entry {index}: its inclusion proof fails: {exc}") from None
        count += 1
    result.note(f"entries: {count} entries proven included in the signed tree of size {last.size}")


def _check_receipts(archive: zipfile.ZipFile, manifest: dict, vkey: str, result: Result) -> None:
    """Every receipt verifies with the platform's key, and its envelope is the one receipted."""
    from crypto.receipt import ReceiptError, verify_receipt

    names = sorted(n for n in archive.namelist() if n.startswith("receipts/") and n.endswith(".json"))
    lost = []
    for name in names:
        stem = name[len("receipts/"):-len(".json")]
        envelope = f"envelopes/{stem}.tenv"
        try:
            if envelope in archive.namelist():
                with archive.open(envelope) as stream:
                    verify_receipt(archive.read(name), vkey, envelope=stream)
            elif f"envelopes/{stem}.missing" in archive.namelist():
                verify_receipt(archive.read(name), vkey)  # receipted, then lost by the platform
                lost.append(stem)
            else:
                raise ArchiveError(f"{name}: its envelope {envelope} is missing")
        except ReceiptError as exc:
            raise ArchiveError(f"{name}: {exc}") from None
    result.note(f"bids: {len(names)} receipts verified, {len(names) - len(lost)} envelopes' SHA-256 and "
                f"size as receipted" + (f"; envelopes the platform declared lost: {', '.join(lost)}"
                                        if lost else ""))


def _check_keys(archive: zipfile.ZipFile, manifest: dict, vkey: str, result: Result) -> None:
    """Each released file key is the one its envelope commits to (header commitment and MAC)."""
    import base64

    from crypto.envelope import InvalidEnvelope, read_header, verify_file_key

    names = sorted(n for n in archive.namelist() if n.startswith("keys/") and n.endswith(".json"))
    for name in names:
        item = json.loads(archive.read(name))
        envelope = f"envelopes/{item.get('submission')}.tenv"
        if envelope not in archive.namelist():
            raise ArchiveError(f"{name}: its envelope is missing")
        try:
            with archive.open(envelope) as stream:
                verify_file_key(read_header(stream), base64.b64decode(item["file_key"]))
        except (InvalidEnvelope, KeyError, ValueError):
            raise ArchiveError(f"{name}: the released key does not open its envelope") from None
    result.note(f"keys: {len(names)} released file keys match their envelopes' commitments")


def _check_opening_record(archive: zipfile.ZipFile, manifest: dict, vkey: str, result: Result) -> None:
    """The record hashes as stated, and every confirmation is the bidder's signature over it."""
    import base64

    from crypto.keys import verify_p256_signature

    data = json.loads(archive.read("records/opening.json"))
    digest = hashlib.sha256(canonical_json(data["record"]).encode("utf-8")).hexdigest()
    if digest != data.get("sha256"):
        raise ArchiveError("records/opening.json: the record does not hash to its stated SHA-256")
    message = f"tender-opening-record/v1 confirm {digest}".encode("ascii")
    signed = 0
    for c in data.get("confirmations", []):
        if c.get("state") != "confirmed":
            continue
        try:
            ok = verify_p256_signature(base64.b64decode(c["public_key"]), base64.b64decode(c["signature"]),
                                       message)
        except (KeyError, ValueError):
            ok = False
        if not ok:
            raise ArchiveError(f"records/opening.json: {c.get('organisation')}'s confirmation does not "
                               "verify")
        signed += 1
    result.note(f"opening record: hash verified; {signed} bidders' confirmation signatures verified")


def _check_reports(archive: zipfile.ZipFile, manifest: dict, vkey: str, result: Result) -> None:
    """Each evaluation report hashes as stated and each expert's signature is over that hash."""
    import base64

    from crypto import signing

    names = sorted(n for n in archive.namelist() if n.startswith("reports/") and n.endswith(".json"))
    for name in names:
        data = json.loads(archive.read(name))
        digest = hashlib.sha256(canonical_json(data["report"]).encode("utf-8")).hexdigest()
        if digest != data.get("sha256"):
            raise ArchiveError(f"{name}: the report does not hash to its stated SHA-256")
        message = b"kaibiao/evaluation-report/v1\x00" + digest.encode("ascii")
        for s in data.get("signatures", []):
            if s.get("kind") != "signed":
                continue
            try:
                signing.verify(base64.b64decode(s["public_key"]), base64.b64decode(s["signature"]), message)
            except (signing.SignatureError, KeyError, ValueError):
                raise ArchiveError(f"{name}: member {s.get('member')}'s signature does not verify") from None
    result.note(f"reports: {len(names)} evaluation reports, hashes and signatures verified")


# Checks of other sections, keyed by a path prefix; each format registers its own here.
SECTION_CHECKS: dict[str, Callable[[zipfile.ZipFile, dict, str, Result], None]] = {
    "receipts/": _check_receipts,
    "keys/": _check_keys,
    "records/opening.json": _check_opening_record,
    "reports/": _check_reports,
}


def verify_archive(source, *, vkey: str | None = None) -> Result:
    """Verify an archive (a path or a binary file object). Raises ``ArchiveError`` at the first
    failure; returns what was checked."""
    result = Result()
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"not a readable archive: {exc}") from None
    with archive:
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except (KeyError, ValueError):
            raise ArchiveError("archive.json is missing or not JSON") from None
        if manifest.get("format") != FORMAT:
            raise ArchiveError(f"unknown archive format {manifest.get('format')!r}")
        if vkey is None:
            vkey = manifest.get("vkey", "")
            result.note("key: WARNING no --vkey given; trusting the key the archive names. Pass the "
                        "platform's published key to verify against it.")
        elif vkey != manifest.get("vkey"):
            raise ArchiveError("the archive was not exported by the platform whose key was given")
        try:
            verifier = NoteVerifier.from_vkey(vkey)
        except CheckpointError as exc:
            raise ArchiveError(f"bad verifier key: {exc}") from None
        result.note(f"key: {verifier.name} ({verifier.key_id.hex()})")
        _check_files(archive, manifest, result)
        checkpoints = _checkpoints(archive, verifier, manifest.get("origin", verifier.name), result)
        scope = (manifest.get("scope") or {}).get("kind")
        if scope == "log":
            _whole_log(archive, checkpoints, result)
        elif scope == "tender":
            _tender_entries(archive, checkpoints, result)
        else:
            raise ArchiveError(f"unknown scope {scope!r}")
        for prefix, check in sorted(SECTION_CHECKS.items()):
            if any(name.startswith(prefix) for name in archive.namelist()):
                check(archive, manifest, vkey, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kaibiao-verify",
                                     description="Verify an exported tender archive offline.")
    parser.add_argument("archive")
    parser.add_argument("--vkey", help="the platform's published verifier key (recommended)")
    args = parser.parse_args(argv)
    try:
        result = verify_archive(args.archive, vkey=args.vkey)
    except ArchiveError as exc:
        print(f"FAILED: {exc}")
        return 1
    for line in result.lines:
        print(f"ok  {line}")
    print("VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
