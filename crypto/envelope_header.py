"""The header of ``tender-envelope/v1``, ``/v2``, ``/v3`` and ``/gm-v1`` (docs/envelope.md): its
grammar, its parser, the values derived from the file key, and the check of a released key against
the header.

v2 is v1 with one addition: after the bidder stanzas, the file key split k-of-n among the tender's
custodians, one ``hpke-p256-share`` stanza per custodian (Shamir's scheme, ``crypto.escrow_shares``).
v3 is v2 with the split made by replicated XOR sharing instead (``hpke-p256-rss`` stanzas,
``crypto.replicated``), whose stanza bodies are longer: its header limit is larger. Neither has an
``escrow`` stanza: each version has exactly one way to back a bid up.

``tender-envelope/gm-v1`` is the 国密 suite (docs/envelope.md, Appendix D): v2's shape with SM2
stanzas (``sm2``, ``sm2-share``), the share set optional, HKDF-SM3 and HMAC-SM3 for the derived values
and the MAC, and SM4-GCM chunks. ``crypto.envelope_versions.PROFILES`` holds what differs between
the versions; its names are re-exported here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import gm, keys
from .envelope_versions import (CIPHER_SUITES, FILE_KEY_SIZE, FORMAT, FORMAT_GM, FORMAT_V2,  # noqa: F401
                                FORMAT_V3, GM_SHARE_SUITE, GM_STANZA_BODY_SIZE, GM_SUITE,
                                MAX_CUSTODIANS, MAX_CUSTODIANS_V3, MAX_HEADER_SIZE, MAX_HEADER_SIZE_GM,
                                MAX_HEADER_SIZE_V3, MAX_ID_LENGTH, MAX_RECIPIENTS, MAX_SHARES_BY_VERSION,
                                MIN_THRESHOLD, NONCE_SIZE, PROFILES, ROLES, ROLES_BY_VERSION, RSS_SUITE,
                                SHARE_SUITE, SHARE_SUITES, STANZA_BODY_SIZE, SUITE, VERSIONS, Profile,
                                body_line_lengths, share_body_size)
from .keys import PublicKey, b64encode
from .stream import check_chunk_size, line_reader

_MAX_LINE = 128  # longer than any valid line (the longest is "bidder " + 64 + LF)
_ID = re.compile(rb"[\x21-\x7e]{1,64}")
_CHUNK = re.compile(rb"[1-9][0-9]{0,7}")
_KEY_ID = re.compile(rb"[0-9a-f]{16}")
_SMALL = re.compile(rb"[1-9][0-9]?")  # share index, threshold, count: 1..99 without leading zeros
FAILED = "the envelope failed verification"  # one message for every secret-dependent check


class InvalidEnvelope(Exception):
    """The envelope is malformed, was tampered with, or does not open with the given key."""


def check_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value.encode("utf-8")):
        raise ValueError(f"{name} must be 1-{MAX_ID_LENGTH} printable ASCII characters, no spaces")


@dataclass(frozen=True)
class Binding:
    """The tender, lot and bidder an envelope belongs to; bound into HPKE's info and the MAC."""

    tender_id: str
    lot_id: str
    bidder_id: str

    def __post_init__(self) -> None:
        check_id("tender_id", self.tender_id)
        check_id("lot_id", self.lot_id)
        check_id("bidder_id", self.bidder_id)

    def header_lines(self) -> bytes:
        return f"tender {self.tender_id}\nlot {self.lot_id}\nbidder {self.bidder_id}\n".encode("ascii")

    def hpke_info(self, role: str, version: str = FORMAT) -> bytes:
        """HPKE ``info`` (for gm-v1: the SM2 wrap's context): the first four header lines, then
        ``role <role>`` (no final LF)."""
        return f"{version}\n".encode() + self.header_lines() + f"role {role}".encode()


@dataclass(frozen=True)
class Recipient:
    """Someone the file key is wrapped to: ``role`` is "bidder" or "escrow"; a P-256 public key
    (or its 65-byte uncompressed encoding), or for the gm suite a ``gm.SM2PublicKey``."""

    role: str
    public_key: PublicKey | gm.SM2PublicKey

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if not isinstance(self.public_key, gm.SM2PublicKey):
            object.__setattr__(self, "public_key", keys.as_public_key(self.public_key))

    @property
    def key_id(self) -> str:
        return any_key_id(self.public_key)


