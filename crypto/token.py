"""Bidders' P-256 keys on a PKCS#11 token (a CA lock, or SoftHSM2 in the tests), through
``python-pkcs11``: generate the key on the token, read its public key, sign (ECDSA P-256 with
SHA-256, for CSRs) and unwrap an envelope's file key (the token computes the ECDH; ``crypto.hpke_dh``
the rest of HPKE). The private key never leaves the token (``CKA_SENSITIVE``, not extractable).

Every failure raises ``TokenError`` with a ``kind`` a caller can act on: ``wrong_pin``, ``no_token``
(not inserted, or removed: insert it and retry), ``no_key`` (no such key label on the token),
``pin_locked``, ``library`` (the module does not load), ``failed`` (anything else).

A token pulled out of a running process is not seen again by that process when it is put back:
SoftHSM (and python-pkcs11 over it) answers ``failed`` (``GeneralError``), then ``no_token``, until
the library is finalised and initialised again — ``reset(module)``. Every use of a module and its
reset take one process-wide lock, so a reset never pulls a session from under another thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.util.ec import encode_named_curve_parameters

from . import keys

_NO_TOKEN = (p11.NoSuchToken, p11.TokenNotPresent, p11.TokenNotRecognised, p11.DeviceRemoved,
             p11.SlotIDInvalid, p11.SessionHandleInvalid, p11.SessionClosed, p11.DeviceError)


# One lock for every PKCS#11 call of this process: a reset (C_Finalize) closes every session of
# the module, so nothing may be using one meanwhile. Re-entrant: a caller may reset while holding it.
_LOCK = threading.RLock()


class TokenError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class TokenRef:
    """Where a key lives: the PKCS#11 module, the token's label, the key's label; and the user PIN."""

    module: str
    token_label: str
    key_label: str
    pin: str


def _lib(module: str):
    try:
        return pkcs11.lib(module)
    except (OSError, RuntimeError, p11.PKCS11Error) as exc:
        raise TokenError("library", f"the PKCS#11 module {module} does not load: {exc}") from None


def reset(module: str) -> None:
    """Finalise and initialise the module again (``C_Finalize``, ``C_Initialize``), so that it looks
    for its tokens anew: the only way a process sees a token that was pulled out and put back.
    Closes every session of the module in this process. Raises ``TokenError("library")`` when the
    module does not initialise again."""
    with _LOCK:
        try:
            pkcs11.lib(module).reinitialize()
        except (OSError, RuntimeError, p11.PKCS11Error) as exc:
            raise TokenError("library", f"the PKCS#11 module {module} does not initialise again: "
                             f"{type(exc).__name__}") from None


@contextmanager
def _session(ref: TokenRef, *, rw: bool = False) -> Iterator:
    try:
        with _LOCK:
            token = _lib(ref.module).get_token(token_label=ref.token_label)
            with token.open(user_pin=ref.pin, rw=rw) as session:
                yield session
    except TokenError:
        raise
    except p11.PinIncorrect:
        raise TokenError("wrong_pin", "wrong PIN for the token") from None
    except (p11.PinLocked, p11.PinExpired):
        raise TokenError("pin_locked", "the token's PIN is locked") from None
    except p11.NoSuchKey:
        raise TokenError("no_key", f"the token holds no key labelled {ref.key_label!r}") from None
    except _NO_TOKEN:
        raise TokenError("no_token", f"the token {ref.token_label!r} is not present (inserted?): insert it "
                         "and try again") from None
    except p11.PKCS11Error as exc:
        raise TokenError("failed", f"the token refused: {type(exc).__name__}") from None


def _private(session, ref: TokenRef):
    return session.get_key(object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, label=ref.key_label)


def generate_key(ref: TokenRef) -> keys.PublicKey:
    """A new P-256 key pair made on the token (private half sensitive, never extractable)."""
    with _session(ref, rw=True) as session:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        public, _ = params.generate_keypair(
            store=True, label=ref.key_label,
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                              Attribute.DERIVE: True, Attribute.SIGN: True},
            public_template={Attribute.VERIFY: True})
        return _point(public)


