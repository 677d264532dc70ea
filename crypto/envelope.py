"""The ``tender-envelope/v1``, ``/v2``, ``/v3`` and ``/gm-v1`` sealed-bid formats (specified in
docs/envelope.md).

Who calls what:

- the bidder's tool: ``seal`` / ``seal_bytes``; at the opening ``unwrap_file_key`` with its key;
- the platform at submission: ``read_header`` (no secret needed) and checks the binding and the
  recipients' key ids against its records;
- the platform at the opening: ``verify_file_key`` on the released key, then ``open_envelope``;
- backup decryption, v3, v2 and gm-v1 (no dealer): each custodian's ``escrow_shares.unwrap_share`` on its
  own machine, then ``escrow_shares.recover_file_key`` with k released shares of this one envelope;
- backup decryption, v1 (a dealt escrow key): ``unwrap_file_key(header, escrow_key, role="escrow")``.

``seal(..., suite="gm")`` writes ``tender-envelope/gm-v1``, the 国密 suite (SM2 stanzas, SM4-GCM chunks,
HKDF/HMAC-SM3; ``crypto.envelope_gm``): recipients and custodians then hold ``gm.SM2PublicKey``s, and
the one who unwraps an ``gm.SM2PrivateKey``. Everything else reads the same for both suites.

The header's grammar and parser are ``crypto.envelope_header``; its names are re-exported here.

Every failure to parse, verify or decrypt an envelope raises the one ``InvalidEnvelope``; messages
for secret-dependent checks are identical, so an error never says which of them failed. Misuse by the
caller (a wrong key type, bad ids when sealing) raises ``ValueError``/``TypeError`` instead.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke

from . import escrow_shares, gm, hpke_dh, keys
from .envelope_gm import sm2_unwrap, sm2_wrap
from .envelope_header import (FAILED as _FAILED, FILE_KEY_SIZE, FORMAT, FORMAT_GM, FORMAT_V2,  # noqa: F401
                              FORMAT_V3, CIPHER_SUITES, GM_STANZA_BODY_SIZE, MAX_CUSTODIANS,
                              MAX_CUSTODIANS_V3, MAX_HEADER_SIZE, MAX_HEADER_SIZE_GM, MAX_HEADER_SIZE_V3,
                              MAX_ID_LENGTH, MAX_RECIPIENTS, MIN_THRESHOLD, NONCE_SIZE, PROFILES, ROLES,
                              RSS_SUITE, SHARE_SUITE, SHARE_SUITES, STANZA_BODY_SIZE, SUITE, header_mac,
                              VERSIONS, Binding, EnvelopeHeader, InvalidEnvelope, Recipient, ShareStanza,
                              Stanza, derive as _derive, payload_key as _payload_key, read_header)
from .escrow_shares import Custodian
from .keys import PrivateKey, PublicKey, b64encode
from .stream import DEFAULT_CHUNK_SIZE, StreamError, check_chunk_size, decrypt_stream, encrypt_stream, write_all

_STANZA_BODY_SIZE = STANZA_BODY_SIZE
_HPKE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

# A wrap function: (recipient public key, HPKE info, file key) -> enc || ct. Tests pass a
# deterministic one to build the checked-in vectors; everything else uses HPKE's random Encap.
Wrap = Callable[[PublicKey, bytes, bytes], bytes]


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


def _hpke_wrap(public_key: PublicKey, info: bytes, file_key: bytes) -> bytes:
    return _HPKE.encrypt(file_key, public_key, info=info)


def seal(reader: BinaryIO, writer: BinaryIO, *, tender_id: str, lot_id: str, bidder_id: str,
         recipients: Sequence[Recipient], chunk_size: int = DEFAULT_CHUNK_SIZE,
         custodians: Sequence[Custodian] = (), threshold: int | None = None,
         version: str | None = None, suite: str = "intl") -> SealResult:
    """Seal everything ``reader`` yields into an envelope written to ``writer``.

    A fresh random file key and nonce are drawn for each call. ``recipients`` holds one to eight
    ``Recipient``s with distinct keys, at least one of role "bidder". With ``custodians`` (the
    tender's, in index order) and ``threshold``, the file key is also split
    ``threshold``-of-``len(custodians)``, one share wrapped to each custodian, and recipients are
    then bidder keys only. ``suite`` is the tender's: "intl" or "gm". For "intl" the envelope is
    ``version``: without custodians v1; with them ``tender-envelope/v3`` (replicated XOR sharing,
    at most 7 custodians) or ``/v2`` (Shamir's scheme), by default v3, or v2 for 8 to 10 custodians
    (``escrow_shares.version_for``). For "gm" it is ``tender-envelope/gm-v1``, with or without
    custodians (Shamir's scheme, at most 10). Memory is bounded by about two chunks. Raises
    ``ValueError`` for bad ids, recipients, custodians, suite, version or chunk size, before writing
    anything.
    """
    return _seal(reader, writer, binding=Binding(tender_id, lot_id, bidder_id), recipients=recipients,
                 chunk_size=chunk_size, file_key=os.urandom(FILE_KEY_SIZE),
                 nonce=os.urandom(NONCE_SIZE), wrap=sm2_wrap if suite == "gm" else _hpke_wrap,
                 custodians=custodians, threshold=threshold, version=version, suite=suite)


def seal_bytes(plaintext: bytes, **kwargs) -> bytes:
    """``seal`` for a plaintext in memory; returns the envelope's bytes. Same keyword arguments."""
    out = io.BytesIO()
    seal(io.BytesIO(plaintext), out, **kwargs)
    return out.getvalue()


def _seal(reader: BinaryIO, writer: BinaryIO, *, binding: Binding, recipients: Sequence[Recipient],
          chunk_size: int, file_key: bytes, nonce: bytes, wrap: Wrap,
          custodians: Sequence[Custodian] = (), threshold: int | None = None,
          version: str | None = None, suite: str = "intl", shares=None) -> SealResult:
    """``seal`` with the file key, nonce and wrap (and the split's ``shares``) given: only for
    deterministic test vectors."""
    check_chunk_size(chunk_size)
    _check_recipients(recipients)
    split = bool(custodians) or threshold is not None
    version = _version(suite, version, split, len(custodians))
    _check_key_suites(suite, recipients, custodians)
    profile = PROFILES[version]
    if split:
        escrow_shares.check_share_set(custodians, threshold, version)
        if any(r.role != "bidder" for r in recipients):
            raise ValueError("an envelope with shares backs up through its custodians, not an escrow key")
        if {r.key_id for r in recipients} & {c.key_id for c in custodians}:
            raise ValueError("recipients' and custodians' keys must be distinct")
    if len(file_key) != FILE_KEY_SIZE or len(nonce) != NONCE_SIZE:
        raise ValueError("file key must be 32 bytes and nonce 16 bytes")
    commitment = _derive(file_key, nonce, "commitment", version)
    lines = [f"{version}\n".encode(), binding.header_lines(), f"chunk {chunk_size}\n".encode(),
             f"nonce {b64encode(nonce)}\n".encode(), f"commit {b64encode(commitment)}\n".encode()]
    for r in recipients:
        if r.role not in profile.roles:
            raise ValueError(f"{version} has no {r.role} stanza")
        body = wrap(r.public_key, binding.hpke_info(r.role, version), file_key)
        if len(body) != profile.body_size:
            raise ValueError("the wrap produced an unexpected length")
        lines.append(f"-> {profile.suite} {r.role} {r.key_id}\n".encode())
        text = b64encode(body).encode()
        lines.extend(text[i:i + 64] + b"\n" for i in range(0, len(text), 64))
    if split:
        lines += escrow_shares.share_stanza_lines(binding, commitment, file_key, custodians, threshold, wrap,
                                                  version, shares)
    mac_input = b"".join(lines) + b"---"
    mac = header_mac(file_key, nonce, mac_input, version)
    raw = mac_input + b" " + b64encode(mac).encode() + b"\n"
    header = read_header(io.BytesIO(raw))  # self-check: what we write, we can read
    write_all(writer, memoryview(raw))
    payload_size, payload_bytes = encrypt_stream(
        _derive(file_key, nonce, "payload", version), reader, writer, chunk_size,
        aead=gm.SM4GCM if profile.is_gm else None)
    return SealResult(header=header, payload_size=payload_size, envelope_size=len(raw) + payload_bytes)


def _version(suite: str, version: str | None, split: bool, count: int) -> str:
    """The version ``_seal`` writes: ``version`` if given and allowed, else the suite's default."""
    if suite not in CIPHER_SUITES:
        raise ValueError(f"suite is one of {sorted(CIPHER_SUITES)}")
    if version is None:
        version = escrow_shares.version_for(count, suite) if split else CIPHER_SUITES[suite][0]
    if version not in CIPHER_SUITES[suite]:
        raise ValueError(f"the {suite} suite writes {', '.join(CIPHER_SUITES[suite])}")
    shares = PROFILES[version].shares
    if (split and shares == "none") or (not split and shares == "required"):
        raise ValueError("custodians' shares go in a v2, v3 or gm-v1 envelope, and only there")
    return version


def _check_key_suites(suite: str, recipients: Sequence[Recipient], custodians: Sequence[Custodian]) -> None:
    sm2 = [isinstance(k, gm.SM2PublicKey) for k in [r.public_key for r in recipients]
           + [c.public_key for c in custodians]]
    if suite == "gm" and not all(sm2):
        raise ValueError("the gm suite seals to SM2 keys only")
    if suite != "gm" and any(sm2):
        raise ValueError("the international suite seals to P-256 keys only")


def _check_recipients(recipients: Sequence[Recipient]) -> None:
    if not all(isinstance(r, Recipient) for r in recipients):
        raise TypeError("recipients must be Recipient instances")
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError(f"an envelope has 1 to {MAX_RECIPIENTS} recipients")
    if not any(r.role == "bidder" for r in recipients):
        raise ValueError("an envelope needs at least one bidder recipient")
    if len({r.key_id for r in recipients}) != len(recipients):
        raise ValueError("recipients' keys must be distinct")


def verify_file_key(header: EnvelopeHeader, file_key: bytes) -> None:
    """Check a released file key against the header's commitment and MAC, in constant time.

    This is the platform's check when a bidder releases its key at the opening, and the check that
    makes the envelope key-committing: no second key passes it. Raises ``InvalidEnvelope``.
    """
    _payload_key(header, file_key)


def unwrap_file_key(header: EnvelopeHeader, private_key: PrivateKey, *, role: str | None = None) -> bytes:
    """Recover the file key from the stanza addressed to ``private_key`` (and ``role``, if given).

    The key is verified against the header (``verify_file_key``) before it is returned. Raises
    ``InvalidEnvelope`` if no stanza is addressed to this key, or if it does not unwrap or verify;
    ``ValueError`` if ``private_key`` is not a private key of the envelope's suite (P-256, or SM2
    for gm-v1) or ``role`` is unknown. A P-256 key on a PKCS#11 token (``crypto.token``) unwraps
    through the token; its ``TokenError`` passes through.
    """
    gm_suite = header.profile.is_gm
    on_token = hasattr(private_key, "exchange_point")  # crypto.token.TokenPrivateKey: ECDH on a token
    if gm_suite:
        if not isinstance(private_key, gm.SM2PrivateKey):
            raise ValueError("a gm-v1 envelope opens with an SM2 private key")
        kid = private_key.key_id
    elif on_token:
        kid = keys.key_id(keys.check_public_key(private_key.public_key()))
    else:
        keys.check_private_key(private_key)
        kid = keys.key_id(private_key.public_key())
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    for stanza in header.stanzas:
        if stanza.key_id == kid and (role is None or stanza.role == role):
            break
    else:
        raise InvalidEnvelope(_FAILED)
    info = header.binding.hpke_info(stanza.role, header.version)
    if gm_suite:
        file_key = sm2_unwrap(private_key, info, stanza.body)
    elif on_token:
        # The token computes the ECDH and nothing else leaves it; its errors (a removed token, a
        # wrong PIN) are not the envelope's and pass through.
        try:
            file_key = hpke_dh.open_base(stanza.body, dh=private_key.exchange_point, info=info,
                                         recipient_public=keys.public_key_to_bytes(private_key.public_key()))
        except (InvalidTag, ValueError):
            raise InvalidEnvelope(_FAILED) from None
    else:
        try:
            file_key = _HPKE.decrypt(stanza.body, private_key, info=info)
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
        size = decrypt_stream(payload_key, reader, writer, header.chunk_size,
                              aead=gm.SM4GCM if header.profile.is_gm else None)
    except StreamError:
        raise InvalidEnvelope(_FAILED) from None
    return OpenResult(header=header, payload_size=size)


def open_bytes(envelope: bytes, *, file_key: bytes, expected: Binding | None = None) -> bytes:
    """``open_envelope`` for an envelope in memory; returns the plaintext only if all of it verified."""
    out = io.BytesIO()
    open_envelope(io.BytesIO(envelope), out, file_key=file_key, expected=expected)
    return out.getvalue()
