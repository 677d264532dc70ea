"""Bidders' keys on a PKCS#11 token, with SoftHSM2 as the real token: the key is generated on the
token, a CSR is signed there, an envelope sealed to it is opened through it (the token does the
ECDH), a wrong PIN and a removed token give clear errors, and a retry works once it is back.

SoftHSM reads ``SOFTHSM2_CONF`` when its library is loaded, once per process: the token directory is
set for this module before anything loads it, and the removal is seen by a fresh process (as a
bidder's next ``sealbid open`` is)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hpke

from crypto import ca, envelope, hpke_dh, keys, token
from tests.conftest import SOFTHSM_TOKENS

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN, SO_PIN = "123456", "12345678"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def softhsm(softhsm_tokens):
    assert SOFTHSM_TOKENS["bidder-lock"] == (PIN, SO_PIN)
    ref = token.TokenRef(MODULE, "bidder-lock", "bidder", PIN)
    public = token.generate_key(ref)
    return {"ref": ref, "public": public, "env": softhsm_tokens["env"], "tokens": softhsm_tokens["tokens"],
            "util": softhsm_tokens["util"]}


def test_hpke_over_an_external_dh_matches_cryptographys_hpke():
    # The schedule crypto.hpke_dh runs around the token's ECDH, against cryptography's HPKE.
    key = keys.generate_bidder_key()
    suite = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    from cryptography.hazmat.primitives.asymmetric import ec

    def dh(enc: bytes) -> bytes:
        return key.exchange(ec.ECDH(), keys.load_public_key_bytes(enc))

    for info in (b"", b"tender-envelope/v1\nrole bidder"):
        body = suite.encrypt(b"k" * 32, key.public_key(), info=info)
        assert hpke_dh.open_base(body, dh=dh, recipient_public=keys.public_key_to_bytes(key.public_key()),
                                 info=info) == b"k" * 32
        with pytest.raises(Exception):
            hpke_dh.open_base(body, dh=dh, recipient_public=keys.public_key_to_bytes(key.public_key()),
                              info=info + b"x")


def test_the_key_is_made_on_the_token_and_never_leaves_it(softhsm):
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass

    lib = pkcs11.lib(MODULE)
    with lib.get_token(token_label="bidder-lock").open(user_pin=PIN) as session:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, label="bidder")
        assert private[Attribute.SENSITIVE] and not private[Attribute.EXTRACTABLE]
        with pytest.raises(pkcs11.exceptions.PKCS11Error):
            private[Attribute.VALUE]
    assert token.public_key(softhsm["ref"]) == softhsm["public"]


def test_a_csr_signed_on_the_token_is_accepted_by_the_ca(softhsm):
    key = token.TokenPrivateKey(softhsm["ref"])
    pem = token.make_csr(key, organisation="甲建设有限公司", credit_code="91320000MA1XYZ0001")
    info = ca.load_csr(pem)  # cryptography verifies the token's ECDSA signature
    assert info.key_id == keys.key_id(softhsm["public"]) and info.credit_code == "91320000MA1XYZ0001"


def test_an_envelope_sealed_to_the_token_opens_through_it(softhsm):
    data = envelope.seal_bytes(b"price 100000 fen", tender_id="T", lot_id="1", bidder_id="B",
                               recipients=[envelope.Recipient("bidder", softhsm["public"])], chunk_size=64)
    header = envelope.read_header(io.BytesIO(data))
    key = token.TokenPrivateKey(softhsm["ref"])
    file_key = envelope.unwrap_file_key(header, key, role="bidder")
    assert envelope.open_bytes(data, file_key=file_key) == b"price 100000 fen"
    other = envelope.seal_bytes(b"x", tender_id="T", lot_id="1", bidder_id="B",
                                recipients=[envelope.Recipient("bidder", keys.generate_bidder_key().public_key())])
    with pytest.raises(envelope.InvalidEnvelope):
        envelope.unwrap_file_key(envelope.read_header(io.BytesIO(other)), key)
    # A stanza moved to another binding does not open through the token either.
    moved = data.replace(b"\nbidder B\n", b"\nbidder C\n", 1)
    with pytest.raises(envelope.InvalidEnvelope):
        envelope.unwrap_file_key(envelope.read_header(io.BytesIO(moved)), key)


def test_a_wrong_pin_is_a_clear_error_and_the_right_one_still_works(softhsm):
    ref = softhsm["ref"]
    with pytest.raises(token.TokenError) as caught:
        token.TokenPrivateKey(token.TokenRef(ref.module, ref.token_label, ref.key_label, "000000"))
    assert caught.value.kind == "wrong_pin"
    with pytest.raises(token.TokenError) as caught:
        token.TokenPrivateKey(token.TokenRef(ref.module, ref.token_label, "no-such-key", PIN))
    assert caught.value.kind == "no_key"
    assert token.TokenPrivateKey(ref).public_key() == softhsm["public"]


OPEN_SCRIPT = """
import io, sys
from crypto import envelope, token
data = open(sys.argv[1], "rb").read()
try:
    key = token.TokenPrivateKey(token.TokenRef(sys.argv[2], "bidder-lock", "bidder", sys.argv[3]))
    print(envelope.open_bytes(data, file_key=envelope.unwrap_file_key(envelope.read_header(io.BytesIO(data)), key)).decode())
except token.TokenError as exc:
    print(f"{exc.kind}: {exc}")
"""


def test_a_removed_token_is_a_clear_error_and_a_retry_works_once_it_is_back(softhsm, tmp_path):
    env_path = tmp_path / "bid.tenv"
    env_path.write_bytes(envelope.seal_bytes(b"opened", tender_id="T", lot_id="1", bidder_id="B",
                                             recipients=[envelope.Recipient("bidder", softhsm["public"])]))

    def open_in_a_new_process() -> str:
        result = subprocess.run([sys.executable, "-c", OPEN_SCRIPT, str(env_path), MODULE, PIN],
                                env={**softhsm["env"], "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert open_in_a_new_process() == "opened"
    aside = tmp_path / "pulled-out"
    # Only this token's directory (the directory holds the other tests' tokens too, which this
    # process has loaded: pulling them all out under it makes SoftHSM list their objects twice).
    lock = next(d for d in softhsm["tokens"].iterdir() if b"bidder-lock" in (d / "token.object").read_bytes())
    shutil.move(str(lock), str(aside))  # the lock is pulled out
    try:
        out = open_in_a_new_process()
        assert out.startswith("no_token:") and "insert it" in out
    finally:
        shutil.move(str(aside), str(lock))  # ...and put back
    assert open_in_a_new_process() == "opened"
