"""Replicated k-of-n secret sharing of a 32-byte secret with XOR only (the ``hpke-p256-rss`` share
stanzas of ``tender-envelope/v3``, docs/envelope.md, Appendix C).

For every k-subset T of the custodians' indices 1..n, taken in lexicographic order, the secret is
split k-of-k by XOR among T's members: the members of T in increasing index order get parts
p(T, t_1) .. p(T, t_k), the first k - 1 drawn from the CSPRNG, the last the secret XOR all of them.
Custodian i's share is the concatenation of its parts p(T, i) for the subsets T that contain i, in
lexicographic order of T: C(n-1, k-1) parts of 32 bytes.

Any k custodians form one subset T and XOR their parts of it back into the secret. Any k - 1 of
them miss at least one part of every subset, each subset's split is independent of the others, so
what they hold is uniformly random whatever the secret. No field arithmetic: only the CSPRNG and
XOR, which is why a browser can write it with WebCrypto alone. The price is size, C(n-1, k-1) x 32
bytes per custodian, so n is bounded (``MAX_COUNT``).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Mapping

SECRET_SIZE = 32
MIN_THRESHOLD = 2
MAX_COUNT = 7  # C(6, 3) = 20 parts, 640 bytes: the largest share

Random = Callable[[int], bytes]


def check_split(threshold: int, count: int) -> None:
    if (type(threshold) is not int or type(count) is not int
            or not MIN_THRESHOLD <= threshold <= count <= MAX_COUNT):
        raise ValueError(f"need {MIN_THRESHOLD} <= threshold <= count <= {MAX_COUNT}")


def subsets(threshold: int, count: int) -> list[tuple[int, ...]]:
    """The k-subsets of 1..n in lexicographic order (itertools' order)."""
    check_split(threshold, count)
    return list(itertools.combinations(range(1, count + 1), threshold))


def share_size(threshold: int, count: int) -> int:
    """Bytes of one custodian's share: C(n-1, k-1) parts of 32 bytes."""
    check_split(threshold, count)
    return math.comb(count - 1, threshold - 1) * SECRET_SIZE


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(SECRET_SIZE, "big")


def split(secret: bytes, threshold: int, count: int, random: Random = os.urandom) -> list[bytes]:
    """The ``count`` shares of ``secret``: element i - 1 is custodian i's. ``random`` is the CSPRNG
    (the test vectors pass a deterministic one; nothing else may)."""
    if not isinstance(secret, (bytes, bytearray)) or len(secret) != SECRET_SIZE:
        raise ValueError("the secret is 32 bytes")
    shares: list[list[bytes]] = [[] for _ in range(count)]
    for subset in subsets(threshold, count):
        last = bytes(secret)
        for member in subset[:-1]:
            part = random(SECRET_SIZE)
            if len(part) != SECRET_SIZE:
                raise ValueError("the random source returned a short value")
            shares[member - 1].append(part)
            last = _xor(last, part)
        shares[subset[-1] - 1].append(last)
    return [b"".join(parts) for parts in shares]


def _part(share: bytes, index: int, subset: tuple[int, ...], threshold: int, count: int) -> bytes:
    mine = [s for s in subsets(threshold, count) if index in s]
    at = mine.index(subset) * SECRET_SIZE
    return share[at:at + SECRET_SIZE]


def combine(shares: Mapping[int, bytes], threshold: int, count: int) -> bytes:
    """The secret from exactly ``threshold`` custodians' shares ``{index: share}``. ``ValueError``
    if there are not exactly k of them, an index is out of 1..n, or a share has the wrong size.
    Wrong shares give a wrong secret, not an error: callers check it (the envelope's commitment)."""
    size = share_size(threshold, count)
    subset = tuple(sorted(shares))
    if len(subset) != threshold or not all(type(i) is int and 1 <= i <= count for i in subset):
        raise ValueError(f"exactly {threshold} shares of indices 1..{count} are needed")
    if any(not isinstance(v, (bytes, bytearray)) or len(v) != size for v in shares.values()):
        raise ValueError(f"a share is {size} bytes")
    secret = bytes(SECRET_SIZE)
    for index in subset:
        secret = _xor(secret, _part(bytes(shares[index]), index, subset, threshold, count))
    return secret
