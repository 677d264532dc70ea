"""Bidder and escrow P-256 keys: generation, encodings, key ids and the ``tender-key/v1`` key file.

The key file format is specified in docs/envelope.md, Appendix A; the browser reads and writes the
same files with WebCrypto (PBKDF2, AES-GCM, PKCS#8 import/export).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

PUBLIC_KEY_SIZE = 65
KEY_FILE_FORMAT = "tender-key/v1"
DEFAULT_ITERATIONS = 600_000
MIN_ITERATIONS = 100_000
MAX_ITERATIONS = 10_000_000
_MAX_KEY_FILE_SIZE = 16 * 1024
_KEY_FILE_MEMBERS = frozenset(
    {"format", "curve", "key_id", "public_key", "kdf", "iterations", "salt", "nonce", "ct"})

PrivateKey = ec.EllipticCurvePrivateKey
PublicKey = ec.EllipticCurvePublicKey


class InvalidKeyFile(ValueError):
    """The key file is not a well-formed ``tender-key/v1`` file."""


class WrongPassword(InvalidKeyFile):
    """The key file did not decrypt: wrong password (or a damaged file; AES-GCM cannot tell)."""


def b64encode(data: bytes) -> str:
    """Standard base64 without padding (the encoding of docs/envelope.md)."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str | bytes, size: int | None = None) -> bytes:
    """Decode canonical unpadded standard base64, optionally of exactly ``size`` bytes.

    Raises ``ValueError`` for padding, characters outside the alphabet, non-canonical trailing bits
    or a wrong length: two encodings of one value would let a header change without its MAC.
    """
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("base64 must be ASCII") from None
    else:
        raw = bytes(text)
    if raw.endswith(b"=") or len(raw) % 4 == 1:
        raise ValueError("invalid unpadded base64")
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except binascii.Error:
        raise ValueError("invalid base64") from None
    if base64.b64encode(data).rstrip(b"=") != raw:
        raise ValueError("non-canonical base64")
    if size is not None and len(data) != size:
        raise ValueError(f"expected {size} bytes")
    return data


def b64decode_lenient(text: str | bytes, size: int | None = None) -> bytes:
    """``b64decode`` that also accepts the padded form: exactly the ``=`` the length needs, and
    still canonical. For API fields that clients have sent padded (docs/opening.md); never for a
    header, where one value must have one encoding."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    if raw.endswith(b"="):
        stripped = raw.rstrip(b"=")
        if len(raw) % 4 or len(raw) - len(stripped) != -len(stripped) % 4:
            raise ValueError("invalid base64 padding")
        raw = stripped
    return b64decode(raw, size)


def generate_bidder_key() -> PrivateKey:
    """A new random P-256 private key (bidder or escrow)."""
    return ec.generate_private_key(ec.SECP256R1())


def check_private_key(private_key: Any) -> PrivateKey:
    """Return ``private_key`` if it is a P-256 private key, else raise ``ValueError``."""
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1):
        raise ValueError("expected a P-256 private key")
    return private_key


def check_public_key(public_key: Any) -> PublicKey:
    """Return ``public_key`` if it is a P-256 public key, else raise ``ValueError``."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1):
        raise ValueError("expected a P-256 public key")
    return public_key


def as_public_key(key: Any) -> PublicKey:
    """A P-256 public key given as a key object or its 65-byte encoding; ``ValueError`` otherwise."""
    if isinstance(key, (bytes, bytearray, memoryview)):
        key = load_public_key_bytes(bytes(key))
    return check_public_key(key)


def public_key_to_bytes(public_key: PublicKey) -> bytes:
    """The 65-byte uncompressed SEC1 encoding ``0x04 || X || Y``."""
    return check_public_key(public_key).public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def load_public_key_bytes(data: bytes) -> PublicKey:
    """Parse a 65-byte uncompressed P-256 point; ``ValueError`` if malformed or not on the curve."""
    data = bytes(data)
    if len(data) != PUBLIC_KEY_SIZE or data[0] != 0x04:
        raise ValueError("expected a 65-byte uncompressed P-256 point")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)


