"""The SM2 stanzas of ``tender-envelope/gm-v1`` (docs/envelope.md, Appendix D).

HPKE binds a stanza to its envelope through its ``info``; SM2 encryption (GB/T 32918.4) has no such
input. The gm suite binds the same context by encrypting it with the secret: the plaintext is
``secret || SM3(context)``, with ``context`` the very bytes the international suite passes as HPKE's
``info``. C3 (SM3 over the shared point and the plaintext) authenticates the whole plaintext, so a
stanza moved to another envelope, role, index or custodian decrypts to a context hash that does not
match, and is refused before its secret is used. The secret is a 32-byte file key or share.
"""

from __future__ import annotations

from . import gm
from .envelope_header import FAILED, GM_STANZA_BODY_SIZE, InvalidEnvelope

SECRET_SIZE = 32


def sm2_wrap(public_key: gm.SM2PublicKey, context: bytes, secret: bytes) -> bytes:
    """``C1 || C3 || C2`` of ``secret || SM3(context)`` under ``public_key``: 161 bytes."""
    if not isinstance(public_key, gm.SM2PublicKey):
        raise ValueError("the gm suite wraps to SM2 public keys")
    if len(secret) != SECRET_SIZE:
        raise ValueError("the wrapped secret is 32 bytes")
    body = gm.sm2_encrypt(public_key, bytes(secret) + gm.sm3(context))
    if len(body) != GM_STANZA_BODY_SIZE:
        raise ValueError("SM2 wrap produced an unexpected length")
    return body


def sm2_unwrap(private_key: gm.SM2PrivateKey, context: bytes, body: bytes) -> bytes:
    """The secret of a stanza body, if it decrypts and names ``context``; ``InvalidEnvelope`` if not."""
    if not isinstance(private_key, gm.SM2PrivateKey):
        raise ValueError("expected an SM2 private key")
    try:
        plaintext = gm.sm2_decrypt(private_key, body)
    except gm.SM2Error:
        raise InvalidEnvelope(FAILED) from None
    if len(plaintext) != 2 * SECRET_SIZE or not gm.equal(plaintext[SECRET_SIZE:], gm.sm3(context)):
        raise InvalidEnvelope(FAILED)
    return plaintext[:SECRET_SIZE]
