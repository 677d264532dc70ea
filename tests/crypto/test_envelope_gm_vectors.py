"""The checked-in tender-envelope/gm-v1 vector: reproduced byte for byte from its recorded inputs,
and every step checked with other code — OpenSSL for SM2 decryption, hashlib's SM3 with an
RFC 5869 HKDF written here, SM4-GCM straight from `cryptography`, the Shamir shares combined."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import io
import itertools
import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crypto import envelope, escrow_shares, gm, sm2_x509
from crypto.stream import chunk_nonce
from tests.conftest import need_tool

VECTORS = Path(__file__).parent / "vectors" / "envelope-gm-v1"
INDEX = json.loads((VECTORS / "index.json").read_text(encoding="utf-8"))
DATA = (VECTORS / INDEX["file"]).read_bytes()
_spec = importlib.util.spec_from_file_location(
    "make_envelope_gm_vectors", Path(__file__).parent / "vectors" / "make_envelope_gm_vectors.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


def key(name) -> gm.SM2PrivateKey:
    e = INDEX["keys"][name]
    return gm.SM2PrivateKey(bytes.fromhex(e["scalar"]), gm.SM2PublicKey(bytes.fromhex(e["public_key"])))


def hkdf_sm3(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 with hashlib's SM3 (OpenSSL's), independent of crypto.gm."""
    sm3 = lambda: hashlib.new("sm3")  # noqa: E731
    prk = hmac.new(salt, ikm, sm3).digest()
    out, block = b"", b""
    for i in range(1, 1 + -(-length // 32)):
        block = hmac.new(prk, block + info + bytes([i]), sm3).digest()
        out += block
    return out[:length]


def test_the_generator_reproduces_the_checked_in_vector():
    data, index = gen.build(gen.recorded_inputs(INDEX))
    assert data == DATA and index == INDEX
    assert hashlib.sha256(DATA).hexdigest() == INDEX["envelope_sha256"]


def test_a_recorded_ciphertext_cannot_stand_in_for_another_stanza():
    inputs = gen.recorded_inputs(INDEX)
    inputs["sm2_ciphertexts"] = [inputs["sm2_ciphertexts"][1], inputs["sm2_ciphertexts"][0],
                                 *inputs["sm2_ciphertexts"][2:]]
    with pytest.raises((SystemExit, gm.SM2Error, KeyError)):
        gen.build(inputs)


def test_the_derived_values_follow_from_the_file_key_by_hkdf_sm3():
    file_key, nonce = bytes.fromhex(INDEX["file_key"]), bytes.fromhex(INDEX["nonce"])
    for label, size in (("header", 32), ("payload", 16), ("commitment", 32)):
        assert hkdf_sm3(file_key, nonce, f"tender-envelope/gm-v1 {label}".encode(), size).hex() == INDEX["derived"][label]
    import base64

    assert base64.b64encode(bytes.fromhex(INDEX["derived"]["commitment"])).decode().rstrip("=") == \
        INDEX["commitment"].rstrip("=")
    header = envelope.read_header(io.BytesIO(DATA))
    mac = hmac.new(bytes.fromhex(INDEX["derived"]["header"]), DATA[:DATA.index(b"\n---") + 4],
                   lambda: hashlib.new("sm3")).digest()
    assert mac == header.mac


def test_openssl_decrypts_each_stanza_to_the_secret_and_the_context_hash(tmp_path):
    header = envelope.read_header(io.BytesIO(DATA))
    bodies = [s.body for s in header.stanzas] + [s.body for s in header.shares]
    owners = ["bidder"] + [f"custodian{i}" for i in range(1, 4)]
    assert [b.hex() for b in bodies] == INDEX["sm2_ciphertexts"]
    for body, owner, stanza in zip(bodies, owners, INDEX["stanzas"], strict=True):
        pem = tmp_path / f"{owner}.pem"
        pem.write_bytes(sm2_x509.private_key_to_pem(key(owner)))
        ct = tmp_path / "ct"
        ct.write_bytes(gm.c1c3c2_to_der(body))
        out = subprocess.run([need_tool("openssl"), "pkeyutl", "-decrypt", "-inkey", str(pem), "-in", str(ct)],
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        assert out.stdout.hex() == stanza["sm2_plaintext"]
        assert out.stdout[32:] == hashlib.new("sm3", stanza["context"].encode()).digest()
    assert bytes.fromhex(INDEX["stanzas"][0]["sm2_plaintext"])[:32].hex() == INDEX["file_key"]


def test_the_payload_is_sm4_gcm_chunks_under_the_payload_key():
    payload_key = bytes.fromhex(INDEX["derived"]["payload"])
    payload = DATA[DATA.index(b"\n---") + 4:]
    payload = payload[payload.index(b"\n") + 1:]  # the MAC line ends the header
    chunk, out, counter = INDEX["chunk_size"] + 16, b"", 0
    while payload:
        ct, payload = payload[:chunk], payload[chunk:]
        dec = Cipher(algorithms.SM4(payload_key), modes.GCM(chunk_nonce(counter, not payload), ct[-16:])).decryptor()
        out += dec.update(ct[:-16]) + dec.finalize()
        counter += 1
    assert out.hex() == INDEX["plaintext"] and counter == -(-len(out) // INDEX["chunk_size"]) > 1


def test_the_keys_open_what_the_index_says_and_the_stranger_nothing():
    header = envelope.read_header(io.BytesIO(DATA))
    file_key = bytes.fromhex(INDEX["file_key"])
    assert envelope.unwrap_file_key(header, key("bidder")) == file_key
    assert envelope.open_bytes(DATA, file_key=file_key).hex() == INDEX["plaintext"]
    shares = [escrow_shares.unwrap_share(header, key(f"custodian{i}")) for i in range(1, 4)]
    assert [s.value.hex() for s in shares] == [s["share"] for s in INDEX["shares"]]
    for pair in itertools.combinations(shares, 2):
        assert escrow_shares.recover_file_key(header, list(pair)) == file_key
    for one in shares:
        with pytest.raises(envelope.InvalidEnvelope):
            escrow_shares.recover_file_key(header, [one])
    with pytest.raises(Exception):
        envelope.unwrap_file_key(header, key("stranger"))
