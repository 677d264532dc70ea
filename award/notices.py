"""The signed notices (docs/award.md, "Notices"): ``kaibiao/award-notice/v1``.

A notice is a JSON document; its SHA-256 over the canonical JSON (``common.canonical``) is signed by
the platform's Ed25519 key (the key of the receipts and checkpoints, ``audit.keys``) over

    message = b"kaibiao/award-notice/v1" 0x00 <sha256 hex, ASCII>

so anyone with the platform's public key checks a notice offline. The PDF (``render_notice_pdf``)
prints the document, its hash and the signature, and is itself PAdES-signed with the same key
(``crypto.pades``, the certificate ``audit.keys.platform_document_certificate``)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from common.canonical import canonical_json, format_time

FORMAT = "kaibiao/award-notice/v1"
LABEL = FORMAT.encode() + b"\x00"


def notice_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def signing_message(sha256: str) -> bytes:
    return LABEL + sha256.encode("ascii")


def sign_notice(document: dict[str, Any]) -> tuple[str, str]:
    """(sha256, base64 signature) of ``document`` with the platform's key."""
    from audit.keys import platform_signing_key
    from crypto.signing import sign

    digest = notice_hash(document)
    return digest, base64.b64encode(sign(platform_signing_key(), signing_message(digest))).decode()


def verify_notice(document: dict[str, Any], sha256: str, signature: str, public_key: bytes) -> bool:
    from crypto.signing import SignatureError, verify

    if notice_hash(document) != sha256:
        return False
    try:
        verify(public_key, base64.b64decode(signature, validate=True), signing_message(sha256))
    except (SignatureError, ValueError):
        return False
    return True


def build_document(*, kind: str, lot, to: dict, winner: dict, publicity, decided_at, report_sha256: str) -> dict:
    project = lot.project
    return {
        "format": FORMAT, "kind": kind,
        "project": {"code": project.code, "title": project.title},
        "lot": {"id": lot.pk, "code": lot.code, "title": lot.title},
        "tenderee": project.tenderee.name, "agency": project.agency.name if project.agency else None,
        "to": {"name": to["name"], "credit_code": to["credit_code"]},
        "winner": {"name": winner["name"], "credit_code": winner["credit_code"], "price_fen": winner["price_fen"]},
        "report_sha256": report_sha256,
        "publicity": {"starts_at": format_time(publicity.starts_at), "ends_at": format_time(publicity.ends_at)},
        "decided_at": format_time(decided_at),
    }


def fen_text(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def render_notice_pdf(notice) -> bytes:
    from audit.keys import platform_vkey
    from documents.pdf import render_pdf

    from audit.keys import platform_document_certificate, platform_signing_key
    from crypto.pades import sign_pdf

    doc = notice.document
    pdf = render_pdf("documents/award_notice.html", {
        "doc": doc, "sha256": notice.sha256, "signature": notice.signature, "vkey": platform_vkey(),
        "price": fen_text(doc["winner"]["price_fen"]), "is_award": doc["kind"] == "award"})
    # The file itself is signed too (PAdES B-B, docs/award.md): a PDF reader checks it without the JSON.
    return sign_pdf(pdf, platform_signing_key(), platform_document_certificate(),
                    reason="中标通知书" if doc["kind"] == "award" else "中标结果通知书", location=doc["tenderee"])