def any_key_id(public_key) -> str:
    """The key id of a P-256 key (SHA-256) or an SM2 key (SM3), as docs/envelope.md defines them."""
    if isinstance(public_key, gm.SM2PublicKey):
        return public_key.key_id
    return keys.key_id(public_key)


@dataclass(frozen=True)
class Stanza:
    """One parsed recipient stanza. ``body`` is HPKE's ``enc || ct`` (113 bytes), or for gm-v1
    SM2's ``C1 || C3 || C2`` (161 bytes)."""

    role: str
    key_id: str
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class ShareStanza:
    """One parsed share stanza: ``hpke-p256-share`` (v2), ``hpke-p256-rss`` (v3) or ``sm2-share``
    (gm-v1), share ``index`` of a ``threshold``-of-``count`` split, wrapped to the custodian key
    ``key_id``. ``body`` is HPKE's ``enc || ct``: 113 bytes in v2, 65 + C(n-1, k-1) x 32 + 16 in
    v3; SM2's 161 bytes in gm-v1."""

    index: int
    threshold: int
    count: int
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
    shares: tuple[ShareStanza, ...] = ()  # v2, v3 and gm-v1 only

    @property
    def profile(self) -> Profile:
        return PROFILES[self.version]

    @property
    def cipher_suite(self) -> str:
        """"intl" or "gm": the tender-level suite this envelope's version belongs to."""
        return PROFILES[self.version].cipher_suite

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def commitment_b64(self) -> str:
        """The commitment as it appears in the header; what a receipt carries."""
        return b64encode(self.commitment)

    @property
    def threshold(self) -> int | None:
        return self.shares[0].threshold if self.shares else None

    def key_ids(self, role: str | None = None) -> tuple[str, ...]:
        return tuple(s.key_id for s in self.stanzas if role is None or s.role == role)

    def share_key_ids(self) -> tuple[str, ...]:
        """The custodians' key ids, in share-index order (index 1 first)."""
        return tuple(s.key_id for s in self.shares)


def derive(file_key: bytes, nonce: bytes, purpose: str, version: str = FORMAT) -> bytes:
    info = f"{version} {purpose}".encode()
    if version == FORMAT_GM:
        # SM4 takes a 16-byte key; the header key and the commitment stay 32 bytes.
        return gm.hkdf_sm3(file_key, salt=nonce, info=info, length=16 if purpose == "payload" else 32)
    return HKDF(algorithm=SHA256(), length=32, salt=nonce, info=info).derive(file_key)


def header_mac(file_key: bytes, nonce: bytes, mac_input: bytes, version: str = FORMAT) -> bytes:
    """HMAC-SHA-256 (HMAC-SM3 for gm-v1) under the header key, over the header up to ``---``."""
    key = derive(file_key, nonce, "header", version)
    if version == FORMAT_GM:
        return gm.hmac_sm3(key, mac_input)
    return hmac.digest(key, mac_input, hashlib.sha256)


def read_header(reader: BinaryIO) -> EnvelopeHeader:
    """Read and structurally validate a header of any version in ``VERSIONS``, leaving ``reader``
    at the first payload byte.

    Needs no secret: this is the platform's check at submission. It does NOT verify the MAC (that
    takes the file key). Raises ``InvalidEnvelope``; the message names the structural problem,
    which reveals nothing an attacker could not see in the header itself.
    """
    readline = line_reader(reader)
    raw = bytearray()
    limit = MAX_HEADER_SIZE  # until the version line says otherwise

    def line() -> bytes:
        text = readline(min(_MAX_LINE, limit - len(raw)))
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
    first = line()
    if first not in (v.encode() for v in VERSIONS):
        raise InvalidEnvelope(f"not a {', '.join(VERSIONS)} envelope")
    version = first.decode()
    profile = PROFILES[version]
    limit = profile.max_header_size
    share_prefix = f"-> {profile.share_suite} ".encode() if profile.share_suite else None
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
    shares: list[ShareStanza] = []
    while True:
        text = line()
        if text.startswith(b"--- "):
            break
        if share_prefix is not None and text.startswith(share_prefix):
            shares.append(_parse_share(text, line, profile))
            if len(shares) > profile.max_shares:
                raise InvalidEnvelope("too many share stanzas")
            continue
        if shares:
            raise InvalidEnvelope("recipient stanzas come before the share stanzas")
        stanzas.append(_parse_stanza(text, line, profile))
        if len(stanzas) > MAX_RECIPIENTS:
            raise InvalidEnvelope("too many recipient stanzas")
    try:
        mac = keys.b64decode(text[4:], 32)
    except ValueError:
        raise InvalidEnvelope("malformed header MAC") from None
    if not stanzas or not any(s.role == "bidder" for s in stanzas):
        raise InvalidEnvelope("no bidder recipient")
    all_ids = [s.key_id for s in stanzas] + [s.key_id for s in shares]
    if len(set(all_ids)) != len(all_ids):
        raise InvalidEnvelope("duplicate recipient key id")
    if profile.shares == "required" or (profile.shares == "optional" and shares):
        _check_share_set(shares, profile.max_shares)
    return EnvelopeHeader(binding=binding, chunk_size=chunk_size, nonce=nonce, commitment=commitment,
                          stanzas=tuple(stanzas), mac=mac, raw=bytes(raw), version=version,
                          suite=profile.suite, shares=tuple(shares))


