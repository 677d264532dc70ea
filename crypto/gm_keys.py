"""The bidder's SM2 key file, ``tender-key/sm2-v1`` (docs/envelope.md, Appendix D), and the readers
that take either suite's key file.

The file is ``tender-key/v1``'s shape with the 国密 algorithms: PBKDF2-HMAC-SM3 derives a 16-byte
SM4 key from the password, SM4-GCM encrypts the 32-byte private scalar; the public key (65-byte
point) and key id (SM3) are in clear. After decryption the pair is proven with a signature
(``gm.check_pair``): the library derives no public key from a scalar.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from . import gm, keys
from .keys import InvalidKeyFile, WrongPassword, b64decode, b64encode

KEY_FILE_FORMAT = "tender-key/sm2-v1"
_MEMBERS = frozenset({"format", "curve", "key_id", "public_key", "kdf", "iterations", "salt", "nonce", "ct"})


def _wrap_key(password: bytes, salt: bytes, iterations: int) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SM3(), length=16, salt=salt, iterations=iterations).derive(password)


def private_key_to_file(key: gm.SM2PrivateKey, password: bytes, *,
                        iterations: int = keys.DEFAULT_ITERATIONS) -> bytes:
    if not isinstance(key, gm.SM2PrivateKey):
        raise ValueError("expected an SM2 private key")
    if not isinstance(password, bytes) or not password:
        raise ValueError("password must be non-empty bytes")
    if type(iterations) is not int or not keys.MIN_ITERATIONS <= iterations <= keys.MAX_ITERATIONS:
        raise ValueError(f"iterations must be in [{keys.MIN_ITERATIONS}, {keys.MAX_ITERATIONS}]")
    salt, nonce = os.urandom(16), os.urandom(12)
    ct = gm.SM4GCM(_wrap_key(password, salt, iterations)).encrypt(nonce, key.scalar, KEY_FILE_FORMAT.encode())
    document = {"format": KEY_FILE_FORMAT, "curve": "SM2", "key_id": key.key_id,
                "public_key": b64encode(key.public.point), "kdf": "pbkdf2-sm3", "iterations": iterations,
                "salt": b64encode(salt), "nonce": b64encode(nonce), "ct": b64encode(ct)}
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _parse(data: bytes) -> dict[str, Any]:
    if len(data) > 16 * 1024:
        raise InvalidKeyFile("key file too large")
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidKeyFile("key file is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != _MEMBERS or doc.get("format") != KEY_FILE_FORMAT:
        raise InvalidKeyFile(f"key file members are not those of {KEY_FILE_FORMAT}")
    if doc["curve"] != "SM2" or doc["kdf"] != "pbkdf2-sm3":
        raise InvalidKeyFile("unsupported curve or kdf")
    iterations = doc["iterations"]
    if type(iterations) is not int or not keys.MIN_ITERATIONS <= iterations <= keys.MAX_ITERATIONS:
        raise InvalidKeyFile("iterations out of range")
    try:
        fields = {name: b64decode(str(doc[name]), size) for name, size in
                  (("salt", 16), ("nonce", 12), ("ct", 32 + gm.TAG_SIZE))}
        public = gm.SM2PublicKey(b64decode(str(doc["public_key"]), gm.PUBLIC_KEY_SIZE))
    except ValueError:
        raise InvalidKeyFile("malformed key file field") from None
    if doc["key_id"] != public.key_id:
        raise InvalidKeyFile("key id does not match the public key")
    return {**fields, "iterations": iterations, "public": public}


def load_private_key_file(data: bytes, password: bytes) -> gm.SM2PrivateKey:
    if not isinstance(password, bytes):
        raise TypeError("password must be bytes")
    doc = _parse(data)
    try:
        scalar = gm.SM4GCM(_wrap_key(password, doc["salt"], doc["iterations"])).decrypt(
            doc["nonce"], doc["ct"], KEY_FILE_FORMAT.encode())
    except InvalidTag:
        raise WrongPassword("wrong password, or the key file is damaged") from None
    try:
        return gm.check_pair(gm.SM2PrivateKey(scalar, doc["public"]))
    except gm.SM2Error:
        raise InvalidKeyFile("the key file's public key does not match its private key") from None


def _format_of(data: bytes) -> str | None:
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
        return doc.get("format") if isinstance(doc, dict) else None
    except (UnicodeDecodeError, ValueError):
        return None


def read_any_key_file_public(data: bytes):
    """(key id, public key, suite) of a ``tender-key/v1`` (P-256, "intl") or ``tender-key/sm2-v1``
    (SM2, "gm") file, without the password."""
    if _format_of(data) == KEY_FILE_FORMAT:
        public = _parse(data)["public"]
        return public.key_id, public, "gm"
    key_id, public = keys.read_key_file_public(data)
    return key_id, public, "intl"


def load_any_private_key_file(data: bytes, password: bytes):
    """The private key of either suite's key file. ``WrongPassword`` or ``InvalidKeyFile``."""
    if _format_of(data) == KEY_FILE_FORMAT:
        return load_private_key_file(data, password)
    return keys.load_private_key_file(data, password)
