"""Pure rules of sealed-bid submission: what the header must say, when and how much may be sent.

No ORM, no clock: callers pass ``now`` and the values they read. Each failure is a
``PlatformError`` with a stable code (docs/sealbid.md lists them).

The header's binding uses the platform's stable identifiers (docs/envelope.md, "Submission and
receipts"): ``tender`` = the project code (项目编号), ``lot`` = the lot code (标段编号) within it,
``bidder`` = the bidder organisation's 统一社会信用代码.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.errors import ErrorCode, PlatformError
from crypto.envelope import EnvelopeHeader

MIN_PAYLOAD = 16  # an empty plaintext still has one 16-byte tag


@dataclass(frozen=True)
class Expected:
    """What an envelope for this bidder on this lot must carry."""

    tender: str
    lot: str
    bidder: str
    bidder_key_id: str  # the key of the bidder's current certificate of the lot's cipher suite
    escrow_key_id: str | None  # the tender's dealt escrow key (v1 set-ups made before v2)
    custodian_key_ids: tuple[str, ...] = ()  # the tender's custodians' keys, in share-index order (v2)
    threshold: int | None = None  # of the custodians' split (v2)
    suite: str = "intl"  # the tender's cipher suite: "intl" (v1/v2/v3) or "gm" (gm-v1)


def check_before_deadline(deadline: datetime, now: datetime) -> None:
    if now >= deadline:
        raise PlatformError(ErrorCode.DEADLINE_PASSED, "the bid deadline has passed",
                            details={"deadline": deadline.isoformat()})


def check_size(size: int, limit: int) -> None:
    if type(size) is not int or size < 1:
        raise PlatformError(ErrorCode.BAD_REQUEST, "the upload size is a positive number of bytes")
    if size > limit:
        raise PlatformError(ErrorCode.BID_TOO_LARGE, "the bid is larger than this tender allows",
                            details={"size": size, "limit": limit})


def check_chunk(*, offset: int, expected_offset: int, length: int, size: int, max_chunk: int,
                ahead: int = 0) -> None:
    """A PATCH's offset and length against the upload's durable offset and size. ``ahead``: how far
    past the durable offset a piece may start (one that waits for the body before it)."""
    if not expected_offset <= offset <= expected_offset + ahead:
        raise PlatformError(ErrorCode.UPLOAD_OFFSET_MISMATCH,
                            "Upload-Offset is not where the upload stands: ask for the offset",
                            details={"offset": expected_offset})
    if length > max_chunk:
        raise PlatformError(ErrorCode.CHUNK_TOO_LARGE, "send the upload in smaller pieces",
                            details={"max_chunk_bytes": max_chunk})
    if offset + length > size:
        raise PlatformError(ErrorCode.BID_TOO_LARGE, "more bytes than the upload declared",
                            details={"size": size})


def check_header(header: EnvelopeHeader, expected: Expected, *, envelope_size: int) -> None:
    """The platform's check at submission, without any secret: suite, binding and recipients.

    The recipients must be exactly one ``bidder`` stanza addressed to the bidder's current
    certificate, plus the tender's backup: for a dealt escrow key (v1) its ``escrow`` stanza, for
    custodians (v2) one share stanza per custodian in index order with the tender's threshold;
    nothing of either if the tender has no backup decryption. A
    stanza to any other key (another bidder's, a revoked one) is refused: the platform could not
    vouch that the bidder alone can open it.
    """
    if header.cipher_suite != expected.suite:
        raise PlatformError(ErrorCode.ENVELOPE_SUITE_MISMATCH,
                            "the envelope is not sealed with this tender's cipher suite",
                            details={"expected": expected.suite, "header": header.cipher_suite,
                                     "version": header.version})
    b = header.binding
    wrong = {name: {"header": got, "expected": want}
             for name, got, want in (("tender", b.tender_id, expected.tender),
                                     ("lot", b.lot_id, expected.lot),
                                     ("bidder", b.bidder_id, expected.bidder)) if got != want}
    if wrong:
        raise PlatformError(ErrorCode.ENVELOPE_BINDING_MISMATCH,
                            "the envelope was sealed for another tender, lot or bidder", details=wrong)
    bidder_ids = header.key_ids("bidder")
    if bidder_ids != (expected.bidder_key_id,):
        raise PlatformError(ErrorCode.KEY_NOT_CURRENT,
                            "the envelope is not addressed to your current certificate's key",
                            details={"expected_key_id": expected.bidder_key_id,
                                     "header_key_ids": list(bidder_ids)})
    escrow_ids = header.key_ids("escrow")
    want_escrow = (expected.escrow_key_id,) if expected.escrow_key_id else ()
    if escrow_ids != want_escrow:
        raise PlatformError(ErrorCode.ESCROW_RECIPIENT_MISMATCH,
                            "this tender requires its escrow recipient" if want_escrow
                            else "this tender has no escrow recipient",
                            details={"expected": list(want_escrow), "header": list(escrow_ids)})
    # The custodians' split is checked without opening it: exactly the tender's custodians, in
    # index order, and its threshold (docs/envelope.md, "Share stanzas").
    got = {"key_ids": list(header.share_key_ids()), "threshold": header.threshold}
    want = {"key_ids": list(expected.custodian_key_ids),
            "threshold": expected.threshold if expected.custodian_key_ids else None}
    if got != want:
        raise PlatformError(ErrorCode.ESCROW_RECIPIENT_MISMATCH,
                            "the envelope's shares must go to exactly this tender's custodians, with its "
                            "threshold" if want["key_ids"] else "this tender has no custodians",
                            details={"expected": want, "header": got})
    if envelope_size - header.size < MIN_PAYLOAD:
        raise PlatformError(ErrorCode.INVALID_ENVELOPE, "the envelope has no payload")
