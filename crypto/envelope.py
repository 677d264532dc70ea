"""The ``tender-envelope/v1`` sealed-bid format (specified in docs/envelope.md).

Who calls what:

- the bidder's tool: ``seal`` / ``seal_bytes``; at the opening ``unwrap_file_key`` with its key;
- the platform at submission: ``read_header`` (no secret needed) and checks the binding and the
  recipients' key ids against its records;
- the platform at the opening: ``verify_file_key`` on the released key, then ``open_envelope``;
- backup decryption: ``unwrap_file_key(header, escrow_key, role="escrow")``.

Every failure to parse, verify or decrypt an envelope raises the one ``InvalidEnvelope``; messages
for secret-dependent checks are identical, so an error never says which of them failed. Misuse by the
caller (a wrong key type, bad ids when sealing) raises ``ValueError``/``TypeError`` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import keys
from .keys import PrivateKey, PublicKey, b64encode
from .stream import (DEFAULT_CHUNK_SIZE, StreamError, check_chunk_size, decrypt_stream, encrypt_stream,
                     line_reader, write_all)

FORMAT = "tender-envelope/v1"
SUITE = "hpke-p256"  # DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
ROLES = ("bidder", "escrow")
FILE_KEY_SIZE = 32
NONCE_SIZE = 16
MAX_RECIPIENTS = 8
MAX_ID_LENGTH = 64
MAX_HEADER_SIZE = 4096
_MAX_LINE = 128  # longer than any valid line (the longest is "bidder " + 64 + LF)
_STANZA_BODY_SIZE = 65 + 48  # enc || HPKE ciphertext of the 32-byte file key
_BODY_LINES = (64, 64, 23)
_HPKE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_ID = re.compile(rb"[\x21-\x7e]{1,64}")
_CHUNK = re.compile(rb"[1-9][0-9]{0,7}")
_KEY_ID = re.compile(rb"[0-9a-f]{16}")
_FAILED = "the envelope failed verification"  # one message for every secret-dependent check

# A wrap function: (recipient public key, HPKE info, file key) -> enc || ct. Tests pass a
# deterministic one to build the checked-in vectors; everything else uses HPKE's random Encap.
Wrap = Callable[[PublicKey, bytes, bytes], bytes]


class InvalidEnvelope(Exception):
    """The envelope is malformed, was tampered with, or does not open with the given key."""


def _check_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value.encode("utf-8")):
        raise ValueError(f"{name} must be 1-{MAX_ID_LENGTH} printable ASCII characters, no spaces")


@dataclass(frozen=True)
class Binding:
    """The tender, lot and bidder an envelope belongs to; bound into HPKE's info and the MAC."""

    tender_id: str
    lot_id: str
    bidder_id: str

    def __post_init__(self) -> None:
        _check_id("tender_id", self.tender_id)
        _check_id("lot_id", self.lot_id)
        _check_id("bidder_id", self.bidder_id)

    def header_lines(self) -> bytes:
        return f"tender {self.tender_id}\nlot {self.lot_id}\nbidder {self.bidder_id}\n".encode("ascii")

    def hpke_info(self, role: str) -> bytes:
        """HPKE ``info``: the first four header lines, then ``role <role>`` (no final LF)."""
        return f"{FORMAT}\n".encode() + self.header_lines() + f"role {role}".encode()


@dataclass(frozen=True)
class Recipient:
    """Someone the file key is wrapped to: ``role`` is "bidder" or "escrow"; a P-256 public key
    (or its 65-byte uncompressed encoding)."""

    role: str
    public_key: PublicKey

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        key = self.public_key
        if isinstance(key, (bytes, bytearray, memoryview)):
            key = keys.load_public_key_bytes(bytes(key))
        object.__setattr__(self, "public_key", keys.check_public_key(key))

    @property
    def key_id(self) -> str:
        return keys.key_id(self.public_key)


