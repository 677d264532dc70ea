"""Typed errors with stable codes, translated into one JSON shape at the API and WebSocket edges.

The shape, everywhere::

    {"error": {"code": "bad_request", "message": "...", "temporary": false, "details": {...}}}

``code`` is stable and machine-readable; ``message`` is for people and may be translated;
``temporary`` says whether retrying the same request later can succeed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    UNKNOWN_COMMAND = "unknown_command"
    INVALID_STATE = "invalid_state"
    DEADLINE_PASSED = "deadline_passed"
    AMENDMENT_REQUIRED = "amendment_required"
    AMENDMENT_TOO_LATE = "amendment_too_late"
    INVALID_CREDIT_CODE = "invalid_credit_code"
    LOCKED_OUT = "locked_out"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal_error"
    # The real-time protocol (docs/protocol.md §4).
    UNSUPPORTED_VERSION = "unsupported_version"
    MEDIA_UNAVAILABLE = "media_unavailable"  # no media server configured, or it does not answer
    BODY_TOO_LARGE = "body_too_large"  # the request body is over the endpoint's limit (config/limits.py)
    # Sealed bids (docs/sealbid.md lists what each means for a bidder).
    INVALID_ENVELOPE = "invalid_envelope"
    ENVELOPE_BINDING_MISMATCH = "envelope_binding_mismatch"
    KEY_NOT_CURRENT = "key_not_current"
    ENVELOPE_SUITE_MISMATCH = "envelope_suite_mismatch"  # a gm-v1 envelope for an intl tender, or the reverse
    CERTIFICATE_SUITE_MISMATCH = "certificate_suite_mismatch"  # an SM2 certificate for an intl tender, ...
    NO_CURRENT_CERTIFICATE = "no_current_certificate"
    INVALID_SUITE = "invalid_suite"  # a suite parameter that is neither "intl" nor "gm"
    ESCROW_RECIPIENT_MISMATCH = "escrow_recipient_mismatch"
    ESCROW_NOT_READY = "escrow_not_ready"
    BID_TOO_LARGE = "bid_too_large"
    CHUNK_TOO_LARGE = "chunk_too_large"
    UPLOAD_OFFSET_MISMATCH = "upload_offset_mismatch"
    UPLOAD_INCOMPLETE = "upload_incomplete"
    UPLOAD_BUSY = "upload_busy"
    UPLOAD_LOST = "upload_lost"
    SHA256_MISMATCH = "sha256_mismatch"
    INVALID_CSR = "invalid_csr"
    DEADLINE_NOT_REACHED = "deadline_not_reached"
    ESCROW_THRESHOLD_NOT_MET = "escrow_threshold_not_met"
    ESCROW_SHARE_INVALID = "escrow_share_invalid"
    ESCROW_WINDOW_CLOSED = "escrow_window_closed"
    # The opening hall (docs/opening.md).
    INVALID_FILE_KEY = "invalid_file_key"
    DECRYPTION_FAILED = "decryption_failed"
    INVALID_SIGNATURE = "invalid_signature"
    # A bid's completion asked for before the deadline waits for the platform's signature: the
    # opening of its lot waits for it (docs/opening.md, bidding/pending.py).
    COMPLETION_PENDING = "completion_pending"
    # The platform's signing key (on an HSM) cannot sign now: nothing was recorded; retry later.
    SIGNING_UNAVAILABLE = "signing_unavailable"


HTTP_STATUS = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNKNOWN_COMMAND: 400,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.DEADLINE_PASSED: 409,
    ErrorCode.AMENDMENT_REQUIRED: 409,
    ErrorCode.AMENDMENT_TOO_LATE: 409,
    ErrorCode.INVALID_CREDIT_CODE: 400,
    ErrorCode.LOCKED_OUT: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNSUPPORTED_VERSION: 400,
    ErrorCode.MEDIA_UNAVAILABLE: 503,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.INVALID_ENVELOPE: 422,
    ErrorCode.ENVELOPE_BINDING_MISMATCH: 422,
    ErrorCode.KEY_NOT_CURRENT: 422,
    ErrorCode.ENVELOPE_SUITE_MISMATCH: 422,
    ErrorCode.CERTIFICATE_SUITE_MISMATCH: 409,
    ErrorCode.NO_CURRENT_CERTIFICATE: 409,
    ErrorCode.INVALID_SUITE: 400,
    ErrorCode.ESCROW_RECIPIENT_MISMATCH: 422,
    ErrorCode.ESCROW_NOT_READY: 409,
    ErrorCode.BID_TOO_LARGE: 413,
    ErrorCode.CHUNK_TOO_LARGE: 413,
    ErrorCode.UPLOAD_OFFSET_MISMATCH: 409,
    ErrorCode.UPLOAD_INCOMPLETE: 409,
    ErrorCode.UPLOAD_BUSY: 409,
    ErrorCode.UPLOAD_LOST: 409,
    ErrorCode.SHA256_MISMATCH: 422,
    ErrorCode.INVALID_CSR: 400,
    ErrorCode.DEADLINE_NOT_REACHED: 409,
    ErrorCode.ESCROW_THRESHOLD_NOT_MET: 409,
    ErrorCode.ESCROW_SHARE_INVALID: 422,
    ErrorCode.ESCROW_WINDOW_CLOSED: 409,
    ErrorCode.INVALID_FILE_KEY: 422,
    ErrorCode.DECRYPTION_FAILED: 503,
    ErrorCode.INVALID_SIGNATURE: 422,
    ErrorCode.COMPLETION_PENDING: 409,
    ErrorCode.SIGNING_UNAVAILABLE: 503,
}

TEMPORARY = {ErrorCode.RATE_LIMITED, ErrorCode.LOCKED_OUT, ErrorCode.UNAVAILABLE, ErrorCode.INTERNAL,
             ErrorCode.UPLOAD_BUSY, ErrorCode.MEDIA_UNAVAILABLE, ErrorCode.SIGNING_UNAVAILABLE,
             ErrorCode.COMPLETION_PENDING}


class PlatformError(Exception):
    """An error a client may see. Raise it anywhere; the edges turn it into the JSON shape."""

    def __init__(self, code: ErrorCode, message: str = "", *, details: dict[str, Any] | None = None,
                 temporary: bool | None = None):
        super().__init__(message or code.value)
        self.code = ErrorCode(code)
        self.message = str(message or code.value)
        self.details = details or {}
        self.temporary = self.code in TEMPORARY if temporary is None else temporary

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code.value, "message": self.message,
                                "temporary": self.temporary}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class NotFound(PlatformError):
    """'Not found' and 'not yours' answer the same; the difference goes to the log only."""

    def __init__(self, message: str = "not found", *, why: str = ""):
        super().__init__(ErrorCode.NOT_FOUND, message)
        self.why = why


class BadRequest(PlatformError):
    def __init__(self, message: str = "bad request", *, details: dict[str, Any] | None = None):
        super().__init__(ErrorCode.BAD_REQUEST, message, details=details)


def error_body(code: ErrorCode, message: str, *, temporary: bool | None = None,
               details: dict[str, Any] | None = None) -> dict[str, Any]:
    return PlatformError(code, message, temporary=temporary, details=details).as_dict()


def signing_unavailable() -> PlatformError:
    """What the edges answer for ``crypto.signing.SigningUnavailable`` (the platform's key on its
    HSM cannot sign): the operation needed a signature (a receipt, a checkpoint) and was rolled
    back whole, so the same request may simply be sent again."""
    return PlatformError(ErrorCode.SIGNING_UNAVAILABLE, "the platform cannot sign right now (its signing "
                         "key's HSM is unavailable); nothing was recorded: try again shortly")
