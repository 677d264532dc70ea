"""The 国密 primitives the ``gm`` suite is built from: SM2 (GB/T 32918), SM3 (GB/T 32905), SM4 (GB/T 32907).

Where each comes from (docs/architecture.md, "Dependencies"):

- SM3, HMAC-SM3, HKDF-SM3 and SM4-GCM: ``cryptography`` (its OpenSSL), like the international suite;
- SM2 encryption and signatures: ``gmssl_pyx``, a C extension of GmSSL 3.2. Nothing here computes on
  the curve: the only arithmetic in this module is ASN.1 encoding of the library's results.

Encodings (docs/envelope.md, Appendix D):

- an SM2 public key is the 65-byte uncompressed point ``0x04 || X || Y``; its key id the first 8 bytes
  of ``SM3(point)`` as 16 lowercase hex digits; a private key is its 32-byte scalar;
- an SM2 ciphertext is ``C1 || C3 || C2`` (GB/T 32918.4-2016 order): C1 the 65-byte uncompressed
  point, C3 the 32-byte SM3 value, C2 as long as the plaintext. GmSSL and ``openssl pkeyutl`` speak
  the GM/T 0009 ASN.1 form ``SEQUENCE {x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET
  STRING}``; ``c1c3c2_from_der``/``c1c3c2_to_der`` convert, strictly;
- an SM2 signature is SM2 with SM3 over ``Z_A || M``, ``Z_A`` computed with the user ID
  ``1234567812345678`` (GM/T 0009's default); it is written ``r || s`` (64 bytes) in this project's
  formats, DER ``SEQUENCE {r, s}`` in X.509 and for OpenSSL.

Failures: ``SM2Error`` for a key, ciphertext or signature that does not load, decrypt or verify.
The library prints a trace of its failures to standard error; that is noise, never data.
"""

from __future__ import annotations

import hmac as _hmac
from dataclasses import dataclass, field

import gmssl_pyx
from Crypto.Util.asn1 import DerInteger, DerOctetString, DerSequence
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DEFAULT_USER_ID = b"1234567812345678"  # GM/T 0009-2012, 10.2 (also OpenSSL's and GmSSL's)
PUBLIC_KEY_SIZE = 65
SCALAR_SIZE = 32
SIGNATURE_SIZE = 64
C1_SIZE, C3_SIZE = 65, 32
SM4_KEY_SIZE = 16
TAG_SIZE = 16
# GB/T 32918.5 / GM/T 0003.5 recommended curve: the group order n (to range-check r, s).
_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


class SM2Error(ValueError):
    """An SM2 key, ciphertext or signature is malformed, or does not decrypt or verify."""


# --- SM3 -------------------------------------------------------------------------------------------

def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 hash (GB/T 32905)."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(bytes(data))
    return digest.finalize()


def sm3_hasher():
    """An incremental SM3 hasher (``update``/``finalize``) for large files."""
    return hashes.Hash(hashes.SM3())


def hmac_sm3(key: bytes, message: bytes) -> bytes:
    mac = _crypto_hmac.HMAC(bytes(key), hashes.SM3())
    mac.update(bytes(message))
    return mac.finalize()


