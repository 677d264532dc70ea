"""Witness cosignatures of checkpoints: C2SP tlog-cosignature v1, the Ed25519 type.

A cosignature is a note signature line ``— <witness name> base64(key id || timestamp || sig)``:

- key id: ``SHA-256(name || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4]``;
- timestamp: 8 bytes, big-endian, POSIX seconds when the witness cosigned (at most 2^63 - 1);
- sig: Ed25519 over ``"cosignature/v1\\ntime <timestamp>\\n" || <checkpoint note body>``.

It says: as of that time, the largest consistent tree the witness has seen for this origin has this
root. Witness keys are published as vkeys ``<name>+<hex key id>+<base64(0x04 || public key)>``.
Every failure raises ``CheckpointError``.
"""

from __future__ import annotations

import struct

from crypto import signing
from crypto.checkpoint import _SIG_PREFIX, CheckpointError, NoteVerifier, _b64encode, _split_note

COSIGNATURE_TYPE = b"\x04"
MAX_TIMESTAMP = 2**63 - 1
_SIGNATURE = 8 + signing.SIGNATURE_SIZE


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return CosignatureVerifier(name, public_key).key_id


def signed_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


class CosignatureVerifier(NoteVerifier):
    """A witness's public key (type 0x04): checks its cosignatures on notes."""

    TYPE = COSIGNATURE_TYPE

    def verify(self, note: str) -> int:
        """The timestamp of this witness's valid cosignature on ``note``; ``CheckpointError`` when
        there is none, or when one that claims to be this witness's does not verify."""
        body, signatures = _split_note(note)
        found = None
        for name, kid, sig in signatures:
            if name != self.name or kid != self.key_id:
                continue
            if len(sig) != _SIGNATURE:
                raise CheckpointError(f"a cosignature by {name} has the wrong length")
            (timestamp,) = struct.unpack(">Q", sig[:8])
            if timestamp > MAX_TIMESTAMP:
                raise CheckpointError(f"a cosignature by {name} has an invalid timestamp")
            try:
                signing.verify(self.public_key, sig[8:], signed_message(body, timestamp))
            except signing.SignatureError:
                raise CheckpointError(f"bad cosignature by {name}") from None
            found = timestamp if found is None else max(found, timestamp)
        if found is None:
            raise CheckpointError(f"the checkpoint is not cosigned by witness {self.name}")
        return found


class Cosigner:
    """A witness's private key."""

    def __init__(self, name: str, private_key: signing.SigningKey) -> None:
        self._key = private_key
        self.verifier = CosignatureVerifier(name, signing.public_key_bytes(private_key))
        self.name = self.verifier.name

    @property
    def vkey(self) -> str:
        return self.verifier.vkey

    def cosign(self, body: str, timestamp: int) -> str:
        """The signature line (with its newline) cosigning the checkpoint note ``body``."""
        if type(timestamp) is not int or not 0 <= timestamp <= MAX_TIMESTAMP:
            raise CheckpointError("a cosignature timestamp is 0 to 2^63 - 1")
        sig = signing.sign(self._key, signed_message(body, timestamp))
        raw = self.verifier.key_id + struct.pack(">Q", timestamp) + sig
        return f"{_SIG_PREFIX}{self.name} {_b64encode(raw)}\n"


def add_signature_lines(note: str, lines: str) -> str:
    """The note with further signature lines appended (as a witness's reply gives them)."""
    if not lines.endswith("\n") or any(not line.startswith(_SIG_PREFIX) for line in lines.splitlines()):
        raise CheckpointError("signature lines start with an em dash and end with a newline")
    return note + lines
