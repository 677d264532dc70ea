"""Regenerate the ``tender-envelope/v1`` test vectors in ``envelope-v1/`` (docs/envelope.md).

    .venv/bin/python tests/crypto/vectors/make_envelope_vectors.py

Everything is deterministic: fixed recipient keys, file keys, nonces and HPKE ephemeral keys. The
HPKE wrap here is an independent RFC 9180 base-mode implementation on ECDH + HMAC-SHA-256 + AES-GCM,
the same building blocks the browser has in WebCrypto; the vectors being opened by the library's
``cryptography``-based HPKE shows that the spec's HPKE description is enough to interoperate.

This module also holds the other test-only constructions (the GCM "invisible salamander") so that the
tests and the generator share one copy. hazmat is imported here because these are constructions
*against* the format, not uses of it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crypto import envelope, keys  # noqa: E402
from crypto.stream import TAG_SIZE, chunk_nonce  # noqa: E402

OUT = Path(__file__).resolve().parent / "envelope-v1"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
BINDING = envelope.Binding("ZB-2026-0042", "1", "91320000MA1XYZ0001")


def fixed_bytes(label: str, n: int = 32) -> bytes:
    return hashlib.sha256(f"tender-envelope/v1 test vector {label}".encode()).digest()[:n]


def fixed_private_key(label: str) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(fixed_bytes(label), "big") % (P256_ORDER - 1) + 1
    return keys.private_key_from_scalar(scalar.to_bytes(32, "big"))


# --- RFC 9180 base mode, DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM -------------------

_KEM_SUITE = b"KEM" + (0x0010).to_bytes(2, "big")
_HPKE_SUITE = b"HPKE" + b"".join(i.to_bytes(2, "big") for i in (0x0010, 0x0001, 0x0002))


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    # HMAC with an empty key equals HMAC with 32 zero bytes: HKDF-Extract's default salt.
    return hmac.digest(salt, b"HPKE-v1" + suite + label + ikm, hashlib.sha256)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled_info = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return hmac.digest(prk, labeled_info + b"\x01", hashlib.sha256)[:length]  # length <= 32: T(1)


def _key_schedule(shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash  # mode_base
    secret = _labeled_extract(_HPKE_SUITE, shared_secret, b"secret", b"")
    return (_labeled_expand(_HPKE_SUITE, secret, b"key", context, 32),
            _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, 12))


def _shared_secret(dh: bytes, enc: bytes, pk_r: bytes) -> bytes:
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + pk_r, 32)


def hpke_seal_base(pk_r: ec.EllipticCurvePublicKey, info: bytes, pt: bytes,
                   sk_e: ec.EllipticCurvePrivateKey) -> bytes:
    """SealBase with a chosen ephemeral key; returns ``enc || ct``."""
    enc = keys.public_key_to_bytes(sk_e.public_key())
    dh = sk_e.exchange(ec.ECDH(), pk_r)
    key, nonce = _key_schedule(_shared_secret(dh, enc, keys.public_key_to_bytes(pk_r)), info)
    return enc + AESGCM(key).encrypt(nonce, pt, b"")


def hpke_open_base(body: bytes, sk_r: ec.EllipticCurvePrivateKey, info: bytes) -> bytes:
    enc, ct = body[:65], body[65:]
    dh = sk_r.exchange(ec.ECDH(), keys.load_public_key_bytes(enc))
    pk_r = keys.public_key_to_bytes(sk_r.public_key())
    key, nonce = _key_schedule(_shared_secret(dh, enc, pk_r), info)
    return AESGCM(key).decrypt(nonce, ct, b"")


# --- AES-GCM over GF(2^128): a ciphertext that decrypts under two keys ("invisible salamanders") ---

def _gf_mul(x: int, y: int) -> int:
    """Multiplication in GCM's GF(2^128), bits reflected as in NIST SP 800-38D, Algorithm 1."""
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ (0xE1 << 120) if v & 1 else v >> 1
    return z


def _gf_pow(x: int, e: int) -> int:
    result = 1 << 127  # the field's 1 in GCM's bit order
    while e:
        if e & 1:
            result = _gf_mul(result, x)
        x = _gf_mul(x, x)
        e >>= 1
    return result


def _gf_inv(x: int) -> int:
    return _gf_pow(x, (1 << 128) - 2)


