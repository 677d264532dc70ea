"""k-of-n splitting of a tender's escrow key (备用解密), and the custodians' encrypted shares.

Shamir's scheme comes from pycryptodome (``Crypto.Protocol.SecretSharing.Shamir``, GF(2^128),
16-byte secrets): a well-kept implementation rather than our own field arithmetic. A 32-byte P-256
scalar is split as two independent 16-byte halves with the same x-coordinates; a share is
``x`` (1..255) and 32 bytes ``y_low || y_high``.

Each share is sealed to its custodian's P-256 key with HPKE (the envelope's suite), with the tender,
the escrow key id, the custodian's key id and the share index in ``info``: a sealed share copied to
another tender, custodian or index does not open. Every failure to open raises ``ShareError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.hazmat.primitives import hpke

from . import keys

FORMAT = "tender-escrow-share/v1"
SECRET_SIZE = 32
MAX_SHARES = 255
_HALF = 16
_HPKE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


class ShareError(ValueError):
    """A share is malformed, duplicated, sealed for someone else, or the shares do not combine."""


@dataclass(frozen=True)
class Share:
    index: int  # x, 1..n
    value: bytes  # 32 bytes

    def __post_init__(self) -> None:
        if type(self.index) is not int or not 1 <= self.index <= MAX_SHARES:
            raise ShareError("a share index is 1..255")
        if not isinstance(self.value, (bytes, bytearray)) or len(self.value) != SECRET_SIZE:
            raise ShareError("a share value is 32 bytes")

    def to_bytes(self) -> bytes:
        return bytes([self.index]) + bytes(self.value)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Share":
        if not isinstance(data, (bytes, bytearray)) or len(data) != 1 + SECRET_SIZE:
            raise ShareError("a serialised share is 33 bytes")
        return cls(index=data[0], value=bytes(data[1:]))


def split(secret: bytes, threshold: int, count: int) -> list[Share]:
    """Split a 32-byte secret into ``count`` shares, any ``threshold`` of which recover it."""
    if not isinstance(secret, (bytes, bytearray)) or len(secret) != SECRET_SIZE:
        raise ValueError("the secret is 32 bytes")
    if type(threshold) is not int or type(count) is not int or not 1 <= threshold <= count <= MAX_SHARES:
        raise ValueError("need 1 <= threshold <= count <= 255")
    if threshold == 1:
        # pycryptodome needs k >= 2; k = 1 is "every custodian holds the key": each share is the secret.
        return [Share(i, bytes(secret)) for i in range(1, count + 1)]
    low = Shamir.split(threshold, count, bytes(secret[:_HALF]))
    high = Shamir.split(threshold, count, bytes(secret[_HALF:]))
    return [Share(i, a + b) for (i, a), (j, b) in zip(low, high) if i == j]


def combine(shares: list[Share], threshold: int) -> bytearray:
    """Recover the secret from at least ``threshold`` distinct shares (exactly ``threshold`` are
    used). Fewer shares, duplicates or malformed shares raise ``ShareError``. With wrong shares the
    result is wrong, not an error: callers check it (the escrow key's public key must match)."""
    if not all(isinstance(s, Share) for s in shares):
        raise ShareError("shares must be Share instances")
    if len({s.index for s in shares}) != len(shares):
        raise ShareError("duplicate share index")
    if len(shares) < threshold:
        raise ShareError(f"{threshold} shares are needed, got {len(shares)}")
    used = shares[:threshold]
    if threshold == 1:
        return bytearray(used[0].value)
    low = Shamir.combine([(s.index, bytes(s.value[:_HALF])) for s in used])
    high = Shamir.combine([(s.index, bytes(s.value[_HALF:])) for s in used])
    return bytearray(low + high)


def split_private_key(private_key: keys.PrivateKey, threshold: int, count: int) -> list[Share]:
    return split(keys.private_key_to_scalar(private_key), threshold, count)


def combine_private_key(shares: list[Share], threshold: int,
                        expected_public_key: keys.PublicKey) -> keys.PrivateKey:
    """Recombine the escrow key and check it against its public key; ``ShareError`` if it differs."""
    scalar = combine(shares, threshold)
    try:
        key = keys.private_key_from_scalar(bytes(scalar))
    except ValueError:
        raise ShareError("the shares do not combine to the escrow key") from None
    finally:
        scalar[:] = bytes(len(scalar))  # best effort: Python may hold other copies
    if keys.public_key_to_bytes(key.public_key()) != keys.public_key_to_bytes(expected_public_key):
        raise ShareError("the shares do not combine to the escrow key")
    return key


def share_info(tender: str, escrow_key_id: str, custodian_key_id: str, index: int) -> bytes:
    return (f"{FORMAT}\ntender {tender}\nescrow {escrow_key_id}\ncustodian {custodian_key_id}\n"
            f"index {index}").encode("utf-8")


def seal_share(share: Share, custodian_key: keys.PublicKey, *, tender: str, escrow_key_id: str) -> bytes:
    """HPKE-seal a share to its custodian: ``enc || ct`` (65 + 33 + 16 bytes)."""
    info = share_info(tender, escrow_key_id, keys.key_id(custodian_key), share.index)
    return _HPKE.encrypt(share.to_bytes(), keys.check_public_key(custodian_key), info=info)


def open_share(sealed: bytes, custodian_key: keys.PrivateKey, *, tender: str, escrow_key_id: str,
               index: int) -> Share:
    """The custodian's side: open its sealed share. ``ShareError`` on any failure."""
    keys.check_private_key(custodian_key)
    info = share_info(tender, escrow_key_id, keys.key_id(custodian_key.public_key()), index)
    try:
        share = Share.from_bytes(_HPKE.decrypt(bytes(sealed), custodian_key, info=info))
    except Exception:  # noqa: BLE001 - one opaque error for every failure
        raise ShareError("the sealed share does not open with this key") from None
    if share.index != index:
        raise ShareError("the sealed share does not open with this key")
    return share