@dataclass(frozen=True)
class Stanza:
    """One parsed recipient stanza. ``body`` is HPKE's ``enc || ct`` (113 bytes)."""

    role: str
    key_id: str
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class EnvelopeHeader:
    """A structurally valid header. Its MAC is NOT verified: that takes the file key."""

    binding: Binding
    chunk_size: int
    nonce: bytes
    commitment: bytes
    stanzas: tuple[Stanza, ...]
    mac: bytes
    raw: bytes = field(repr=False)  # the exact header bytes, MAC line included
    version: str = FORMAT
    suite: str = SUITE

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def commitment_b64(self) -> str:
        """The commitment as it appears in the header; what a receipt carries."""
        return b64encode(self.commitment)

    def key_ids(self, role: str | None = None) -> tuple[str, ...]:
        return tuple(s.key_id for s in self.stanzas if role is None or s.role == role)


@dataclass(frozen=True)
class SealResult:
    header: EnvelopeHeader
    payload_size: int  # plaintext bytes sealed
    envelope_size: int  # bytes written: header + payload

    @property
    def commitment(self) -> bytes:
        return self.header.commitment


@dataclass(frozen=True)
class OpenResult:
    header: EnvelopeHeader
    payload_size: int  # plaintext bytes written


def _derive(file_key: bytes, nonce: bytes, purpose: str) -> bytes:
    info = f"{FORMAT} {purpose}".encode()
    return HKDF(algorithm=SHA256(), length=32, salt=nonce, info=info).derive(file_key)


def _hpke_wrap(public_key: PublicKey, info: bytes, file_key: bytes) -> bytes:
    return _HPKE.encrypt(file_key, public_key, info=info)


def seal(reader: BinaryIO, writer: BinaryIO, *, tender_id: str, lot_id: str, bidder_id: str,
         recipients: Sequence[Recipient], chunk_size: int = DEFAULT_CHUNK_SIZE) -> SealResult:
    """Seal everything ``reader`` yields into an envelope written to ``writer``.

    A fresh random file key and nonce are drawn for each call. ``recipients`` holds one to eight
    ``Recipient``s with distinct keys, at least one of role "bidder". Memory is bounded by about two
    chunks. Raises ``ValueError`` for bad ids, recipients or chunk size, before writing anything.
    """
    return _seal(reader, writer, binding=Binding(tender_id, lot_id, bidder_id), recipients=recipients,
                 chunk_size=chunk_size, file_key=os.urandom(FILE_KEY_SIZE),
                 nonce=os.urandom(NONCE_SIZE), wrap=_hpke_wrap)


def seal_bytes(plaintext: bytes, **kwargs) -> bytes:
    """``seal`` for a plaintext in memory; returns the envelope's bytes. Same keyword arguments."""
    out = io.BytesIO()
    seal(io.BytesIO(plaintext), out, **kwargs)
    return out.getvalue()


def _seal(reader: BinaryIO, writer: BinaryIO, *, binding: Binding, recipients: Sequence[Recipient],
          chunk_size: int, file_key: bytes, nonce: bytes, wrap: Wrap) -> SealResult:
    """``seal`` with the file key, nonce and HPKE wrap given: only for deterministic test vectors."""
    check_chunk_size(chunk_size)
    _check_recipients(recipients)
    if len(file_key) != FILE_KEY_SIZE or len(nonce) != NONCE_SIZE:
        raise ValueError("file key must be 32 bytes and nonce 16 bytes")
    lines = [f"{FORMAT}\n".encode(), binding.header_lines(), f"chunk {chunk_size}\n".encode(),
             f"nonce {b64encode(nonce)}\n".encode(),
             f"commit {b64encode(_derive(file_key, nonce, 'commitment'))}\n".encode()]
    for r in recipients:
        body = wrap(r.public_key, binding.hpke_info(r.role), file_key)
        if len(body) != _STANZA_BODY_SIZE:
            raise ValueError("HPKE wrap produced an unexpected length")
        lines.append(f"-> {SUITE} {r.role} {r.key_id}\n".encode())
        text = b64encode(body).encode()
        lines.extend(text[i:i + 64] + b"\n" for i in range(0, len(text), 64))
    mac_input = b"".join(lines) + b"---"
    mac = hmac.digest(_derive(file_key, nonce, "header"), mac_input, hashlib.sha256)
    raw = mac_input + b" " + b64encode(mac).encode() + b"\n"
    header = read_header(io.BytesIO(raw))  # self-check: what we write, we can read
    write_all(writer, memoryview(raw))
    payload_size, payload_bytes = encrypt_stream(
        _derive(file_key, nonce, "payload"), reader, writer, chunk_size)
    return SealResult(header=header, payload_size=payload_size, envelope_size=len(raw) + payload_bytes)