def _aes_block(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def _ghash(h: int, blocks: list[int], length_block: int) -> int:
    y = 0
    for block in blocks + [length_block]:
        y = _gf_mul(y ^ block, h)
    return y


def gcm_salamander(key1: bytes, key2: bytes, nonce: bytes, want1: dict[int, bytes],
                   want2: dict[int, bytes], blocks: int, free: int) -> bytes:
    """A ``ciphertext || tag`` (no AAD) that authenticates under both AES-GCM keys.

    Block ``i`` of the plaintext under key1 is ``want1[i]``, under key2 ``want2[i]`` (each block is
    chosen under at most one key); block ``free`` is solved for so that both tags agree: the tag is
    linear in the ciphertext blocks, with coefficients powers of H = E_K(0), so one block suffices.
    """
    def keystream(key: bytes, i: int) -> bytes:
        return _aes_block(key, nonce + (i + 2).to_bytes(4, "big"))

    ct = [0] * blocks
    for i, pt in want1.items():
        ct[i] = int.from_bytes(bytes(a ^ b for a, b in zip(pt, keystream(key1, i))), "big")
    for i, pt in want2.items():
        ct[i] = int.from_bytes(bytes(a ^ b for a, b in zip(pt, keystream(key2, i))), "big")
    h1, h2 = (int.from_bytes(_aes_block(k, bytes(16)), "big") for k in (key1, key2))
    j1, j2 = (int.from_bytes(_aes_block(k, nonce + b"\x00\x00\x00\x01"), "big") for k in (key1, key2))
    length = blocks * 128  # len(A) = 0 (upper 64 bits), len(C) in bits (lower 64 bits)
    # tag_k = sum_i C_i * H_k^(blocks+1-i) + length * H_k + J_k  (blocks counted from 0)
    rest = _gf_mul(length, h1 ^ h2) ^ j1 ^ j2
    for i in range(blocks):
        if i != free:
            rest ^= _gf_mul(ct[i], _gf_pow(h1, blocks + 1 - i) ^ _gf_pow(h2, blocks + 1 - i))
    coefficient = _gf_pow(h1, blocks + 1 - free) ^ _gf_pow(h2, blocks + 1 - free)
    ct[free] = _gf_mul(rest, _gf_inv(coefficient))
    tag = _ghash(h1, ct, length) ^ j1
    return b"".join(c.to_bytes(16, "big") for c in ct) + tag.to_bytes(16, "big")


# --- the vectors ------------------------------------------------------------------------------------

KEYS = {name: fixed_private_key(name) for name in ("bidder", "escrow", "stranger")}
MANIFEST = json.dumps({"price_fen": 123456789, "duration_days": 180, "quality": "合格",
                       "note": "投标文件 tender-envelope/v1"}, ensure_ascii=False).encode("utf-8")


def seal_fixed(name: str, plaintext: bytes, chunk_size: int, roles=("bidder",), *,
               file_key: bytes | None = None) -> tuple[bytes, dict]:
    file_key = file_key or fixed_bytes(f"{name} file key")
    nonce = fixed_bytes(f"{name} nonce", 16)
    ephemerals = [fixed_private_key(f"{name} ephemeral {i}") for i in range(len(roles))]
    remaining = list(ephemerals)

    def wrap(public_key, info, key):
        return hpke_seal_base(public_key, info, key, remaining.pop(0))

    out = io.BytesIO()
    result = envelope._seal(io.BytesIO(plaintext), out, binding=BINDING, chunk_size=chunk_size,
                            recipients=[envelope.Recipient(r, KEYS[r].public_key()) for r in roles],
                            file_key=file_key, nonce=nonce, wrap=wrap)
    meta = {"tender": BINDING.tender_id, "lot": BINDING.lot_id, "bidder": BINDING.bidder_id,
            "chunk_size": chunk_size, "recipients": list(roles), "file_key": file_key.hex(),
            "nonce": nonce.hex(), "commitment": result.header.commitment_b64,
            "ephemeral_scalars": [keys.private_key_to_scalar(k).hex() for k in ephemerals],
            "plaintext": plaintext.hex(), "plaintext_sha256": hashlib.sha256(plaintext).hexdigest()}
    return out.getvalue(), meta


def split(data: bytes, chunk_size: int) -> tuple[bytes, list[bytes]]:
    """(header, ciphertext chunks) of an envelope."""
    header = envelope.read_header(io.BytesIO(data)).raw
    payload = data[len(header):]
    step = chunk_size + TAG_SIZE
    return header, [payload[i:i + step] for i in range(0, len(payload), step)] or [b""]


def _payload_key(meta: dict) -> bytes:
    return envelope._derive(bytes.fromhex(meta["file_key"]), bytes.fromhex(meta["nonce"]), "payload")


def build() -> tuple[dict[str, bytes], dict]:
    """All vectors: ({file name: envelope bytes}, index document)."""
    files: dict[str, bytes] = {}
    entries: list[dict] = []

    def add(name: str, data: bytes, meta: dict, expect: str, description: str, **extra) -> None:
        files[f"{name}.tenv"] = data
        entries.append({"name": name, "file": f"{name}.tenv", "expect": expect,
                        "description": description, **meta, **extra,
                        "envelope_sha256": hashlib.sha256(data).hexdigest()})

    ok = {}
    for name, plaintext, chunk, roles, text in [
        ("empty", b"", 64, ("bidder",), "empty plaintext: one empty final chunk"),
        ("one-chunk", bytes(range(64)), 64, ("bidder",), "exactly one full final chunk"),
        ("chunk-plus-one", bytes(range(65)), 64, ("bidder",), "a full chunk and a 1-byte final chunk"),
        ("multi-chunk", bytes(i * 7 % 256 for i in range(200)), 64, ("bidder",),
         "three full chunks and an 8-byte final chunk"),
        ("escrow", MANIFEST, envelope.DEFAULT_CHUNK_SIZE, ("bidder", "escrow"),
         "default chunk size, a UTF-8 manifest, bidder and escrow recipients"),
    ]:
        data, meta = seal_fixed(name, plaintext, chunk, roles)
        ok[name] = (data, meta)
        add(name, data, meta, "ok", text)

    # Negative vectors name their base vector, whose keys and plaintext they reuse.
    data, meta = ok["one-chunk"][0], {"base": "one-chunk"}
    add("bad-version", data.replace(b"tender-envelope/v1\n", b"tender-envelope/v2\n", 1), meta,
        "header", "unknown version line")
    head, chunks = split(data, 64)
    mac_text = head[-44:-1]
    sibling = keys.b64encode(keys.b64decode(mac_text.decode())).encode()
    # The last base64 character of 32 bytes carries 2 unused bits; setting one keeps the value.
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sibling = sibling[:-1] + alphabet[alphabet.index(sibling[-1:]) | 1:][:1]
    add("noncanonical-mac", head[:-44] + sibling + b"\n" + b"".join(chunks), meta, "header",
        "the MAC's base64 has a non-zero unused bit: same bytes, different text")
    add("moved-tender", data.replace(b"\ntender ZB-2026-0042\n", b"\ntender ZB-2026-0043\n", 1), meta,
        "key", "the tender line was edited: the MAC and the HPKE unwrap must fail")

    data, meta = ok["multi-chunk"][0], {"base": "multi-chunk"}
    head, chunks = split(data, 64)
    add("dropped-final-chunk", head + b"".join(chunks[:-1]), meta, "payload",
        "the final chunk was removed: the last present chunk is not final")
    add("swapped-chunks", head + chunks[1] + chunks[0] + b"".join(chunks[2:]), meta, "payload",
        "chunks 0 and 1 swapped")
    flipped = bytearray(chunks[1])
    flipped[5] ^= 0x01
    add("flipped-payload-bit", head + chunks[0] + bytes(flipped) + b"".join(chunks[2:]), meta,
        "payload", "one bit flipped in chunk 1")
    add("appended-byte", data + b"\x00", meta, "payload", "one byte appended after the final chunk")

    # Sealed by someone holding the key, as a full non-final chunk plus an empty final chunk: every
    # chunk authenticates, but the encoding is not the canonical one and MUST be rejected.
    data, meta = ok["one-chunk"][0], {"base": "one-chunk"}
    head, _ = split(data, 64)
    aead = AESGCM(_payload_key(ok["one-chunk"][1]))
    body = aead.encrypt(chunk_nonce(0, False), bytes(range(64)), None) + aead.encrypt(
        chunk_nonce(1, True), b"", None)
    add("empty-final-chunk", head + body, meta, "payload",
        "a non-empty payload ending with an empty final chunk")

    add_salamander(add)
    index = {"format": envelope.FORMAT, "description": "docs/envelope.md, 'Test vectors'",
             "keys": {name: {"scalar": keys.private_key_to_scalar(k).hex(),
                             "pkcs8": keys.private_key_to_pkcs8(k).hex(),
                             "public_key": keys.public_key_to_bytes(k.public_key()).hex(),
                             "key_id": keys.key_id(k.public_key())} for name, k in KEYS.items()},
             "vectors": entries}
    return files, index


def add_salamander(add) -> None:
    """One 64-byte final chunk that opens under the payload keys of two file keys (see the spec)."""
    name = "salamander"
    key1, key2 = fixed_bytes(f"{name} file key"), fixed_bytes(f"{name} attacker file key")
    nonce = fixed_bytes(f"{name} nonce", 16)
    p1, p2 = (envelope._derive(k, nonce, "payload") for k in (key1, key2))
    ct = gcm_salamander(p1, p2, chunk_nonce(0, True), want1={0: b"price 100000 fen", 3: b"sealed by bidder"},
                        want2={1: b"price  90000 fen"}, blocks=4, free=2)
    pt1 = AESGCM(p1).decrypt(chunk_nonce(0, True), ct, None)
    pt2 = AESGCM(p2).decrypt(chunk_nonce(0, True), ct, None)
    # Seal pt1 normally under key1 and check that STREAM reproduces the salamander ciphertext.
    data, meta = seal_fixed(name, pt1, 64, file_key=key1)
    assert data.endswith(ct), "the salamander chunk must be what sealing pt1 under key1 gives"
    add(name, data, meta, "salamander",
        "the payload decrypts under AES-GCM with the attacker key's payload key too; that key "
        "MUST fail verification", attacker_file_key=key2.hex(), attacker_plaintext=pt2.hex())


def main() -> None:
    files, index = build()
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.tenv"):
        old.unlink()
    for name, data in files.items():
        (OUT / name).write_bytes(data)
    (OUT / "index.json").write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    print(f"wrote {len(files)} envelopes and index.json to {OUT}")


if __name__ == "__main__":
    main()
