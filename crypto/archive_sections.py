"""The sections of a ``kaibiao-archive/v2`` archive beyond ``log/``: each known format checked by
its own signatures, and against the signed log (docs/archive.md). Pure: no Django, no database."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from crypto.archive_log import ArchiveError, Signed


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass
class Context:
    """What the section checks may rely on: the trusted key, the verified checkpoints and, for a
    tender archive, its verified entries."""

    vkey: str
    checkpoints: list[Signed]
    entries: list[tuple[int, dict]]
    lines: list[str] = field(default_factory=list)
    sm2_vkey: str | None = None


def _check_receipts(archive: zipfile.ZipFile, ctx: Context) -> None:
    """Every receipt verifies with the platform's key, its envelope is the one receipted, and its
    checkpoint is one of the archive's — so the receipted entry is in the final tree too."""
    from crypto.checkpoint import Checkpoint, CheckpointError, NoteVerifier
    from crypto.receipt import ReceiptError, verify_receipt

    roots = {s.size: s.checkpoint.root_hash for s in ctx.checkpoints}
    verifier = NoteVerifier.from_vkey(ctx.vkey)
    names = sorted(n for n in archive.namelist() if n.startswith("receipts/") and n.endswith(".json"))
    lost = []
    for name in names:
        stem = name[len("receipts/"):-len(".json")]
        envelope = f"envelopes/{stem}.tenv"
        try:
            if envelope in archive.namelist():
                with archive.open(envelope) as stream:
                    verify_receipt(archive.read(name), ctx.vkey, sm2_vkey=ctx.sm2_vkey, envelope=stream)
            elif f"envelopes/{stem}.missing" in archive.namelist():
                verify_receipt(archive.read(name), ctx.vkey, sm2_vkey=ctx.sm2_vkey)  # receipted, then lost by the platform
                lost.append(stem)
            else:
                raise ArchiveError(f"{name}: its envelope {envelope} is missing")
            theirs = Checkpoint.parse_body(verifier.verify(json.loads(archive.read(name))["checkpoint"]))
        except (ReceiptError, CheckpointError) as exc:
            raise ArchiveError(f"{name}: {exc}") from None
        if roots.get(theirs.size) != theirs.root_hash:
            raise ArchiveError(f"{name}: its checkpoint (size {theirs.size}) is not one of the archive's "
                               "consistent checkpoints: the log it was issued from is not this one")
    ctx.lines.append(f"bids: {len(names)} receipts verified, each in a checkpoint that the final tree "
                     f"extends; {len(names) - len(lost)} envelopes' SHA-256 and size as receipted"
                     + (f"; envelopes the platform declared lost: {', '.join(lost)}" if lost else ""))


def _check_keys(archive: zipfile.ZipFile, ctx: Context) -> None:
    """Each released file key is the one its envelope commits to (header commitment and MAC)."""
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
    ctx.lines.append(f"keys: {len(names)} released file keys match their envelopes' commitments")


def _check_opening_record(archive: zipfile.ZipFile, ctx: Context) -> None:
    """The record hashes as stated, and every confirmation is the bidder's signature over it."""
    from crypto.gm import SIGNATURE_ALGORITHMS, verify_bidder_signature, verify_signature_of_suite

    suites = {alg: suite for suite, alg in SIGNATURE_ALGORITHMS.items()}

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
            key, sig = base64.b64decode(c["public_key"]), base64.b64decode(c["signature"])
            if "algorithm" in c:  # the tender's algorithm, exactly (archives before it: by the key)
                ok = verify_signature_of_suite(suites[c["algorithm"]], key, sig, message)
            else:
                ok = verify_bidder_signature(key, sig, message)
        except (KeyError, ValueError):
            ok = False
        if not ok:
            raise ArchiveError(f"records/opening.json: {c.get('organisation')}'s confirmation does not "
                               "verify")
        signed += 1
    ctx.lines.append(f"opening record: hash verified; {signed} bidders' confirmation signatures verified")