def _check_recipients(recipients: Sequence[Recipient]) -> None:
    if not all(isinstance(r, Recipient) for r in recipients):
        raise TypeError("recipients must be Recipient instances")
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError(f"an envelope has 1 to {MAX_RECIPIENTS} recipients")
    if not any(r.role == "bidder" for r in recipients):
        raise ValueError("an envelope needs at least one bidder recipient")
    if len({r.key_id for r in recipients}) != len(recipients):
        raise ValueError("recipients' keys must be distinct")


def read_header(reader: BinaryIO) -> EnvelopeHeader:
    """Read and structurally validate a header, leaving ``reader`` at the first payload byte.

    Needs no secret: this is the platform's check at submission. It does NOT verify the MAC (that
    takes the file key). Raises ``InvalidEnvelope``; the message names the structural problem,
    which reveals nothing an attacker could not see in the header itself.
    """
    readline = line_reader(reader)
    raw = bytearray()

    def line() -> bytes:
        text = readline(min(_MAX_LINE, MAX_HEADER_SIZE - len(raw)))
        if not text.endswith(b"\n"):
            raise InvalidEnvelope("header line too long, or the header is truncated")
        raw.extend(text)
        return text[:-1]

    def value(name: bytes) -> bytes:
        parts = line().split(b" ")
        if len(parts) != 2 or parts[0] != name:
            raise InvalidEnvelope(f"expected the {name.decode()} line")
        return parts[1]

    # The version is checked before anything else is read (docs/envelope.md, "Versioning").
    if line() != FORMAT.encode():
        raise InvalidEnvelope(f"not a {FORMAT} envelope")
    ids = [value(name) for name in (b"tender", b"lot", b"bidder")]
    if not all(_ID.fullmatch(i) for i in ids):
        raise InvalidEnvelope("malformed id")
    binding = Binding(*(i.decode("ascii") for i in ids))
    chunk = value(b"chunk")
    if not _CHUNK.fullmatch(chunk):
        raise InvalidEnvelope("malformed chunk size")
    chunk_size = int(chunk)
    try:
        check_chunk_size(chunk_size)
        nonce = keys.b64decode(value(b"nonce"), NONCE_SIZE)
        commitment = keys.b64decode(value(b"commit"), 32)
    except ValueError:
        raise InvalidEnvelope("malformed chunk size, nonce or commitment") from None
    stanzas: list[Stanza] = []
    while True:
        text = line()
        if text.startswith(b"--- "):
            break
        stanzas.append(_parse_stanza(text, line))
        if len(stanzas) > MAX_RECIPIENTS:
            raise InvalidEnvelope("too many recipient stanzas")
    try:
        mac = keys.b64decode(text[4:], 32)
    except ValueError:
        raise InvalidEnvelope("malformed header MAC") from None
    if not stanzas or not any(s.role == "bidder" for s in stanzas):
        raise InvalidEnvelope("no bidder recipient")
    if len({s.key_id for s in stanzas}) != len(stanzas):
        raise InvalidEnvelope("duplicate recipient key id")
    return EnvelopeHeader(binding=binding, chunk_size=chunk_size, nonce=nonce, commitment=commitment,
                          stanzas=tuple(stanzas), mac=mac, raw=bytes(raw))


def _parse_stanza(text: bytes, line: Callable[[], bytes]) -> Stanza:
    parts = text.split(b" ")
    if (len(parts) != 4 or parts[0] != b"->" or parts[1] != SUITE.encode()
            or parts[2].decode("ascii", "replace") not in ROLES or not _KEY_ID.fullmatch(parts[3])):
        raise InvalidEnvelope("malformed recipient stanza")
    body_lines = [line() for _ in _BODY_LINES]
    if [len(b) for b in body_lines] != list(_BODY_LINES):
        raise InvalidEnvelope("malformed recipient stanza body")
    try:
        body = keys.b64decode(b"".join(body_lines), _STANZA_BODY_SIZE)
        keys.load_public_key_bytes(body[:65])  # enc must be a point on the curve
    except ValueError:
        raise InvalidEnvelope("malformed recipient stanza body") from None
    return Stanza(role=parts[2].decode("ascii"), key_id=parts[3].decode("ascii"), body=body)