def public_key(ref: TokenRef) -> keys.PublicKey:
    with _session(ref) as session:
        public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, key_type=KeyType.EC, label=ref.key_label)
        return _point(public)


def _point(public) -> keys.PublicKey:
    from Crypto.Util.asn1 import DerOctetString

    raw = public[Attribute.EC_POINT]
    if len(raw) != keys.PUBLIC_KEY_SIZE:  # DER OCTET STRING around the point (PKCS#11 2.x)
        raw = DerOctetString().decode(raw, strict=True).payload
    return keys.load_public_key_bytes(raw)


def sign_sha256(ref: TokenRef, message: bytes) -> bytes:
    """ECDSA P-256 over SHA-256(message), on the token: ``r || s`` (64 bytes). The digest is taken
    here and the token signs it (``CKM_ECDSA``): SoftHSM 2.6, like many tokens, has no
    ``CKM_ECDSA_SHA256``."""
    digest = hashlib.sha256(message).digest()
    with _session(ref) as session:
        return _private(session, ref).sign(digest, mechanism=Mechanism.ECDSA)


def ecdh(ref: TokenRef, peer_point: bytes) -> bytes:
    """The x-coordinate of the shared point with ``peer_point`` (65-byte uncompressed), computed on
    the token (``CKM_ECDH1_DERIVE``, no KDF). Only this shared value leaves the token."""
    keys.load_public_key_bytes(peer_point)  # a point on the curve, or ValueError
    with _session(ref) as session:
        secret = _private(session, ref).derive_key(
            KeyType.GENERIC_SECRET, 256, mechanism_param=(pkcs11.KDF.NULL, None, bytes(peer_point)),
            template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True, Attribute.TOKEN: False})
        return bytes(secret[Attribute.VALUE])


class TokenPrivateKey:
    """A P-256 private key on a token, as ``envelope.unwrap_file_key`` takes it: its public key, and
    ``exchange_point`` (the token's ECDH). Each use opens a session: a token removed between two
    uses raises ``TokenError`` (``failed``, then ``no_token``); once it is back, ``reset(ref.module)``
    and the same object works again (without the reset this process does not see it)."""

    def __init__(self, ref: TokenRef):
        self.ref = ref
        self._public = public_key(ref)

    def public_key(self) -> keys.PublicKey:
        return self._public

    def exchange_point(self, peer_point: bytes) -> bytes:
        return ecdh(self.ref, peer_point)

    def sign_sha256(self, message: bytes) -> bytes:
        return sign_sha256(self.ref, message)


ECDSA_WITH_SHA256_OID = "1.2.840.10045.4.3.2"


def make_csr(key: TokenPrivateKey, *, organisation: str, credit_code: str) -> bytes:
    """The PKCS#10 request ``crypto.ca.make_csr`` writes (same subject profile), signed on the token
    (ECDSA P-256 with SHA-256): ``cryptography`` cannot sign with a key it does not hold."""
    from Crypto.Util.asn1 import DerBitString, DerInteger, DerObjectId, DerSequence
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import utils

    from .ca import _subject
    from .sm2_x509 import _pem, _raw

    if not organisation or not credit_code:
        raise ValueError("organisation and credit code are required")
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    info = DerSequence([DerInteger(0), _raw(_subject(organisation, credit_code).public_bytes()), _raw(spki),
                        _raw(b"\xa0\x00")]).encode()
    rs = key.sign_sha256(info)
    signature = utils.encode_dss_signature(int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big"))
    algorithm = DerSequence([DerObjectId(ECDSA_WITH_SHA256_OID)]).encode()
    return _pem("CERTIFICATE REQUEST", DerSequence([_raw(info), _raw(algorithm), DerBitString(signature)]).encode())
