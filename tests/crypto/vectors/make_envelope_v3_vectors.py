"""Regenerate the ``tender-envelope/v3`` test vector in ``envelope-v3/`` (docs/envelope.md, Appendix C).

    .venv/bin/python tests/crypto/vectors/make_envelope_v3_vectors.py

Deterministic: fixed bidder and custodian keys, file key, nonce, HPKE ephemeral keys (the v1
generator's independent RFC 9180 code) and the split's random parts (given to the sealer in place
of the CSPRNG, in the order the spec draws them). ``index.json`` gives every input, every subset's
parts and every custodian's share, so an outsider can check each step; ``rss_split`` /
``rss_combine`` below are an independent implementation of the spec's sharing, used only to check
the vector.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crypto import envelope, escrow_shares, keys  # noqa: E402

_spec = importlib.util.spec_from_file_location("make_envelope_vectors", Path(__file__).parent / "make_envelope_vectors.py")
v1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v1)

OUT = Path(__file__).resolve().parent / "envelope-v3"
BINDING = v1.BINDING
K, N = 3, 4


def fixed(label: str, n: int = 32) -> bytes:
    return hashlib.sha256(f"tender-envelope/v3 test vector {label}".encode()).digest()[:n]


def xor(*values: bytes) -> bytes:
    out = bytearray(32)
    for v in values:
        for i, b in enumerate(v):
            out[i] ^= b
    return bytes(out)


def rss_split(secret: bytes, k: int, n: int, draws: list[bytes]) -> tuple[dict, list[bytes]]:
    """The spec's split, written from docs/envelope.md: for each k-subset in lexicographic order,
    its first k - 1 members' parts are the next draws, the last member's the secret XOR them."""
    draws = list(draws)
    parts = {}
    for subset in itertools.combinations(range(1, n + 1), k):
        mine = [draws.pop(0) for _ in subset[:-1]]
        parts[subset] = mine + [xor(secret, *mine)]
    shares = [b"".join(parts[s][s.index(i)] for s in parts if i in s) for i in range(1, n + 1)]
    return parts, shares


def rss_combine(shares: dict[int, bytes], k: int, n: int) -> bytes:
    subset = tuple(sorted(shares))
    mine = {i: [s for s in itertools.combinations(range(1, n + 1), k) if i in s] for i in subset}
    return xor(*(shares[i][32 * mine[i].index(subset):32 * mine[i].index(subset) + 32] for i in subset))


def build() -> tuple[bytes, dict]:
    bidder = v1.fixed_private_key("v3 bidder")
    custodians = [v1.fixed_private_key(f"v3 custodian {i}") for i in range(1, N + 1)]
    stranger = v1.fixed_private_key("v3 stranger")
    file_key, nonce = fixed("file key"), fixed("nonce", 16)
    subsets = list(itertools.combinations(range(1, N + 1), K))
    draws = [fixed(f"part {j}") for j in range(len(subsets) * (K - 1))]
    parts, shares = rss_split(file_key, K, N, draws)
    ephemerals = [v1.fixed_private_key(f"v3 ephemeral {i}") for i in range(1 + N)]
    remaining = list(ephemerals)
    plaintext = v1.MANIFEST

    def wrap(public_key, info, pt):
        return v1.hpke_seal_base(public_key, info, pt, remaining.pop(0))

    out = io.BytesIO()
    result = envelope._seal(io.BytesIO(plaintext), out, binding=BINDING, chunk_size=64,
                            recipients=[envelope.Recipient("bidder", bidder.public_key())],
                            file_key=file_key, nonce=nonce, wrap=wrap,
                            custodians=[escrow_shares.Custodian(i + 1, c.public_key())
                                        for i, c in enumerate(custodians)], threshold=K,
                            version=envelope.FORMAT_V3,
                            shares=[escrow_shares.Share(i, s) for i, s in enumerate(shares, start=1)])
    assert not remaining
    header = result.header
    index = {
        "format": "tender-envelope/v3", "file": "rss-3-of-4.tenv",
        "description": "a bid whose file key is split 3-of-4 among four custodians by replicated XOR sharing",
        "tender": BINDING.tender_id, "lot": BINDING.lot_id, "bidder": BINDING.bidder_id, "chunk_size": 64,
        "file_key": file_key.hex(), "nonce": nonce.hex(), "commitment": header.commitment_b64,
        "threshold": K, "count": N,
        "keys": {name: {"scalar": keys.private_key_to_scalar(k).hex(),
                        "public_key": keys.public_key_to_bytes(k.public_key()).hex(),
                        "key_id": keys.key_id(k.public_key())}
                 for name, k in [("bidder", bidder), ("stranger", stranger)]
                 + [(f"custodian{i + 1}", c) for i, c in enumerate(custodians)]},
        "random_parts": [d.hex() for d in draws],
        "subsets": [{"members": list(s), "parts": [p.hex() for p in parts[s]]} for s in subsets],
        "shares": [{"index": i, "share": share.hex(),
                    "info": escrow_shares.share_info(BINDING, header.commitment, index=i, threshold=K, count=N,
                                                     key_id=keys.key_id(custodians[i - 1].public_key()),
                                                     version=envelope.FORMAT_V3).decode()}
                   for i, share in enumerate(shares, start=1)],
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
