"""The platform's Ed25519 signing key on a PKCS#11 token (SoftHSM2 as the HSM): made on the token,
named by a PKCS#11 URI in a setting, the PIN from the environment; checkpoints and receipts it signs
verify with the published vkey; a wrong PIN or a missing key is a clear configuration error; the
file key stays the fallback when the setting is empty."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured

from crypto import checkpoint, platform_token, signing, token
from tests.conftest import SOFTHSM_MODULE as MODULE
from tests.conftest import SOFTHSM_TOKENS

LABEL = "platform-hsm"
PIN = SOFTHSM_TOKENS[LABEL][0]


@pytest.fixture(scope="module")
def hsm(softhsm_tokens):
    import uuid

    uri = f"pkcs11:token={LABEL};object=platform%20signing%20{uuid.uuid4().hex[:8]}?module-path={MODULE}"
    ref = platform_token.parse_uri(uri, PIN)
    public = platform_token.generate_ed25519(ref)
    return {"uri": uri, "ref": ref, "public": public}


def test_the_token_signs_ed25519_that_cryptography_verifies(hsm):
    key = platform_token.TokenSigningKey(hsm["ref"])
    assert isinstance(key.public_key(), Ed25519PublicKey)
    assert signing.public_key_bytes(key) == signing.public_key_bytes(hsm["public"])
    message = "checkpoint 国密".encode()
    signature = signing.sign(key, message)
    signing.verify(hsm["public"], signature, message)  # RFC 8032, by the library, not the token
    with pytest.raises(signing.SignatureError):
        signing.verify(hsm["public"], signature, message + b"!")
    note = checkpoint.NoteSigner("hsm.example/audit", key).sign(
        checkpoint.Checkpoint("hsm.example/audit", 3, bytes(32)).to_body())
    verifier = checkpoint.NoteVerifier.from_vkey(checkpoint.NoteSigner("hsm.example/audit", key).vkey)
    assert checkpoint.open_checkpoint(note, verifier).size == 3
    # A receipt signed by the token verifies offline with the vkey alone (crypto.receipt).
    from tests.crypto.test_sm2_signatures import ORIGIN
    from crypto import merkle, receipt

    entry = receipt.canonical({"index": 0, "action": receipt.SUBMITTED_ACTION, "data": {
        "submission": "s", "sha256": "0" * 64, "size": 1, "commitment": "c"}}).decode()
    signer = checkpoint.NoteSigner(ORIGIN, key)
    leaf = merkle.leaf_hash(entry.encode())
    body = receipt.make_body(platform=ORIGIN, submission="s", tender="t", lot="l", bidder_name="b", credit_code="c",
                             sha256="0" * 64, size=1, commitment="c", key_id="k", received_at="r", audit_index=0)
    doc = receipt.sign_receipt(body, key, audit_entry=entry, checkpoint=signer.sign(
        checkpoint.Checkpoint(ORIGIN, 1, merkle.root_from_leaf_hashes([leaf])).to_body()),
        proof_index=0, proof_size=1, proof_hashes=[])
    assert receipt.verify_receipt(doc, signer.vkey)["submission"] == "s"


def test_wrong_pin_missing_key_and_bad_uris_are_clear_errors(hsm):
    with pytest.raises(token.TokenError) as err:
        platform_token.TokenSigningKey(platform_token.parse_uri(hsm["uri"], "000000"))
    assert err.value.kind == "wrong_pin"
    with pytest.raises(token.TokenError) as err:
        platform_token.TokenSigningKey(platform_token.parse_uri(hsm["uri"].replace("object=platform%20signing", "object=nope"), PIN))
    assert err.value.kind == "no_key"
    with pytest.raises(token.TokenError) as err:
        platform_token.TokenSigningKey(platform_token.parse_uri(hsm["uri"].replace(LABEL, "absent"), PIN))
    assert err.value.kind == "no_token"
    for bad in ("pkcs11:token=x?module-path=/m", "pkcs11:token=x;object=y;id=1?module-path=/m",
                "pkcs11:token=x;object=y?module-path=/m&pin-value=1", "token=x;object=y?module-path=/m",
                "pkcs11:token=x;token=y;object=z?module-path=/m"):
        with pytest.raises(ValueError):
            platform_token.parse_uri(bad, PIN)
    with pytest.raises(ValueError, match="PIN"):
        platform_token.parse_uri(hsm["uri"], "")


@pytest.mark.django_db
def test_the_setting_moves_checkpoints_and_receipts_onto_the_token(hsm, settings, monkeypatch):
    from audit.checkpoints import issue_checkpoint, verify_stored_checkpoint
    from audit.keys import platform_signing_key, platform_vkey
    from common import clock

    file_vkey = platform_vkey()
    settings.PLATFORM_SIGNING_KEY_PKCS11 = hsm["uri"]
    monkeypatch.setenv("PLATFORM_SIGNING_KEY_PIN", PIN)
    platform_signing_key.cache_clear()
    try:
        assert signing.public_key_bytes(platform_signing_key()) == signing.public_key_bytes(hsm["public"])
        vkey = platform_vkey()
        assert vkey != file_vkey
        record = issue_checkpoint("hsm", now=clock.now())
        assert verify_stored_checkpoint(record).size == record.size
        checkpoint.open_checkpoint(record.note, checkpoint.NoteVerifier.from_vkey(vkey))
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.open_checkpoint(record.note, checkpoint.NoteVerifier.from_vkey(file_vkey))
        monkeypatch.setenv("PLATFORM_SIGNING_KEY_PIN", "000000")
        platform_signing_key.cache_clear()
        with pytest.raises(ImproperlyConfigured, match="wrong PIN"):
            platform_signing_key()
    finally:
        platform_signing_key.cache_clear()
    settings.PLATFORM_SIGNING_KEY_PKCS11 = ""
    assert platform_vkey() == file_vkey  # the file key, the demo's fallback
