"""RFC 3161 trusted timestamps on checkpoints: the request the platform sends a TSA, and the offline
verification of the reply (the TimeStampResp, DER) against TSA root certificates the reader trusts.

Built on ``rfc3161-client`` (the TSP structures, CMS signature and certificate chain checks:
the signer certificate must chain to a given root and carry the critical timeStamping extended
key usage). The message timestamped is the checkpoint's whole signed note, as UTF-8; the imprint
is its SHA-256. Every failure raises ``TimestampError``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from cryptography import x509
from rfc3161_client import (HashAlgorithm, TimestampRequestBuilder, VerificationError, VerifierBuilder,
                            decode_timestamp_response)

MAX_TOKEN = 1 << 16


class TimestampError(ValueError):
    """A timestamp reply is malformed, not from a trusted TSA, or not over the message."""


def request_for(message: bytes) -> tuple[bytes, int]:
    """The DER TimeStampReq for ``message`` (SHA-256 imprint, a nonce, the TSA's certificate asked
    for), and its nonce."""
    request = (TimestampRequestBuilder().data(message).hash_algorithm(HashAlgorithm.SHA256)
               .nonce(nonce=True).cert_request(cert_request=True).build())
    return request.as_bytes(), request.nonce


def load_roots(pem: bytes) -> list[x509.Certificate]:
    try:
        roots = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TimestampError(f"not PEM certificates: {exc}") from None
    if not roots:
        raise TimestampError("no root certificate given")
    return roots


def verify_timestamp(reply: bytes, message: bytes, roots: list[x509.Certificate], *,
                     nonce: int | None = None) -> datetime:
    """Check that ``reply`` is a granted timestamp over ``message`` by a TSA whose certificate
    chains to one of ``roots``; return its genTime (UTC)."""
    if not isinstance(reply, bytes) or not 0 < len(reply) <= MAX_TOKEN:
        raise TimestampError("not a timestamp reply")
    try:
        response = decode_timestamp_response(reply)
    except Exception:  # noqa: BLE001 - the parser raises several types for malformed DER
        raise TimestampError("not a timestamp reply (malformed DER)") from None
    errors = []
    for root in roots:
        builder = VerifierBuilder(roots=[root])
        if nonce is not None:
            builder = builder.nonce(nonce)
        try:
            builder.build().verify_message(response, message)
        except VerificationError as exc:
            errors.append(str(exc))
            continue
        gen_time = response.tst_info.gen_time
        return gen_time if gen_time.tzinfo else gen_time.replace(tzinfo=timezone.utc)
    raise TimestampError(f"the timestamp does not verify with the trusted TSA roots: {errors[0]}")
