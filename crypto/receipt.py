"""Bid receipts (回执), formats ``tender-receipt/v1`` (``intl`` tenders) and ``tender-receipt/gm-v1``
(``gm`` tenders): build, sign, and verify offline.

A receipt document is JSON::

    {"receipt": {...body...}, "signature": "<base64>", "signature_algorithm": "ed25519" | "sm2-sm3",
     "audit_entry": "<entry JSON text>", "checkpoint": "<signed note>",
     "inclusion_proof": {"index": i, "size": n, "hashes": [...]}}

``signature`` is the platform's signature over the canonical bytes of ``body`` (sorted keys, no
spaces, UTF-8, as the audit log's entries): Ed25519 for a ``tender-receipt/v1`` body, SM2 with SM3
and the default user ID (``crypto.sm2_note``) for a ``tender-receipt/gm-v1`` body. The body's format
fixes the algorithm; ``signature_algorithm`` names it and must agree (a v1 document written before
the member existed has none and means ``ed25519``). ``audit_entry`` is the log entry that records
the submission, ``checkpoint`` a signed checkpoint of the log issued right after it, and the proof
shows the entry is in that checkpoint's tree. With only the platform's verifier key (``vkey``) a
bidder or a court checks all of it: ``verify_receipt``. Every failure raises ``ReceiptError``.
No Django here: the bidder's tool uses this module as it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any, BinaryIO

from . import gm, merkle, signing
from .checkpoint import CheckpointError, NoteVerifier, open_checkpoint
from .sm2_note import Sm2NoteVerifier

FORMAT = "tender-receipt/v1"
GM_FORMAT = "tender-receipt/gm-v1"
# The body's format -> the suite of the tender, and the algorithm that signs its receipts.
SUITES = {FORMAT: "intl", GM_FORMAT: "gm"}
ALGORITHMS = {FORMAT: "ed25519", GM_FORMAT: "sm2-sm3"}
FORMATS = {suite: fmt for fmt, suite in SUITES.items()}
# A document's members: these, and ``signature_algorithm`` (absent only from v1 documents written
# before it existed). Nothing else: an unknown member is refused, so none can be misread.
DOCUMENT_FIELDS = frozenset({"receipt", "signature", "audit_entry", "checkpoint", "inclusion_proof"})
SUBMITTED_ACTION = "bidding.bid.submitted"
BODY_FIELDS = frozenset({"format", "platform", "submission", "tender", "lot", "bidder", "envelope",
                         "commitment", "key_id", "received_at", "audit_index"})


class ReceiptError(ValueError):
    """The receipt is malformed, its signature or proofs do not verify, or it does not match."""


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    try:
        data = base64.b64decode(str(text).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ReceiptError("malformed base64") from None
    if _b64(data) != text:
        raise ReceiptError("non-canonical base64")
    return data


def make_body(*, platform: str, submission: str, tender: str, lot: str, bidder_name: str,
              credit_code: str, sha256: str, size: int, commitment: str, key_id: str,
              received_at: str, audit_index: int, suite: str = "intl") -> dict[str, Any]:
    if suite not in FORMATS:
        raise ValueError(f"unknown cipher suite {suite!r}")
    return {"format": FORMATS[suite], "platform": platform, "submission": submission, "tender": tender,
            "lot": lot, "bidder": {"name": bidder_name, "credit_code": credit_code},
            "envelope": {"sha256": sha256, "size": size}, "commitment": commitment,
            "key_id": key_id, "received_at": received_at, "audit_index": audit_index}


def sign_receipt(body: dict[str, Any], key, *, audit_entry: str, checkpoint: str,
                 proof_index: int, proof_size: int, proof_hashes: list[bytes]) -> dict[str, Any]:
    """The receipt document: ``body`` signed, with the audit entry, checkpoint and proof attached.
    ``key`` is the platform's Ed25519 key for a v1 body, its SM2 key (``gm.SM2PrivateKey``) for a
    gm-v1 body (or any object with ``sign(message)``: a PKCS#11 key, ``crypto.platform_token``)."""
    if set(body) != BODY_FIELDS or body.get("format") not in SUITES:
        raise ValueError("not a receipt body")
    algorithm = ALGORITHMS[body["format"]]
    if isinstance(key, gm.SM2PrivateKey) != (algorithm == "sm2-sm3"):
        raise ValueError(f"a {body['format']} receipt is signed {algorithm}")
    message = canonical(body)
    signature = gm.sm2_sign(key, message) if isinstance(key, gm.SM2PrivateKey) else signing.sign(key, message)
    return {"receipt": body, "signature": _b64(signature), "signature_algorithm": algorithm,
            "audit_entry": audit_entry, "checkpoint": checkpoint,
            "inclusion_proof": {"index": proof_index, "size": proof_size,
                                "hashes": [_b64(h) for h in proof_hashes]}}


def verify_receipt(document: dict[str, Any] | str | bytes, vkey: str, *, sm2_vkey: str | None = None,
                   envelope: BinaryIO | None = None) -> dict[str, Any]:
    """Verify a receipt document with the platform's ``vkey`` (Ed25519) and, for a gm-v1 receipt,
    its ``sm2_vkey``; return its body.

    Checks: the body's form; that the signature's algorithm is the one of the body's format (an
    Ed25519 signature relabelled ``sm2-sm3``, or a v1 body under an SM2 signature, is refused);
    the signature, with the key of that algorithm; the checkpoint's signature (the Ed25519 key); that the attached
    audit entry is in the checkpoint's tree at the body's ``audit_index``; that the entry records
    this submission (action, envelope hash and commitment); and, with ``envelope`` (a binary file),
    that the envelope's SHA-256 and size are the receipted ones.
    """
    try:
        if isinstance(document, (str, bytes)):
            document = json.loads(document)
        body = document["receipt"]
        signature = _unb64(document["signature"])
        entry_text = document["audit_entry"]
        note = document["checkpoint"]
        proof = document["inclusion_proof"]
        index, size = proof["index"], proof["size"]
        hashes = [_unb64(h) for h in proof["hashes"]]
        algorithm = document.get("signature_algorithm", "ed25519")
        members = set(document)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ReceiptError):
            raise
        raise ReceiptError("not a receipt document") from None
    if members not in (DOCUMENT_FIELDS, DOCUMENT_FIELDS | {"signature_algorithm"}):
        raise ReceiptError("the receipt document's members are not a receipt's")
    if not isinstance(body, dict) or set(body) != BODY_FIELDS or body["format"] not in SUITES:
        raise ReceiptError(f"not a {FORMAT} or {GM_FORMAT} receipt")
    if algorithm != ALGORITHMS[body["format"]]:
        raise ReceiptError(f"a {body['format']} receipt is signed {ALGORITHMS[body['format']]}, "
                           f"not {algorithm!r}")
    try:
        verifier = NoteVerifier.from_vkey(vkey)
        signer = verifier
        if algorithm == "sm2-sm3":
            if not sm2_vkey:
                raise ReceiptError("a gm receipt is checked with the platform's SM2 key (sm2_vkey)")
            signer = Sm2NoteVerifier.from_vkey(sm2_vkey)
    except CheckpointError as exc:
        raise ReceiptError(f"bad platform key: {exc}") from None
    if body["platform"] != verifier.name or signer.name != verifier.name:
        raise ReceiptError("the receipt names another platform")
    try:
        signer.check_signature(signature, canonical(body))
    except CheckpointError:
        raise ReceiptError("the receipt's signature does not verify") from None
    try:
        checkpoint = open_checkpoint(note, verifier)
    except CheckpointError as exc:
        raise ReceiptError(f"the checkpoint does not verify: {exc}") from None
    if not isinstance(entry_text, str) or type(index) is not int or type(size) is not int:
        raise ReceiptError("malformed audit entry or proof")
    if index != body["audit_index"] or size != checkpoint.size:
        raise ReceiptError("the proof is not for this entry and checkpoint")
    try:
        merkle.verify_inclusion(merkle.leaf_hash(entry_text.encode("utf-8")), index, size, hashes,
                                checkpoint.root_hash)
    except merkle.ProofError as exc:
        raise ReceiptError(f"the audit entry is not in the checkpoint: {exc}") from None
    _check_entry(entry_text, body)
    if envelope is not None:
        digest, length = hashlib.sha256(), 0
        while block := envelope.read(1 << 20):
            digest.update(block)
            length += len(block)
        if digest.hexdigest() != body["envelope"]["sha256"] or length != body["envelope"]["size"]:
            raise ReceiptError("the envelope is not the one receipted")
    return body


def _check_entry(entry_text: str, body: dict[str, Any]) -> None:
    try:
        entry = json.loads(entry_text)
        data = entry["data"]
        same = (entry["index"] == body["audit_index"] and entry["action"] == SUBMITTED_ACTION
                and data["submission"] == body["submission"]
                and data["sha256"] == body["envelope"]["sha256"]
                and data["size"] == body["envelope"]["size"]
                and data["commitment"] == body["commitment"]
                and data.get("cipher_suite", "intl") == SUITES[body["format"]])
    except (ValueError, KeyError, TypeError):
        raise ReceiptError("malformed audit entry") from None
    if not same:
        raise ReceiptError("the audit entry does not record this submission")