def hkdf_sm3(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF (RFC 5869) with HMAC-SM3."""
    return HKDF(algorithm=hashes.SM3(), length=length, salt=salt, info=info).derive(bytes(ikm))


def equal(a: bytes, b: bytes) -> bool:
    return _hmac.compare_digest(a, b)


# --- SM4-GCM ---------------------------------------------------------------------------------------

class SM4GCM:
    """SM4 in GCM mode (RFC 8998's ``TLS_SM4_GCM_SM3`` parameters: 16-byte key, 12-byte nonce,
    16-byte tag appended), with the two methods ``crypto.stream`` uses of ``AESGCM``:
    ``encrypt_into`` and ``decrypt_into``, writing into the caller's buffer (no allocation per
    chunk)."""

    def __init__(self, key: bytes):
        if not isinstance(key, (bytes, bytearray)) or len(key) != SM4_KEY_SIZE:
            raise ValueError("an SM4 key is 16 bytes")
        self._algorithm = algorithms.SM4(bytes(key))

    def encrypt_into(self, nonce: bytes, data, associated_data, out) -> int:
        n = len(data)
        if len(out) < n + TAG_SIZE:
            raise ValueError("output buffer too small")
        out = memoryview(out)  # slices of a view write through; slices of a bytearray are copies
        enc = Cipher(self._algorithm, modes.GCM(nonce)).encryptor()
        if associated_data:
            enc.authenticate_additional_data(associated_data)
        written = enc.update_into(data, out[:n]) if n else 0
        enc.finalize()
        out[written:written + TAG_SIZE] = enc.tag
        return written + TAG_SIZE

    def decrypt_into(self, nonce: bytes, data, associated_data, out) -> int:
        """Raises ``cryptography.exceptions.InvalidTag`` on failure (``out`` may then hold
        unauthenticated bytes: the caller wipes it, as it does for AES-GCM)."""
        n = len(data) - TAG_SIZE
        if n < 0:
            raise InvalidTag()
        data, out = memoryview(data), memoryview(out)
        dec = Cipher(self._algorithm, modes.GCM(nonce, bytes(data[n:]))).decryptor()
        if associated_data:
            dec.authenticate_additional_data(associated_data)
        written = dec.update_into(data[:n], out[:n]) if n else 0
        dec.finalize()  # InvalidTag
        return written

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None = None) -> bytes:
        out = bytearray(len(data) + TAG_SIZE)
        self.encrypt_into(nonce, data, associated_data, out)
        return bytes(out)

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None = None) -> bytes:
        out = bytearray(max(len(data) - TAG_SIZE, 0))
        self.decrypt_into(nonce, data, associated_data, out)
        return bytes(out)


# --- SM2 keys --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SM2PublicKey:
    point: bytes  # 65 bytes, 0x04 || X || Y, checked to be on the curve

    def __post_init__(self) -> None:
        if not isinstance(self.point, bytes) or len(self.point) != PUBLIC_KEY_SIZE or self.point[0] != 4:
            raise SM2Error("an SM2 public key is a 65-byte uncompressed point")
        try:
            gmssl_pyx.normalize_sm2_public_key(self.point)
        except gmssl_pyx.InvalidValueError:
            raise SM2Error("the point is not on the SM2 curve") from None

    @property
    def key_id(self) -> str:
        return sm3(self.point)[:8].hex()


@dataclass(frozen=True)
class SM2PrivateKey:
    """An SM2 private key with its public key: the library derives no public key from a scalar, so
    the two travel together, and ``check_pair`` proves they belong together."""

    scalar: bytes = field(repr=False)
    public: SM2PublicKey

    def __post_init__(self) -> None:
        if not isinstance(self.scalar, bytes) or len(self.scalar) != SCALAR_SIZE:
            raise SM2Error("an SM2 private key is a 32-byte scalar")
        if not 1 <= int.from_bytes(self.scalar, "big") < _N - 1:
            raise SM2Error("the scalar is out of range")
        if not isinstance(self.public, SM2PublicKey):
            raise TypeError("public must be an SM2PublicKey")

    def public_key(self) -> SM2PublicKey:
        return self.public

    @property
    def key_id(self) -> str:
        return self.public.key_id


def generate_sm2_key() -> SM2PrivateKey:
    public, private = gmssl_pyx.sm2_key_generate()
    return SM2PrivateKey(private, SM2PublicKey(b"\x04" + public))


def check_pair(private_key: SM2PrivateKey) -> SM2PrivateKey:
    """Prove the scalar is the public key's: sign a fixed message, verify it. ``SM2Error`` if not."""
    message = b"tender-key/sm2 pair check"
    sm2_verify(private_key.public, sm2_sign(private_key, message), message)
    return private_key


def as_sm2_public_key(key) -> SM2PublicKey:
    if isinstance(key, SM2PublicKey):
        return key
    if isinstance(key, (bytes, bytearray, memoryview)):
        return SM2PublicKey(bytes(key))
    raise SM2Error("expected an SM2 public key")


# --- SM2 encryption (GB/T 32918.4) -----------------------------------------------------------------

def c1c3c2_from_der(der: bytes) -> bytes:
    """The GM/T 0009 ASN.1 ciphertext as ``C1 || C3 || C2``. ``SM2Error`` unless it is canonical DER."""
    try:
        seq = DerSequence().decode(bytes(der), strict=True)
        if len(seq) != 4:
            raise ValueError
        x, y = int(seq[0]), int(seq[1])
        c3 = DerOctetString().decode(seq[2], strict=True).payload
        c2 = DerOctetString().decode(seq[3], strict=True).payload
        if not (0 <= x < 1 << 256 and 0 <= y < 1 << 256) or len(c3) != C3_SIZE or not c2:
            raise ValueError
    except (ValueError, TypeError, IndexError):
        raise SM2Error("not an SM2 ciphertext") from None
    raw = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2
    if c1c3c2_to_der(raw) != bytes(der):
        raise SM2Error("not an SM2 ciphertext in canonical DER")
    return raw


def c1c3c2_to_der(raw: bytes) -> bytes:
    raw = bytes(raw)
    if len(raw) <= C1_SIZE + C3_SIZE or raw[0] != 4:
        raise SM2Error("not a C1C3C2 SM2 ciphertext")
    x, y = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:65], "big")
    c3, c2 = raw[65:97], raw[97:]
    return DerSequence([DerInteger(x), DerInteger(y), DerOctetString(c3), DerOctetString(c2)]).encode()


def sm2_encrypt(public_key: SM2PublicKey, plaintext: bytes) -> bytes:
    """SM2 public-key encryption with a fresh random k; the ciphertext in C1C3C2 order."""
    public_key = as_sm2_public_key(public_key)
    if not 1 <= len(plaintext) <= 255:
        raise ValueError("SM2 encrypts 1 to 255 bytes here")
    return c1c3c2_from_der(gmssl_pyx.sm2_encrypt(public_key.point[1:], bytes(plaintext)))


