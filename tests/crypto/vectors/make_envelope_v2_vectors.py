"""Regenerate the ``tender-envelope/v2`` test vector in ``envelope-v2/`` (docs/envelope.md, Appendix B).

    .venv/bin/python tests/crypto/vectors/make_envelope_v2_vectors.py

Deterministic: fixed bidder and custodian keys, file key, nonce, HPKE ephemeral keys (the v1
generator's independent RFC 9180 code) and Shamir coefficients (fed to pycryptodome's split in place
of its random source). ``index.json`` gives every input and every share, so an outsider can check
each step; ``shamir_eval`` / ``shamir_combine`` below are an independent GF(2^128) implementation of
the spec's field, used only to check the vector.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from Crypto.Protocol import SecretSharing  # noqa: E402

from crypto import envelope, escrow_shares, keys  # noqa: E402

_spec = importlib.util.spec_from_file_location("make_envelope_vectors", Path(__file__).parent / "make_envelope_vectors.py")
v1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v1)

OUT = Path(__file__).resolve().parent / "envelope-v2"
BINDING = v1.BINDING
K, N = 2, 3
POLY = (1 << 128) | 0x87  # x^128 + x^7 + x^2 + x + 1


def fixed(label: str, n: int = 32) -> bytes:
    return hashlib.sha256(f"tender-envelope/v2 test vector {label}".encode()).digest()[:n]


def gf_mul(a: int, b: int) -> int:
    """GF(2^128) as the spec defines it: bit j of the big-endian integer is the coefficient of x^j."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a >> 128:
            a ^= POLY
    return r


def gf_inv(a: int) -> int:
    r, e = 1, (1 << 128) - 2  # a^(2^128 - 2)
    while e:
        if e & 1:
            r = gf_mul(r, a)
        a = gf_mul(a, a)
        e >>= 1
    return r


def shamir_eval(secret_half: bytes, coefficients: list[bytes], x: int) -> bytes:
    y, power = int.from_bytes(secret_half, "big"), 1
    for c in coefficients:
        power = gf_mul(power, x)
        y ^= gf_mul(int.from_bytes(c, "big"), power)
    return y.to_bytes(16, "big")


def shamir_combine(points: list[tuple[int, bytes]]) -> bytes:
    """Lagrange interpolation at 0 of 16-byte halves."""
    total = 0
    for i, (xi, yi) in enumerate(points):
        num, den = 1, 1
        for j, (xj, _) in enumerate(points):
            if i != j:
                num, den = gf_mul(num, xj), gf_mul(den, xi ^ xj)
        total ^= gf_mul(int.from_bytes(yi, "big"), gf_mul(num, gf_inv(den)))
    return total.to_bytes(16, "big")


def build() -> tuple[bytes, dict]:
    bidder = v1.fixed_private_key("v2 bidder")
    custodians = [v1.fixed_private_key(f"v2 custodian {i}") for i in range(1, N + 1)]
    stranger = v1.fixed_private_key("v2 stranger")
    file_key, nonce = fixed("file key"), fixed("nonce", 16)
    # pycryptodome draws the coefficients of the low half, then of the high half (k - 1 each)
    coefficients = {"low": [fixed(f"low coefficient {j}", 16) for j in range(1, K)],
                    "high": [fixed(f"high coefficient {j}", 16) for j in range(1, K)]}
    draws = coefficients["low"] + coefficients["high"]
    ephemerals = [v1.fixed_private_key(f"v2 ephemeral {i}") for i in range(1 + N)]
    remaining = list(ephemerals)
    plaintext = v1.MANIFEST

    def wrap(public_key, info, pt):
        return v1.hpke_seal_base(public_key, info, pt, remaining.pop(0))

    real_rng = SecretSharing.rng
    SecretSharing.rng = lambda n: draws.pop(0)
    try:
        out = io.BytesIO()
        result = envelope._seal(io.BytesIO(plaintext), out, binding=BINDING, chunk_size=64,
                                recipients=[envelope.Recipient("bidder", bidder.public_key())],
                                file_key=file_key, nonce=nonce, wrap=wrap,
                                custodians=[escrow_shares.Custodian(i + 1, c.public_key())
                                            for i, c in enumerate(custodians)], threshold=K,
                                version=envelope.FORMAT_V2)
    finally:
        SecretSharing.rng = real_rng
    assert not draws and not remaining
    header = result.header
    shares = [shamir_eval(file_key[:16], coefficients["low"], i) + shamir_eval(file_key[16:], coefficients["high"], i)
              for i in range(1, N + 1)]
    index = {
        "format": "tender-envelope/v2", "file": "shares-2-of-3.tenv",
        "description": "a bid whose file key is split 2-of-3 among three custodians",
        "tender": BINDING.tender_id, "lot": BINDING.lot_id, "bidder": BINDING.bidder_id, "chunk_size": 64,
        "file_key": file_key.hex(), "nonce": nonce.hex(), "commitment": header.commitment_b64,
        "threshold": K, "count": N,
        "keys": {name: {"scalar": keys.private_key_to_scalar(k).hex(),
                        "public_key": keys.public_key_to_bytes(k.public_key()).hex(),
                        "key_id": keys.key_id(k.public_key())}
                 for name, k in [("bidder", bidder), ("stranger", stranger)]
                 + [(f"custodian{i + 1}", c) for i, c in enumerate(custodians)]},
        "shamir_coefficients": {half: [c.hex() for c in cs] for half, cs in coefficients.items()},
        "shares": [{"index": i, "y": y.hex(),
                    "info": escrow_shares.share_info(BINDING, header.commitment, index=i, threshold=K, count=N,
                                                     key_id=keys.key_id(custodians[i - 1].public_key())).decode()}
                   for i, y in enumerate(shares, start=1)],
        "ephemeral_scalars": [keys.private_key_to_scalar(k).hex() for k in ephemerals],
        "plaintext": plaintext.hex(), "envelope_sha256": hashlib.sha256(out.getvalue()).hexdigest(),
    }
    return out.getvalue(), index


def main() -> None:
    data, index = build()
    OUT.mkdir(exist_ok=True)
    (OUT / index["file"]).write_bytes(data)
    (OUT / "index.json").write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {index['file']} and index.json to {OUT}")


if __name__ == "__main__":
    main()
