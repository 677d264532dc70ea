"""Backup decryption without a dealer: the bidder's sealer splits the file key k-of-n among the
tender's custodians and wraps each share to one custodian's own key, inside the envelope
(docs/envelope.md): ``hpke-p256-share`` stanzas of ``tender-envelope/v2`` (Shamir's scheme,
``crypto.shamir``: pycryptodome's GF(2^128), no field arithmetic here) or ``hpke-p256-rss`` stanzas
of ``tender-envelope/v3`` (replicated XOR sharing, ``crypto.replicated``: what the browser writes).

Nobody ever holds a key that opens every bid: each custodian's private key opens only its own
share of each envelope, and k shares of one envelope give that envelope's file key and nothing
else.

Each share's HPKE ``info`` binds the envelope's identity (tender, lot, bidder, the envelope's
commitment) and the share's place (index, threshold, count, custodian key id): a stanza copied into
another envelope, or to another index, does not open. Every failure raises ``InvalidEnvelope``.

The gm suite (``tender-envelope/gm-v1``) has v2's Shamir share stanzas as ``sm2-share``: SM2 keys,
the same context bound inside the SM2 plaintext (``crypto.envelope_gm``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke

from . import gm, keys, replicated, shamir
from .envelope_gm import sm2_unwrap
from .envelope_header import (FAILED, FORMAT_GM, FORMAT_V2, FORMAT_V3, MAX_CUSTODIANS,
                              MAX_SHARES_BY_VERSION, MIN_THRESHOLD, PROFILES, SHARE_SUITES, Binding,
                              EnvelopeHeader, InvalidEnvelope, ShareStanza, any_key_id, body_line_lengths,
                              payload_key, share_body_size)
from .keys import PrivateKey, PublicKey, b64encode

_HPKE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
# enough to find k good shares among n released ones: C(10, 5) = 252 verifications at most
MAX_COMBINATIONS = 252

Wrap = Callable[[PublicKey, bytes, bytes], bytes]


@dataclass(frozen=True)
class Share:
    """A custodian's unwrapped share of one envelope: its ``index`` and ``value`` (32 bytes in v2
    and gm-v1, C(n-1, k-1) x 32 in v3). What a custodian releases; alone it opens nothing."""

    index: int
    value: bytes = field(repr=False)


@dataclass(frozen=True)
class Custodian:
    """A custodian a tender names, at its share ``index`` (1..n): the public key its share is
    wrapped to (its own key pair, made on its own machine)."""

    index: int
    public_key: PublicKey | gm.SM2PublicKey

    def __post_init__(self) -> None:
        if type(self.index) is not int or not 1 <= self.index <= MAX_CUSTODIANS:
            raise ValueError(f"a custodian's index is 1..{MAX_CUSTODIANS}")
        if not isinstance(self.public_key, gm.SM2PublicKey):
            object.__setattr__(self, "public_key", keys.as_public_key(self.public_key))

    @property
    def key_id(self) -> str:
        return any_key_id(self.public_key)


def version_for(count: int, suite: str = "intl") -> str:
    """The envelope a sealer writes for ``count`` custodians: for the international suite v3 up to
    its bound of 7, else v2; for the gm suite always gm-v1 (Shamir, up to 10)."""
    if suite == "gm":
        return FORMAT_GM
    return FORMAT_V3 if count <= MAX_SHARES_BY_VERSION[FORMAT_V3] else FORMAT_V2


def check_share_set(custodians: Sequence[Custodian], threshold: int, version: str | None = None) -> None:
    """The sealer's check of what the tender asks for, in ``version`` (by default the one
    ``version_for`` picks); ``ValueError`` if it is no proper split."""
    if not all(isinstance(c, Custodian) for c in custodians):
        raise TypeError("custodians must be Custodian instances")
    version = version or version_for(len(custodians))
    if version not in SHARE_SUITES:
        raise ValueError(f"custodians' shares are written in {sorted(SHARE_SUITES)}")
    n, most = len(custodians), MAX_SHARES_BY_VERSION[version]
    if type(threshold) is not int or not MIN_THRESHOLD <= threshold <= n <= most:
        raise ValueError(f"need {MIN_THRESHOLD} <= threshold <= custodians <= {most} in {version}")
    if [c.index for c in custodians] != list(range(1, n + 1)):
        raise ValueError("custodians are given in index order 1..n")
    if len({c.key_id for c in custodians}) != n:
        raise ValueError("custodians' keys must be distinct")


def share_info(binding: Binding, commitment: bytes, *, index: int, threshold: int, count: int,
               key_id: str, version: str = FORMAT_V2) -> bytes:
    """HPKE ``info`` of one share stanza (docs/envelope.md, "Share stanzas": the same text in v2
    and v3 but for the version line); for gm-v1 the context its SM2 wrap carries."""
    return (f"{version}\n".encode() + binding.header_lines()
            + f"commit {b64encode(commitment)}\nshare {index} {threshold} {count} {key_id}".encode())


def split(file_key: bytes, threshold: int, count: int, version: str) -> list[Share]:
    """The file key's shares for custodians 1..n, by the version's scheme."""
    if PROFILES[version].share_scheme == "replicated":
        return [Share(i, v) for i, v in enumerate(replicated.split(file_key, threshold, count), start=1)]
    return [Share(s.index, bytes(s.value)) for s in shamir.split(file_key, threshold, count)]


def share_stanza_lines(binding: Binding, commitment: bytes, file_key: bytes,
                       custodians: Sequence[Custodian], threshold: int, wrap: Wrap,
                       version: str = FORMAT_V2, shares: Sequence[Share] | None = None) -> list[bytes]:
    """Split ``file_key`` and wrap share i to custodian i: the header lines of the share stanzas.
    (``shares`` given: only the test vectors, to fix the split's randomness.)"""
    check_share_set(custodians, threshold, version)
    n = len(custodians)
    shares = split(file_key, threshold, n, version) if shares is None else shares
    size = share_body_size(version, threshold, n)
    lines: list[bytes] = []
    for custodian, share in zip(custodians, shares, strict=True):
        info = share_info(binding, commitment, index=share.index, threshold=threshold, count=n,
                          key_id=custodian.key_id, version=version)
        body = wrap(custodian.public_key, info, bytes(share.value))
        if len(body) != size:
            raise ValueError("the wrap produced an unexpected length")
        lines.append(f"-> {SHARE_SUITES[version]} {share.index} {threshold} {n} {custodian.key_id}\n".encode())
        text, at = b64encode(body).encode(), 0
        for length in body_line_lengths(size):
            lines.append(text[at:at + length] + b"\n")
            at += length
    return lines


def unwrap_share(header: EnvelopeHeader, private_key: PrivateKey) -> Share:
    """The custodian's side, on its own machine: open the share stanza addressed to its key.

    ``InvalidEnvelope`` if the header has no share for this key or the stanza does not open (it
    was moved from another envelope, or to another index). The share alone opens nothing.
    """
    gm_suite = header.profile.is_gm
    if gm_suite:
        if not isinstance(private_key, gm.SM2PrivateKey):
            raise ValueError("a gm-v1 share opens with an SM2 private key")
        kid = private_key.key_id
    else:
        keys.check_private_key(private_key)
        kid = keys.key_id(private_key.public_key())
    stanza = next((s for s in header.shares if s.key_id == kid), None)
    if stanza is None:
        raise InvalidEnvelope(FAILED)
    info = share_info(header.binding, header.commitment, index=stanza.index, threshold=stanza.threshold,
                      count=stanza.count, key_id=stanza.key_id, version=header.version)
    if gm_suite:
        return Share(stanza.index, sm2_unwrap(private_key, info, stanza.body))
    try:
        value = _HPKE.decrypt(stanza.body, private_key, info=info)
    except (InvalidTag, ValueError):
        raise InvalidEnvelope(FAILED) from None
    return Share(stanza.index, value)


def share_size(header: EnvelopeHeader) -> int:
    """Bytes of one released share of this envelope (32 in v2 and gm-v1; C(n-1, k-1) x 32 in v3)."""
    if not header.shares:
        raise InvalidEnvelope("this envelope has no share stanzas")
    if header.profile.share_scheme == "replicated":
        return replicated.share_size(header.threshold, header.shares[0].count)
    return shamir.SECRET_SIZE


def _combine(header: EnvelopeHeader, subset) -> bytearray:
    k = header.threshold
    if header.profile.share_scheme == "replicated":
        try:
            return bytearray(replicated.combine({s.index: bytes(s.value) for s in subset}, k,
                                                header.shares[0].count))
        except ValueError:
            raise InvalidEnvelope("a share has the wrong size") from None
    try:
        return shamir.combine([shamir.Share(s.index, bytes(s.value)) for s in subset], k)
    except shamir.ShareError:
        raise InvalidEnvelope("a share has the wrong size") from None


def share_for(header: EnvelopeHeader, key_id: str) -> ShareStanza | None:
    return next((s for s in header.shares if s.key_id == key_id), None)


def recover_file_key(header: EnvelopeHeader, shares: Sequence[Share]) -> bytes:
    """Combine released shares into the envelope's file key, verified against its commitment.

    With more than k shares, k-subsets are tried until one verifies, so a custodian who releases a
    wrong share cannot block the others. ``InvalidEnvelope`` if fewer than k are given, an index is
    given twice or is not in the header, or no k of them make the committed key.
    """
    if not header.shares:
        raise InvalidEnvelope("this envelope has no share stanzas")
    k = header.threshold
    indices = [s.index for s in shares]
    if len(set(indices)) != len(indices) or not set(indices) <= {s.index for s in header.shares}:
        raise InvalidEnvelope("a share index is given twice or is not in the envelope")
    if len(shares) < k:
        raise InvalidEnvelope(f"{k} shares are needed, got {len(shares)}")
    size = share_size(header)
    if any(not isinstance(s.value, (bytes, bytearray)) or len(s.value) != size for s in shares):
        raise InvalidEnvelope(f"a share of this envelope is {size} bytes")
    for subset in itertools.islice(itertools.combinations(shares, k), MAX_COMBINATIONS):
        secret = _combine(header, subset)
        try:
            payload_key(header, bytes(secret))
        except InvalidEnvelope:
            secret[:] = bytes(len(secret))
            continue
        return bytes(secret)
    raise InvalidEnvelope(FAILED)
