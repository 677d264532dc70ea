"""The tender archive (电子归档) format ``kaibiao-archive/v2`` and its offline verifier.

No database, no Django: ``kaibiao-verify ARCHIVE --vkey VKEY`` (``python -m crypto.archive``)
checks an exported archive with nothing but keys the user trusts: the platform's published
verifier key, and optionally witnesses' keys (``--witness``). The format is specified in
docs/archive.md. An archive is a ZIP file holding:

- ``archive.json``: format, origin, the platform's vkey, scope, counts, and the SHA-256 of every
  other member; ``archive.sig``: a signed note over ``archive.json``'s SHA-256, by the platform key;
- ``log/checkpoints.jsonl``: every signed checkpoint from the first one the scope needs to the
  export's, each with the witnesses' cosignatures the platform holds for it;
- ``log/consistency.jsonl``: a consistency proof between each pair of successive checkpoints;
- ``log/entries.jsonl``: every entry of the log (scope ``log``), or the tender's (scope ``tender``);
- ``log/records.jsonl`` and ``log/inclusion.jsonl`` (scope ``tender``): each checkpoint's record and
  an inclusion proof in the final checkpoint for every entry and record — the records' counts prove
  the tender's entries complete;
- further sections (tender, envelopes, receipts, released keys, records, reports), each covered by
  ``archive.json`` and checked by its own signatures and against the log (``archive_sections``).

Exit status: 0 verified, 1 a check failed, 2 not verified because no key is trusted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import zipfile
from dataclasses import dataclass, field

from crypto import archive_log as log
from crypto.archive_log import ArchiveError
from crypto.archive_sections import SECTION_CHECKS, Context
from crypto.checkpoint import CheckpointError, NoteVerifier
from crypto.cosignature import CosignatureVerifier
from crypto.timestamp import TimestampError, load_roots

FORMAT = "kaibiao-archive/v2"
MANIFEST = "archive.json"
SIGNATURE = "archive.sig"
# Re-exported for the exporter and older callers.
CHECKPOINTS, CONSISTENCY, ENTRIES = log.CHECKPOINTS, log.CONSISTENCY, log.ENTRIES
RECORDS, INCLUSION = log.RECORDS, log.INCLUSION
__all__ = ["ArchiveError", "NotVerified", "FORMAT", "verify_archive", "manifest_signature_body"]


class NotVerified(ArchiveError):
    """Nothing to anchor trust in: no key given, and the archive's own key not accepted."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_signature_body(manifest: bytes) -> str:
    """The note text the platform signs for an archive. Its first line holds a space, so it can
    never parse as a checkpoint (whose first line is an origin, a key name without spaces)."""
    return f"{FORMAT} manifest\n{sha256_hex(manifest)}\n"


@dataclass
class Result:
    """What was checked, for the printout."""

    lines: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.lines.append(line)


def _check_files(archive: zipfile.ZipFile, manifest: dict, result: Result) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise ArchiveError("archive.json lists no files")
    present = set(archive.namelist()) - {MANIFEST, SIGNATURE}
    if len(archive.namelist()) != len(set(archive.namelist())):
        raise ArchiveError("the archive holds a member name twice")
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
    result.note(f"files: {len(listed)} files match their SHA-256 in the signed archive.json")


def _trusted_key(manifest: dict, vkey: str | None, trust_archive_key: bool, result: Result) -> str:
    if vkey is None:
        if not trust_archive_key:
            raise NotVerified("no trusted key: pass the platform's published key with --vkey (or set "
                              "KAIBIAO_VKEY); --trust-archive-key accepts the key the archive names, "
                              "which proves only that the archive is self-consistent")
        result.note("key: WARNING trusting the key the archive names (--trust-archive-key): this shows "
                    "the archive is self-consistent, not that the platform made it")
        return manifest.get("vkey", "")
    if vkey != manifest.get("vkey"):
        raise ArchiveError("the archive was not exported by the platform whose key was given")
    return vkey


def _check_signature(archive: zipfile.ZipFile, raw_manifest: bytes, verifier: NoteVerifier,
                     result: Result) -> None:
    try:
        note = archive.read(SIGNATURE).decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        raise ArchiveError("archive.sig is missing: the manifest is unsigned") from None
    try:
        body = verifier.verify(note)
    except CheckpointError as exc:
        raise ArchiveError(f"archive.json: its signature does not verify: {exc}") from None
    if body != manifest_signature_body(raw_manifest):
        raise ArchiveError("archive.json: the signature is over another manifest (archive.json was "
                           "edited after signing)")
    result.note("manifest: archive.json is signed by the trusted key")


