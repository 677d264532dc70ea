"""Regenerate the ``tender-envelope/gm-v1`` test vector in ``envelope-gm-v1/`` (docs/envelope.md, Appendix D).

    .venv/bin/python tests/crypto/vectors/make_envelope_gm_vectors.py [--fresh]

SM2 encryption draws its k inside the library (GmSSL) and the library derives no public key from a
scalar, so unlike the v1-v3 vectors the SM2 parts cannot be recomputed from seeds. They are
**recorded inputs**: the SM2 key pairs, the five SM2 ciphertexts (one ``sm2`` stanza, then the
``sm2-share`` stanzas 1..3) and the Shamir shares are made once (``--fresh``) and kept in
``index.json``; every other input (file key, nonce, plaintext, chunk size) is fixed here. Given the
recorded inputs, the sealer reproduces the file byte for byte; before a recorded ciphertext is used
the generator checks that it decrypts, with the recipient's scalar, to exactly
``secret || SM3(context)`` of this envelope — so a ciphertext cannot stand in for another stanza.
``index.json`` also gives the derived keys (HKDF-SM3), each stanza's context text and its SM2
plaintext, so an outsider checks each step with any SM2/SM3/SM4 implementation (the test uses
OpenSSL for the SM2 decryption).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crypto import envelope, escrow_shares, gm, shamir  # noqa: E402
from crypto.envelope_gm import sm2_wrap  # noqa: E402

OUT = Path(__file__).resolve().parent / "envelope-gm-v1"
FILE = "gm-2-of-3.tenv"
BINDING = envelope.Binding("ZB-2026-0042", "1", "91320000MA1XYZ0001")
K, N, CHUNK = 2, 3, 64
NAMES = ["bidder"] + [f"custodian{i}" for i in range(1, N + 1)] + ["stranger"]
PLAINTEXT = json.dumps({"price_fen": 123456789, "duration_days": 180, "quality": "合格",
                        "note": "国密 gm-v1 test vector, in chunks of at most 64 bytes"},
                       ensure_ascii=False, sort_keys=True).encode()


def fixed(label: str, n: int = 32) -> bytes:
    return hashlib.sha256(f"tender-envelope/gm-v1 test vector {label}".encode()).digest()[:n]


def _key(entry: dict) -> gm.SM2PrivateKey:
    return gm.check_pair(gm.SM2PrivateKey(bytes.fromhex(entry["scalar"]), gm.SM2PublicKey(bytes.fromhex(entry["public_key"]))))


def _fresh_inputs(file_key: bytes) -> dict:
    keys = {name: gm.generate_sm2_key() for name in NAMES}
    shares = shamir.split(file_key, K, N)
    return {"keys": {n: {"scalar": k.scalar.hex(), "public_key": k.public.point.hex()} for n, k in keys.items()},
            "shares": [{"index": s.index, "share": bytes(s.value).hex()} for s in shares],
            "sm2_ciphertexts": None}


def build(recorded: dict | None = None) -> tuple[bytes, dict]:
    """The envelope and its index from the recorded inputs (``index.json``'s), or from fresh ones."""
    file_key, nonce = fixed("file key"), fixed("nonce", 16)
    inputs = recorded or _fresh_inputs(file_key)
    keys = {name: _key(inputs["keys"][name]) for name in NAMES}
    by_point = {k.public.point: k for k in keys.values()}
    shares = [escrow_shares.Share(s["index"], bytes.fromhex(s["share"])) for s in inputs["shares"]]
    ciphertexts = [bytes.fromhex(c) for c in inputs["sm2_ciphertexts"]] if inputs.get("sm2_ciphertexts") else None
    used: list[dict] = []

    def wrap(public_key, context, secret):
        body = ciphertexts[len(used)] if ciphertexts else sm2_wrap(public_key, context, secret)
        plaintext = secret + gm.sm3(context)
        if gm.sm2_decrypt(by_point[public_key.point], body) != plaintext:
            raise SystemExit("a recorded SM2 ciphertext is not this stanza's wrap")
        used.append({"context": context.decode(), "sm2_plaintext": plaintext.hex(), "ciphertext": body.hex()})
        return body

    out = io.BytesIO()
    result = envelope._seal(io.BytesIO(PLAINTEXT), out, binding=BINDING, chunk_size=CHUNK,
                            recipients=[envelope.Recipient("bidder", keys["bidder"].public)],
                            file_key=file_key, nonce=nonce, wrap=wrap, suite="gm",
                            custodians=[escrow_shares.Custodian(i, keys[f"custodian{i}"].public)
                                        for i in range(1, N + 1)], threshold=K, shares=shares)
    if ciphertexts and len(used) != len(ciphertexts):
        raise SystemExit("the recorded ciphertexts do not match the stanzas")
    derived = {label: gm.hkdf_sm3(file_key, salt=nonce, info=f"tender-envelope/gm-v1 {label}".encode(),
                                  length=16 if label == "payload" else 32).hex()
               for label in ("header", "payload", "commitment")}
    index = {
        "format": "tender-envelope/gm-v1", "file": FILE,
        "description": "a gm-v1 bid to one bidder key, its file key split 2-of-3 (Shamir, as v2) among "
                       "three custodians' SM2 keys; SM2 parts are recorded inputs (see the generator)",
        "tender": BINDING.tender_id, "lot": BINDING.lot_id, "bidder": BINDING.bidder_id, "chunk_size": CHUNK,
        "file_key": file_key.hex(), "nonce": nonce.hex(), "derived": derived,
        "commitment": result.header.commitment_b64, "threshold": K, "count": N,
        "keys": {n: {**inputs["keys"][n], "key_id": keys[n].key_id} for n in NAMES},
        "shares": inputs["shares"],
        "stanzas": used,
        "sm2_ciphertexts": [u["ciphertext"] for u in used],
        "plaintext": PLAINTEXT.hex(), "envelope_sha256": hashlib.sha256(out.getvalue()).hexdigest(),
    }
    return out.getvalue(), index


def recorded_inputs(index: dict) -> dict:
    return {"keys": {n: {k: v for k, v in e.items() if k != "key_id"} for n, e in index["keys"].items()},
            "shares": index["shares"], "sm2_ciphertexts": index["sm2_ciphertexts"]}


def main() -> None:
    path = OUT / "index.json"
    recorded = None if "--fresh" in sys.argv or not path.exists() else recorded_inputs(json.loads(path.read_text()))
    data, index = build(recorded)
    OUT.mkdir(exist_ok=True)
    (OUT / FILE).write_bytes(data)
    path.write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {FILE} and index.json to {OUT}")


if __name__ == "__main__":
    main()