def verify_p256_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """ECDSA P-256 / SHA-256 by a bidder's certified key over ``message``; the signature as WebCrypto
    makes it (r‖s, 64 bytes) or DER. False for any failure (wrong key, altered message, malformed)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import utils

    try:
        key = load_public_key_bytes(public_key)
        if len(signature) == 64:
            signature = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                                   int.from_bytes(signature[32:], "big"))
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def key_id(public_key: PublicKey) -> str:
    """First 8 bytes of SHA-256 of the uncompressed point, as 16 lowercase hex digits."""
    return hashlib.sha256(public_key_to_bytes(public_key)).digest()[:8].hex()


def private_key_from_scalar(scalar: bytes) -> PrivateKey:
    """The P-256 private key with the given 32-byte big-endian scalar (test vectors, JWK ``d``)."""
    if len(scalar) != 32:
        raise ValueError("expected a 32-byte scalar")
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def private_key_to_scalar(private_key: PrivateKey) -> bytes:
    return check_private_key(private_key).private_numbers().private_value.to_bytes(32, "big")


def private_key_to_pkcs8(private_key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER, the form WebCrypto's ``importKey("pkcs8", ...)`` takes."""
    return check_private_key(private_key).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _wrap_key(password: bytes, salt: bytes, iterations: int) -> bytes:
    return PBKDF2HMAC(algorithm=SHA256(), length=32, salt=salt, iterations=iterations).derive(password)


def private_key_to_file(private_key: PrivateKey, password: bytes, *,
                        iterations: int = DEFAULT_ITERATIONS) -> bytes:
    """Serialise ``private_key`` as a password-protected ``tender-key/v1`` file (UTF-8 JSON).

    ``password`` is the UTF-8 encoding of the NFC-normalised password text; an empty password is
    refused. Salt and nonce are fresh for every call.
    """
    check_private_key(private_key)
    if not isinstance(password, bytes) or not password:
        raise ValueError("password must be non-empty bytes")
    if type(iterations) is not int or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be in [{MIN_ITERATIONS}, {MAX_ITERATIONS}]")
    salt, nonce = os.urandom(16), os.urandom(12)
    ct = AESGCM(_wrap_key(password, salt, iterations)).encrypt(
        nonce, private_key_to_pkcs8(private_key), KEY_FILE_FORMAT.encode())
    public_key = private_key.public_key()
    document = {
        "format": KEY_FILE_FORMAT,
        "curve": "P-256",
        "key_id": key_id(public_key),
        "public_key": b64encode(public_key_to_bytes(public_key)),
        "kdf": "pbkdf2-sha256",
        "iterations": iterations,
        "salt": b64encode(salt),
        "nonce": b64encode(nonce),
        "ct": b64encode(ct),
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def read_key_file_public(data: bytes) -> tuple[str, PublicKey]:
    """The (key id, public key) a key file declares, without the password. Checks consistency."""
    doc = _parse_key_file(data)
    return doc["key_id"], doc["public_key"]


def load_private_key_file(data: bytes, password: bytes) -> PrivateKey:
    """Decrypt a ``tender-key/v1`` file. Raises ``WrongPassword`` or ``InvalidKeyFile``."""
    if not isinstance(password, bytes):
        raise TypeError("password must be bytes")
    doc = _parse_key_file(data)
    try:
        der = AESGCM(_wrap_key(password, doc["salt"], doc["iterations"])).decrypt(
            doc["nonce"], doc["ct"], KEY_FILE_FORMAT.encode())
    except InvalidTag:
        raise WrongPassword("wrong password, or the key file is damaged") from None
    try:
        private_key = check_private_key(serialization.load_der_private_key(der, password=None))
    except (ValueError, TypeError):
        raise InvalidKeyFile("the key file does not hold a P-256 private key") from None
    if public_key_to_bytes(private_key.public_key()) != public_key_to_bytes(doc["public_key"]):
        raise InvalidKeyFile("the key file's public key does not match its private key")
    return private_key


def _parse_key_file(data: bytes) -> dict[str, Any]:
    if len(data) > _MAX_KEY_FILE_SIZE:
        raise InvalidKeyFile("key file too large")
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidKeyFile("key file is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != _KEY_FILE_MEMBERS:
        raise InvalidKeyFile("key file members are not those of tender-key/v1")
    if doc["format"] != KEY_FILE_FORMAT:
        raise InvalidKeyFile(f"unsupported key file format {doc['format']!r}")
    if doc["curve"] != "P-256" or doc["kdf"] != "pbkdf2-sha256":
        raise InvalidKeyFile("unsupported curve or kdf")
    iterations = doc["iterations"]
    if type(iterations) is not int or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise InvalidKeyFile("iterations out of range")
    try:
        fields = {name: b64decode(_as_str(doc[name]), size)
                  for name, size in (("salt", 16), ("nonce", 12), ("ct", None))}
        public_key = load_public_key_bytes(b64decode(_as_str(doc["public_key"]), PUBLIC_KEY_SIZE))
    except ValueError:
        raise InvalidKeyFile("malformed key file field") from None
    if doc["key_id"] != key_id(public_key):
        raise InvalidKeyFile("key id does not match the public key")
    return {**fields, "iterations": iterations, "key_id": doc["key_id"], "public_key": public_key}


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value