def sm2_decrypt(private_key: SM2PrivateKey, ciphertext: bytes) -> bytes:
    """Decrypt a C1C3C2 ciphertext (its C3 checked by the library). ``SM2Error`` on any failure."""
    if not isinstance(private_key, SM2PrivateKey):
        raise TypeError("expected an SM2 private key")
    try:
        der = c1c3c2_to_der(ciphertext)
        return gmssl_pyx.sm2_decrypt(private_key.scalar, der)
    except (gmssl_pyx.GmsslInnerError, SM2Error):
        raise SM2Error("the SM2 ciphertext does not decrypt") from None


# --- SM2 signatures (GB/T 32918.2, GM/T 0009 default user ID) --------------------------------------

def verify_bidder_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """A bidder's signature by its certified key, whichever suite: ECDSA P-256 with SHA-256 for a
    P-256 point, SM2 with SM3 (default user ID) for an SM2 point; ``r || s`` or DER. False for any
    failure. (A point valid on both curves would be checked as P-256 first; the SM2 path is taken
    only when the point is not on P-256.)"""
    from . import keys

    try:
        keys.load_public_key_bytes(public_key)
    except ValueError:
        try:
            sm2_verify(SM2PublicKey(bytes(public_key)), bytes(signature), message)
            return True
        except (SM2Error, TypeError):
            return False
    return keys.verify_p256_signature(public_key, signature, message)


# The algorithm a bidder's (or an expert's) signature is made with, by the tender's cipher suite.
SIGNATURE_ALGORITHMS = {"intl": "ecdsa-p256-sha256", "gm": "sm2-sm3"}


def verify_signature_of_suite(suite: str, public_key: bytes, signature: bytes, message: bytes) -> bool:
    """A signature by ``public_key`` with exactly the suite's algorithm: ECDSA P-256 / SHA-256 for
    ``intl``, SM2 / SM3 (default user ID) for ``gm``. False for any failure, and for a key of the
    other suite: unlike ``verify_bidder_signature`` the algorithm is not guessed from the key."""
    from . import keys

    if suite == "gm":
        try:
            sm2_verify(SM2PublicKey(bytes(public_key)), bytes(signature), message)
            return True
        except (SM2Error, TypeError):
            return False
    if suite == "intl":
        return keys.verify_p256_signature(bytes(public_key), bytes(signature), message)
    raise ValueError(f"unknown cipher suite {suite!r}")


def signature_to_der(signature: bytes) -> bytes:
    if len(signature) != SIGNATURE_SIZE:
        raise SM2Error("an SM2 signature is r || s, 64 bytes")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    return DerSequence([DerInteger(r), DerInteger(s)]).encode()


def signature_from_der(der: bytes) -> bytes:
    try:
        seq = DerSequence().decode(bytes(der), strict=True)
        if len(seq) != 2:
            raise ValueError
        r, s = int(seq[0]), int(seq[1])
    except (ValueError, TypeError, IndexError):
        raise SM2Error("not a DER SM2 signature") from None
    if not (1 <= r < _N and 1 <= s < _N):
        raise SM2Error("SM2 signature values out of range")
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if signature_to_der(raw) != bytes(der):
        raise SM2Error("not a DER SM2 signature in canonical form")
    return raw


def sm2_sign(private_key: SM2PrivateKey, message: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """SM2 with SM3 over ``Z_A || message``; the 64-byte ``r || s``."""
    if not isinstance(private_key, SM2PrivateKey):
        raise TypeError("expected an SM2 private key")
    if not isinstance(message, bytes):
        raise TypeError("sign bytes, not text: the encoding is part of what is signed")
    der = gmssl_pyx.sm2_sign(private_key.scalar, private_key.public.point[1:], message, signer_id=user_id)
    return signature_from_der(der)


def sm2_verify(public_key: SM2PublicKey | bytes, signature: bytes, message: bytes, *,
               user_id: bytes = DEFAULT_USER_ID) -> None:
    """Return None if ``signature`` (``r || s`` or DER) is ``public_key``'s over ``message``;
    ``SM2Error`` otherwise, for a bad signature and a malformed one alike."""
    public_key = as_sm2_public_key(public_key)
    if not isinstance(message, bytes):
        raise TypeError("verify bytes, not text")
    if not isinstance(signature, bytes):
        raise SM2Error("a signature is bytes")
    der = signature_to_der(signature) if len(signature) == SIGNATURE_SIZE else signature
    signature_from_der(der)  # canonical, in range
    try:
        ok = gmssl_pyx.sm2_verify(public_key.point[1:], message, der, signer_id=user_id)
    except gmssl_pyx.GmsslInnerError:
        ok = False
    if not ok:
        raise SM2Error("the SM2 signature does not verify")
