"""Exit codes and the one exception the commands raise. docs/sealbid.md lists them."""

from __future__ import annotations

OK = 0
FAILURE = 1  # anything not listed below
USAGE = 2  # argparse's own
WRONG_PASSWORD = 3
CERTIFICATE = 4  # no valid certificate, expired, revoked, or the key is not the certified one
DEADLINE_PASSED = 5
NETWORK = 6  # the server could not be reached, retries exhausted
SERVER_ERROR = 7  # the server failed (5xx)
REFUSED = 8  # the server refused the request (not an envelope, wrong lot, too large, ...)
RECEIPT_INVALID = 9
NOT_AVAILABLE = 10  # the server has no such endpoint or object (e.g. the opening is not open)
UNAUTHENTICATED = 11  # missing, wrong, expired or revoked token
TOKEN = 12  # the PKCS#11 token: not present (removed), no such key, locked PIN, module does not load

# Server error codes (common.errors.ErrorCode values) and the exit code each maps to.
BY_SERVER_CODE = {
    "deadline_passed": DEADLINE_PASSED,
    "no_current_certificate": CERTIFICATE,
    "key_not_current": CERTIFICATE,
    "certificate_suite_mismatch": CERTIFICATE,
    "unauthenticated": UNAUTHENTICATED,
    "not_found": NOT_AVAILABLE,
    "escrow_window_closed": NOT_AVAILABLE,  # a custodian outside the bid's backup window
    "internal_error": SERVER_ERROR,
    "unavailable": SERVER_ERROR,
}


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = FAILURE, *, code: str = ""):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code