def _check_share_set(shares: list[ShareStanza], max_count: int) -> None:
    if not shares:
        raise InvalidEnvelope("a v2 or v3 envelope carries its share stanzas")
    k, n = shares[0].threshold, shares[0].count
    if not MIN_THRESHOLD <= k <= n <= max_count or len(shares) != n:
        raise InvalidEnvelope("the share stanzas' threshold and count are out of range")
    if [(s.index, s.threshold, s.count) for s in shares] != [(i, k, n) for i in range(1, n + 1)]:
        raise InvalidEnvelope("the share stanzas are not shares 1..n of one split")


def _body(line: Callable[[], bytes], size: int, profile: Profile) -> bytes:
    lengths = body_line_lengths(size)
    body_lines = [line() for _ in lengths]
    if [len(b) for b in body_lines] != list(lengths):
        raise InvalidEnvelope("malformed stanza body")
    try:
        body = keys.b64decode(b"".join(body_lines), size)
        # enc (HPKE) or C1 (SM2) must be a point on the suite's curve
        if profile.is_gm:
            gm.SM2PublicKey(body[:65])
        else:
            keys.load_public_key_bytes(body[:65])
    except ValueError:
        raise InvalidEnvelope("malformed stanza body") from None
    return body


def _parse_stanza(text: bytes, line: Callable[[], bytes], profile: Profile) -> Stanza:
    parts = text.split(b" ")
    if (len(parts) != 4 or parts[0] != b"->" or parts[1] != profile.suite.encode()
            or parts[2].decode("ascii", "replace") not in profile.roles
            or not _KEY_ID.fullmatch(parts[3])):
        raise InvalidEnvelope("malformed recipient stanza")
    return Stanza(role=parts[2].decode("ascii"), key_id=parts[3].decode("ascii"),
                  body=_body(line, profile.body_size, profile))


def _parse_share(text: bytes, line: Callable[[], bytes], profile: Profile) -> ShareStanza:
    parts = text.split(b" ")
    if (len(parts) != 6 or not all(_SMALL.fullmatch(p) for p in parts[2:5])
            or not _KEY_ID.fullmatch(parts[5])):
        raise InvalidEnvelope("malformed share stanza")
    index, threshold, count = (int(p) for p in parts[2:5])
    if profile.share_scheme == "replicated":  # the body's size follows from k and n: checked first
        if not MIN_THRESHOLD <= threshold <= count <= profile.max_shares or index > count:
            raise InvalidEnvelope("the share stanzas' threshold and count are out of range")
    return ShareStanza(index=index, threshold=threshold, count=count, key_id=parts[5].decode("ascii"),
                       body=_body(line, profile.share_body_size(threshold, count), profile))


def payload_key(header: EnvelopeHeader, file_key: bytes) -> bytes:
    """Check ``file_key`` against the header's commitment and MAC (constant time, both always
    run), then return the payload key. ``InvalidEnvelope`` with one message on any mismatch."""
    if not isinstance(file_key, (bytes, bytearray, memoryview)):
        raise TypeError("file_key must be bytes")
    file_key = bytes(file_key)
    if len(file_key) != FILE_KEY_SIZE:
        raise InvalidEnvelope(FAILED)
    v = header.version
    commitment = derive(file_key, header.nonce, "commitment", v)
    mac_input = header.raw[:header.raw.rindex(b"\n---") + 4]
    mac = header_mac(file_key, header.nonce, mac_input, v)
    ok = hmac.compare_digest(commitment, header.commitment) & hmac.compare_digest(mac, header.mac)
    if not ok:
        raise InvalidEnvelope(FAILED)
    return derive(file_key, header.nonce, "payload", v)