def verify_file_key(header: EnvelopeHeader, file_key: bytes) -> None:
    """Check a released file key against the header's commitment and MAC, in constant time.

    This is the platform's check when a bidder releases its key at the opening, and the check that
    makes the envelope key-committing: no second key passes it. Raises ``InvalidEnvelope``.
    """
    _payload_key(header, file_key)


def _payload_key(header: EnvelopeHeader, file_key: bytes) -> bytes:
    if not isinstance(file_key, (bytes, bytearray, memoryview)):
        raise TypeError("file_key must be bytes")
    file_key = bytes(file_key)
    if len(file_key) != FILE_KEY_SIZE:
        raise InvalidEnvelope(_FAILED)
    commitment = _derive(file_key, header.nonce, "commitment")
    mac_input = header.raw[:header.raw.rindex(b"\n---") + 4]
    mac = hmac.digest(_derive(file_key, header.nonce, "header"), mac_input, hashlib.sha256)
    # Both checks always run: the error must not say which failed.
    ok = hmac.compare_digest(commitment, header.commitment) & hmac.compare_digest(mac, header.mac)
    if not ok:
        raise InvalidEnvelope(_FAILED)
    return _derive(file_key, header.nonce, "payload")


def unwrap_file_key(header: EnvelopeHeader, private_key: PrivateKey, *, role: str | None = None) -> bytes:
    """Recover the file key from the stanza addressed to ``private_key`` (and ``role``, if given).

    The key is verified against the header (``verify_file_key``) before it is returned. Raises
    ``InvalidEnvelope`` if no stanza is addressed to this key, or if it does not unwrap or verify;
    ``ValueError`` if ``private_key`` is not a P-256 private key or ``role`` is unknown.
    """
    keys.check_private_key(private_key)
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    kid = keys.key_id(private_key.public_key())
    for stanza in header.stanzas:
        if stanza.key_id == kid and (role is None or stanza.role == role):
            break
    else:
        raise InvalidEnvelope(_FAILED)
    try:
        file_key = _HPKE.decrypt(stanza.body, private_key, info=header.binding.hpke_info(stanza.role))
    except (InvalidTag, ValueError):
        raise InvalidEnvelope(_FAILED) from None
    verify_file_key(header, file_key)
    return file_key


def open_envelope(reader: BinaryIO, writer: BinaryIO, *, file_key: bytes,
                  expected: Binding | None = None) -> OpenResult:
    """Verify and decrypt an envelope from ``reader`` into ``writer``, streaming.

    Order: parse the header; compare its binding with ``expected`` (when given); verify ``file_key``
    against the commitment and MAC; only then decrypt, chunk by chunk, each chunk reaching
    ``writer`` only after it authenticated. Raises ``InvalidEnvelope`` on any failure, after which
    ``writer`` may hold the plaintext of earlier chunks: the caller MUST discard it (write to a
    temporary file; keep it only if this returns). Memory is bounded by about two chunks.
    """
    header = read_header(reader)
    if expected is not None:
        if not isinstance(expected, Binding):
            raise TypeError("expected must be a Binding")
        if header.binding != expected:
            raise InvalidEnvelope("the envelope belongs to another tender, lot or bidder")
    payload_key = _payload_key(header, file_key)
    try:
        size = decrypt_stream(payload_key, reader, writer, header.chunk_size)
    except StreamError:
        raise InvalidEnvelope(_FAILED) from None
    return OpenResult(header=header, payload_size=size)


def open_bytes(envelope: bytes, *, file_key: bytes, expected: Binding | None = None) -> bytes:
    """``open_envelope`` for an envelope in memory; returns the plaintext only if all of it verified."""
    out = io.BytesIO()
    open_envelope(io.BytesIO(envelope), out, file_key=file_key, expected=expected)
    return out.getvalue()
