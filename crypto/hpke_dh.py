"""HPKE ``OpenBase`` (RFC 9180) for a P-256 private key the process cannot hold: a PKCS#11 token
does the Diffie-Hellman step (``CKM_ECDH1_DERIVE``) and this module the rest of the schedule, built
only on HMAC-SHA-256 (HKDF) and AES-256-GCM from ``cryptography``.

The suite is the envelope's (docs/envelope.md, "Recipient stanzas"): DHKEM(P-256, HKDF-SHA256),
HKDF-SHA256, AES-256-GCM, base mode, sequence number 0, empty ``aad``. The tests check it against
``cryptography``'s own HPKE, both ways. Failures raise ``ValueError`` or ``InvalidTag``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEM_SUITE = b"KEM" + (0x0010).to_bytes(2, "big")
_HPKE_SUITE = b"HPKE" + b"".join(i.to_bytes(2, "big") for i in (0x0010, 0x0001, 0x0002))
ENC_SIZE = 65


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    # HKDF-Extract: HMAC keyed with the salt; an empty salt is HMAC's zero key, as RFC 5869 says.
    return hmac.digest(salt, b"HPKE-v1" + suite + label + ikm, hashlib.sha256)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    # HKDF-Expand for at most one block (length <= 32): T(1) = HMAC(prk, info || 0x01).
    labeled_info = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return hmac.digest(prk, labeled_info + b"\x01", hashlib.sha256)[:length]


def open_base(body: bytes, *, dh: Callable[[bytes], bytes], recipient_public: bytes, info: bytes) -> bytes:
    """Open ``enc || ct`` for the recipient whose 65-byte public key is ``recipient_public``;
    ``dh(enc)`` returns the 32-byte x-coordinate of the shared point (the token's ECDH)."""
    enc, ct = bytes(body[:ENC_SIZE]), bytes(body[ENC_SIZE:])
    shared_dh = dh(enc)
    if len(shared_dh) != 32:
        raise ValueError("the token's ECDH returned an unexpected length")
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", shared_dh)
    shared_secret = _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + recipient_public, 32)
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash  # mode_base
    secret = _labeled_extract(_HPKE_SUITE, shared_secret, b"secret", b"")
    key = _labeled_expand(_HPKE_SUITE, secret, b"key", context, 32)
    nonce = _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, 12)
    return AESGCM(key).decrypt(nonce, ct, b"")