def verify_archive(source, *, vkey: str | None = None, trust_archive_key: bool = False,
                   witnesses: list[str] = (), quorum: int | None = None, tsa_roots: bytes = b"",
                   tsa_max_delay: float = 3600) -> Result:
    """Verify an archive (a path or a binary file object). Raises ``ArchiveError`` at the first
    failure (``NotVerified`` when no key is trusted); returns what was checked."""
    try:
        return _verify(source, vkey=vkey, trust_archive_key=trust_archive_key, witnesses=witnesses,
                       quorum=quorum, tsa_roots=tsa_roots, tsa_max_delay=tsa_max_delay)
    except ArchiveError:
        raise
    except (TypeError, KeyError, AttributeError, ValueError, IndexError, zipfile.BadZipFile,
            EOFError, NotImplementedError, RecursionError) as exc:
        # Fail closed on any shape the checks did not foresee (a field of the wrong JSON type, a
        # damaged member): the archive is not verified, and the caller gets the one error type.
        raise ArchiveError(f"the archive is malformed ({type(exc).__name__}: {exc})"[:300]) from exc


def _verify(source, *, vkey, trust_archive_key, witnesses, quorum, tsa_roots, tsa_max_delay) -> Result:
    result = Result()
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"not a readable archive: {exc}") from None
    with archive:
        try:
            raw_manifest = archive.read(MANIFEST)
            manifest = json.loads(raw_manifest)
        except (KeyError, ValueError):
            raise ArchiveError("archive.json is missing or not JSON") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise ArchiveError(f"unknown archive format {found!r} (this verifier reads {FORMAT}; "
                               "v1 archives carry no signed manifest nor completeness proof)")
        trusted = _trusted_key(manifest, vkey, trust_archive_key, result)
        try:
            verifier = NoteVerifier.from_vkey(trusted)
            witness_keys = [CosignatureVerifier.from_vkey(w) for w in witnesses]
            if tsa_roots:
                load_roots(tsa_roots)
        except (CheckpointError, TimestampError) as exc:
            raise ArchiveError(f"bad key: {exc}") from None
        result.note(f"key: {verifier.name} ({verifier.key_id.hex()})")
        _check_signature(archive, raw_manifest, verifier, result)
        _check_files(archive, manifest, result)
        signed = log.read_checkpoints(archive, verifier, manifest.get("origin", verifier.name),
                                      result.lines)
        log.check_cosignatures(signed, witness_keys, len(witness_keys) if quorum is None else quorum,
                               result.lines)
        scope = manifest.get("scope") if isinstance(manifest.get("scope"), dict) else {}
        entries: list = []
        if scope.get("kind") == "log":
            log.whole_log(archive, signed, result.lines)
        elif scope.get("kind") == "tender" and type(scope.get("lot_id")) is int:
            entries = log.tender_entries(archive, signed, scope["lot_id"], result.lines)
        else:
            raise ArchiveError(f"unknown scope {scope!r}")
        if manifest.get("tree_size") != signed[-1].size or manifest.get("entries") != (
                len(entries) if scope.get("kind") == "tender" else signed[-1].size):
            raise ArchiveError("archive.json's counts differ from the log it holds")
        log.check_timestamps(signed, load_roots(tsa_roots) if tsa_roots else [], tsa_max_delay,
                             result.lines)
        # The SM2 key (receipts of gm tenders) is the one the manifest names: the manifest's
        # signature by the trusted Ed25519 key was checked above, so the name is vouched for.
        sm2_vkey = manifest.get("sm2_vkey") if isinstance(manifest.get("sm2_vkey"), str) else None
        ctx = Context(vkey=trusted, checkpoints=signed, entries=entries, lines=result.lines, sm2_vkey=sm2_vkey)
        for prefix, check in SECTION_CHECKS.items():
            if any(name.startswith(prefix) for name in archive.namelist()):
                check(archive, ctx)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kaibiao-verify",
                                     description="Verify an exported tender archive offline.")
    parser.add_argument("archive")
    parser.add_argument("--vkey", default=os.environ.get("KAIBIAO_VKEY") or None,
                        help="the platform's published verifier key (default: $KAIBIAO_VKEY)")
    parser.add_argument("--trust-archive-key", action="store_true",
                        help="without --vkey, accept the key the archive names (self-consistency only)")
    parser.add_argument("--witness", action="append", default=[], metavar="VKEY",
                        help="a witness's cosignature key; the final checkpoint must be cosigned")
    parser.add_argument("--quorum", type=int, help="cosignatures required (default: every --witness)")
    parser.add_argument("--tsa-root", action="append", default=[], metavar="PEM",
                        help="a trusted TSA root certificate file; every checkpoint must be timestamped")
    parser.add_argument("--tsa-max-delay", type=float, default=3600,
                        help="seconds a checkpoint's timestamp may follow its issue (default 3600)")
    args = parser.parse_args(argv)
    try:
        roots = b"".join(open(path, "rb").read() for path in args.tsa_root)
    except OSError as exc:
        print(f"FAILED: cannot read a --tsa-root: {exc}")
        return 1
    try:
        result = verify_archive(args.archive, vkey=args.vkey, trust_archive_key=args.trust_archive_key,
                                witnesses=args.witness, quorum=args.quorum, tsa_roots=roots,
                                tsa_max_delay=args.tsa_max_delay)
    except NotVerified as exc:
        print(f"NOT VERIFIED: {exc}")
        return 2
    except ArchiveError as exc:
        print(f"FAILED: {exc}")
        return 1
    for line in result.lines:
        print(f"ok  {line}")
    print("VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
