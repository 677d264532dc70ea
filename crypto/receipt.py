"""Bid receipts (回执), format ``tender-receipt/v1``: build, sign, and verify offline.

A receipt document is JSON::

    {"receipt": {...body...}, "signature": "<base64 Ed25519>", "audit_entry": "<entry JSON text>",
     "checkpoint": "<signed note>", "inclusion_proof": {"index": i, "size": n, "hashes": [...]}}

``signature`` is the platform's Ed25519 signature over the canonical bytes of ``body`` (sorted
keys, no spaces, UTF-8, as the audit log's entries). ``audit_entry`` is the log entry that records
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

from . import merkle, signing
from .checkpoint import CheckpointError, NoteVerifier, open_checkpoint

FORMAT = "tender-receipt/v1"
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
              received_at: str, audit_index: int) -> dict[str, Any]:
    return {"format": FORMAT, "platform": platform, "submission": submission, "tender": tender,
            "lot": lot, "bidder": {"name": bidder_name, "credit_code": credit_code},
            "envelope": {"sha256": sha256, "size": size}, "commitment": commitment,
            "key_id": key_id, "received_at": received_at, "audit_index": audit_index}


def sign_receipt(body: dict[str, Any], key: signing.SigningKey, *, audit_entry: str, checkpoint: str,
                 proof_index: int, proof_size: int, proof_hashes: list[bytes]) -> dict[str, Any]:
    """The receipt document: ``body`` signed, with the audit entry, checkpoint and proof attached."""
    if set(body) != BODY_FIELDS or body.get("format") != FORMAT:
        raise ValueError("not a receipt body")
    return {"receipt": body, "signature": _b64(signing.sign(key, canonical(body))),
            "audit_entry": audit_entry, "checkpoint": checkpoint,
            "inclusion_proof": {"index": proof_index, "size": proof_size,
                                "hashes": [_b64(h) for h in proof_hashes]}}


def verify_receipt(document: dict[str, Any] | str | bytes, vkey: str, *,
                   envelope: BinaryIO | None = None) -> dict[str, Any]:
    """Verify a receipt document with the platform's ``vkey``; return its body.

    Checks: the body's form and signature; the checkpoint's signature (same key); that the attached
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
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ReceiptError):
            raise
        raise ReceiptError("not a receipt document") from None
    if not isinstance(body, dict) or set(body) != BODY_FIELDS or body["format"] != FORMAT:
        raise ReceiptError(f"not a {FORMAT} receipt")
    try:
        verifier = NoteVerifier.from_vkey(vkey)
    except CheckpointError as exc:
        raise ReceiptError(f"bad platform key: {exc}") from None
    if body["platform"] != verifier.name:
        raise ReceiptError("the receipt names another platform")
    try:
        signing.verify(verifier.public_key, signature, canonical(body))
    except signing.SignatureError:
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
                and data["commitment"] == body["commitment"])
    except (ValueError, KeyError, TypeError):
        raise ReceiptError("malformed audit entry") from None
    if not same:
        raise ReceiptError("the audit entry does not record this submission")
