"""Ed25519 signing keys for the platform: generation, PEM and raw encodings, sign and verify.

The rest of the project uses these helpers and the ``SigningKey``/``VerifyKey`` aliases instead of
importing ``cryptography.hazmat`` itself. Verification failures of every kind raise one error,
``SignatureError``, so callers cannot forget a case.

A signing key held elsewhere (``crypto.platform_token.TokenSigningKey``, on an HSM) raises
``SigningUnavailable`` when it cannot sign now — the token is pulled out, the HSM does not answer,
or what answers is not this key: nothing was signed, and the same call may succeed later.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SigningKey = Ed25519PrivateKey
VerifyKey = Ed25519PublicKey

PUBLIC_KEY_SIZE = 32
SEED_SIZE = 32
SIGNATURE_SIZE = 64


class SignatureError(ValueError):
    """A signature did not verify (wrong key, altered message, malformed signature or key)."""


class SigningUnavailable(Exception):
    """The key cannot sign now (its token or HSM is away, or holds another key): try again later."""


class KeyFormatError(ValueError):
    """Key material could not be loaded: malformed, not Ed25519, or a wrong password."""


def generate_signing_key() -> SigningKey:
    return Ed25519PrivateKey.generate()


def signing_key_from_seed(seed: bytes) -> SigningKey:
    """The key whose RFC 8032 private key (seed) is these 32 bytes: for tests and fixed vectors."""
    if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
        raise KeyFormatError(f"an Ed25519 seed is {SEED_SIZE} bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key_to_pem(key: SigningKey, password: bytes | None) -> bytes:
    """PKCS#8 PEM, encrypted with ``password`` (the library's best available scheme) unless None.

    An empty password is refused rather than silently meaning "unencrypted".
    """
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("not an Ed25519 private key")
    if password is None:
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    elif isinstance(password, bytes) and password:
        encryption = serialization.BestAvailableEncryption(password)
    else:
        raise ValueError("password must be non-empty bytes, or None for an unencrypted key")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption)


def load_signing_key_pem(data: bytes, password: bytes | None) -> SigningKey:
    """Load a PEM private key written by ``signing_key_to_pem``; ``KeyFormatError`` otherwise."""
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # cryptography raises ValueError for a wrong password and TypeError for a missing or
        # unexpected one; to the caller all of these mean "this key does not load".
        raise KeyFormatError(f"cannot load the signing key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError("the PEM key is not an Ed25519 key")
    return key


def public_key_bytes(key: SigningKey | VerifyKey) -> bytes:
    """The 32-byte RFC 8032 encoding of the public key (of a private key, of a key on a token
    (``crypto.platform_token.TokenSigningKey``), or of a public key)."""
    if isinstance(key, Ed25519PrivateKey) or (not isinstance(key, Ed25519PublicKey) and hasattr(key, "public_key")):
        key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError("not an Ed25519 key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_key_bytes(data: bytes) -> VerifyKey:
    if not isinstance(data, bytes) or len(data) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes")
    try:
        return Ed25519PublicKey.from_public_bytes(data)
    except ValueError as exc:
        raise KeyFormatError(f"not an Ed25519 public key: {exc}") from None


def sign(key: SigningKey, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
    if not isinstance(message, bytes):
        raise TypeError("sign bytes, not text: the encoding is part of what is signed")
    return key.sign(message)


def verify(public_key: VerifyKey | bytes, signature: bytes, message: bytes) -> None:
    """Return None if ``signature`` is ``public_key``'s signature of ``message``.

    ``public_key`` may be a key object or its 32 raw bytes. Raises ``SignatureError`` for a bad
    signature and for a malformed key or signature alike.
    """
    if not isinstance(message, bytes):
        raise TypeError("verify bytes, not text: the encoding is part of what is signed")
    try:
        key = public_key if isinstance(public_key, Ed25519PublicKey) \
            else load_public_key_bytes(public_key)
    except KeyFormatError as exc:
        raise SignatureError(str(exc)) from None
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"an Ed25519 signature is {SIGNATURE_SIZE} bytes")
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise SignatureError("signature does not verify") from None
