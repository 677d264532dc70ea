"""The platform's SM2 signing key (the 国密 suite's signature, ``sm2-sm3``): signed-note lines,
verifier keys, and the platform's signature over receipts and records of ``gm`` tenders.

An SM2 signature here is GB/T 32918.2 SM2 with SM3 over ``Z_A || message``, ``Z_A`` computed with
the default user ID ``1234567812345678`` (GM/T 0009-2012), written ``r || s`` (64 bytes); the SM2
computation is ``crypto.gm``'s (GmSSL). The C2SP signed-note spec lists no SM2 type: it reserves the
identifier 0xff for types it does not define, and this platform's SM2 type is the bytes
``0xff || "sm2-sm3"`` (``SM2_NOTE_TYPE``, docs/cryptography.md). So:

- a verifier key (``sm2_vkey``) is ``<name>+<hex key id>+<base64(0xff "sm2-sm3" || 65-byte point)>``,
  its key id ``SHA-256(name || 0x0A || 0xff "sm2-sm3" || point)[:4]``;
- a signature line is ``— <name> <base64(key id || r || s)>``. Verifiers of other types skip it
  (the spec's rule), so a checkpoint with an Ed25519 and an SM2 line is read by both.

Failures raise ``checkpoint.CheckpointError``.
"""

from __future__ import annotations

from . import gm
from .checkpoint import CheckpointError, NoteSigner, NoteVerifier

SM2_NOTE_TYPE = b"\xffsm2-sm3"
ALGORITHM = "sm2-sm3"


class Sm2NoteVerifier(NoteVerifier):
    """The public half of an SM2 signing key, under a key name."""

    TYPE = SM2_NOTE_TYPE
    KEY_SIZE = gm.PUBLIC_KEY_SIZE
    ALGORITHM = ALGORITHM

    @staticmethod
    def _load_key(public_key):
        try:
            key = gm.as_sm2_public_key(public_key)
        except (gm.SM2Error, TypeError) as exc:
            raise CheckpointError(f"not an SM2 public key: {exc}") from None
        return key, key.point

    def check_signature(self, signature: bytes, message: bytes) -> None:
        if len(signature) != gm.SIGNATURE_SIZE:  # r || s only: no DER spelling in notes
            raise CheckpointError("an SM2 signature is r || s, 64 bytes")
        try:
            gm.sm2_verify(self.public_key, signature, message)
        except gm.SM2Error:
            raise CheckpointError("bad signature") from None


class Sm2NoteSigner(NoteSigner):
    """Signs note texts (and, through ``sign_bytes``, receipts) with an SM2 key under a key name."""

    def __init__(self, name: str, private_key: gm.SM2PrivateKey) -> None:
        if not isinstance(private_key, gm.SM2PrivateKey):
            raise TypeError("expected an SM2 private key")
        self._key = private_key
        self.verifier = Sm2NoteVerifier(name, private_key.public)
        self.name = self.verifier.name
        self.key_id = self.verifier.key_id

    def _sign_bytes(self, message: bytes) -> bytes:
        return gm.sm2_sign(self._key, message)


def sign_bytes(key: gm.SM2PrivateKey, message: bytes) -> bytes:
    """The 64-byte SM2 signature (``r || s``, default user ID) of ``message``."""
    return gm.sm2_sign(key, message)