def _check_reports(archive: zipfile.ZipFile, ctx: Context) -> None:
    """Each evaluation report hashes as stated and each expert's signature is over that hash."""
    from crypto import gm, signing

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
                key, sig = base64.b64decode(s["public_key"]), base64.b64decode(s["signature"])
                algorithm = s.get("algorithm", "ed25519")
                if algorithm == "sm2-sm3":
                    if len(sig) != gm.SIGNATURE_SIZE or not gm.verify_signature_of_suite("gm", key, sig, message):
                        raise signing.SignatureError("SM2")
                elif algorithm == "ed25519":
                    signing.verify(key, sig, message)
                else:
                    raise signing.SignatureError(f"unknown algorithm {algorithm!r}")
            except (signing.SignatureError, KeyError, ValueError, TypeError):
                raise ArchiveError(f"{name}: member {s.get('member')}'s signature does not verify") from None
    ctx.lines.append(f"reports: {len(names)} evaluation reports, hashes and signatures verified")


# What tender.json states about the lot, replayed from the lot's signed entries.
LOT_SET = ("bidding.lot.created", "bidding.lot.published")  # data: the lot's material values
LOT_CHANGED = ("bidding.lot.edited", "bidding.lot.amended")  # data: {field: [before, after]}
CROSS_CHECKED = ("code", "title", "bid_deadline", "min_bids", "announced_fields", "evaluation_settings")


def _same(field_name: str, stated, logged) -> bool:
    if field_name == "bid_deadline" and isinstance(stated, str) and isinstance(logged, str):
        try:
            return datetime.fromisoformat(stated) == datetime.fromisoformat(logged)
        except ValueError:
            return False
    return stated == logged


def replay_lot(entries: list[tuple[int, dict]]) -> tuple[dict, list[dict]]:
    """The lot's fields as its entries set them, and its amendments, in log order."""
    state: dict = {}
    amendments = []
    for _, body in entries:
        action, data = body.get("action"), body.get("data") or {}
        if action in LOT_SET:
            state.update(data)
        elif action == "bidding.lot.edited" and data.get("via") == "admin":
            for key in data.get("fields", []):  # the admin's edit names fields, not values
                state.pop(key, None)
        elif action in LOT_CHANGED:
            changes = data.get("changes", data) if action == "bidding.lot.amended" else data
            for key, pair in changes.items():
                if isinstance(pair, list) and len(pair) == 2:
                    state[key] = pair[1]
            if action == "bidding.lot.amended":
                amendments.append({"number": data.get("number"), "reason": data.get("reason"),
                                   "changes": data.get("changes")})
    return state, amendments


def _check_tender(archive: zipfile.ZipFile, ctx: Context) -> None:
    """tender.json states what the lot's signed entries set: every cross-checked field, and the
    amendments one for one."""
    try:
        tender = json.loads(archive.read("tender.json"))
        lot = tender["lot"]
        stated_amendments = tender.get("amendments", [])
    except (KeyError, ValueError, TypeError, AttributeError):
        raise ArchiveError("tender.json: not the tender document") from None
    if not isinstance(lot, dict) or not isinstance(stated_amendments, list) or not all(
            isinstance(a, dict) for a in stated_amendments):
        raise ArchiveError("tender.json: not the tender document (the lot is an object, the "
                           "amendments a list of objects)")
    state, amendments = replay_lot(ctx.entries)
    if not state:
        raise ArchiveError("tender.json: no entry of the lot sets its fields")
    for key in CROSS_CHECKED:
        if key in state and not _same(key, lot.get(key), state[key]):
            raise ArchiveError(f"tender.json: the lot's {key} is {lot.get(key)!r}, but the signed log "
                               f"sets {state[key]!r}")
    stated = [{k: a.get(k) for k in ("number", "reason", "changes")} for a in stated_amendments]
    if stated != amendments:
        raise ArchiveError("tender.json: its amendments differ from the amendments in the signed log")
    ctx.lines.append(f"tender: tender.json's {', '.join(k for k in CROSS_CHECKED if k in state)} and "
                     f"{len(amendments)} amendments equal what the lot's signed entries set")


# Checks of sections, keyed by a path prefix, in this order.
SECTION_CHECKS: dict[str, Callable[[zipfile.ZipFile, Context], None]] = {
    "tender.json": _check_tender,
    "receipts/": _check_receipts,
    "keys/": _check_keys,
    "records/opening.json": _check_opening_record,
    "reports/": _check_reports,
}
