"""SM2 signatures (sm2-sm3: GB/T 32918.2 with SM3, GM/T 0009 default user ID) on receipts of gm
tenders and on checkpoint notes: each object names its algorithm, the verifier checks that one,
OpenSSL 3 agrees in both directions, and the adversary's relabellings fail."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import subprocess

import pytest

from crypto import gm, merkle, receipt, signing
from crypto.checkpoint import Checkpoint, CheckpointError, NoteSigner, NoteVerifier, open_checkpoint, sign_note
from crypto.sm2_note import SM2_NOTE_TYPE, Sm2NoteSigner, Sm2NoteVerifier
from tests.conftest import need_tool
from tests.crypto.test_gm_primitives import _openssl, _openssl_key, _public_pem

ORIGIN = "test.example/audit"
DISTID = "distid:" + gm.DEFAULT_USER_ID.decode()


def make(suite: str = "gm", *, sm2_key: gm.SM2PrivateKey | None = None, entry_suite: str | None = None):
    """(receipt document, Ed25519 vkey, SM2 vkey, envelope, keys) for a receipt of a ``suite`` tender."""
    ed_key, sm2_key = signing.generate_signing_key(), sm2_key or gm.generate_sm2_key()
    signer, sm2_signer = NoteSigner(ORIGIN, ed_key), Sm2NoteSigner(ORIGIN, sm2_key)
    envelope = f"tender-envelope/{'gm-v1' if suite == 'gm' else 'v1'}\n...".encode()
    sha = hashlib.sha256(envelope).hexdigest()
    data = {"submission": "s-1", "sha256": sha, "size": len(envelope), "commitment": "c" * 43,
            "cipher_suite": entry_suite or suite}
    entries = [f'{{"index":{i},"action":"other"}}' for i in range(4)]
    entries[2] = receipt.canonical({"index": 2, "action": receipt.SUBMITTED_ACTION, "data": data}).decode()
    leaves = [merkle.leaf_hash(e.encode()) for e in entries]
    tree = merkle.MemoryTree(leaves)
    note = sign_note(Checkpoint(ORIGIN, 4, merkle.root_from_leaf_hashes(leaves)).to_body(), signer, sm2_signer)
    body = receipt.make_body(platform=ORIGIN, submission="s-1", tender="ZB-1", lot="01", bidder_name="甲公司",
                             credit_code="91320100AL1000000X", sha256=sha, size=len(envelope),
                             commitment="c" * 43, key_id="0" * 16, received_at="2026-01-01T00:00:00.000000Z",
                             audit_index=2, suite=suite)
    doc = receipt.sign_receipt(body, sm2_key if suite == "gm" else ed_key, audit_entry=entries[2],
                               checkpoint=note, proof_index=2, proof_size=4,
                               proof_hashes=merkle.inclusion_proof(2, 4, tree))
    return doc, signer.vkey, sm2_signer.vkey, envelope, (ed_key, sm2_key)


def test_a_gm_receipt_is_signed_sm2_and_verifies_with_the_sm2_key():
    doc, vkey, sm2_vkey, envelope, _ = make("gm")
    assert doc["receipt"]["format"] == "tender-receipt/gm-v1" and doc["signature_algorithm"] == "sm2-sm3"
    assert len(base64.b64decode(doc["signature"])) == 64
    body = receipt.verify_receipt(doc, vkey, sm2_vkey=sm2_vkey, envelope=io.BytesIO(envelope))
    assert body["format"] == "tender-receipt/gm-v1"
    with pytest.raises(receipt.ReceiptError, match="SM2 key"):
        receipt.verify_receipt(doc, vkey)  # the Ed25519 key alone does not check an SM2 signature


def test_an_intl_receipt_says_ed25519_and_an_old_one_without_the_member_still_verifies():
    doc, vkey, sm2_vkey, _, _ = make("intl")
    assert doc["receipt"]["format"] == "tender-receipt/v1" and doc["signature_algorithm"] == "ed25519"
    receipt.verify_receipt(doc, vkey, sm2_vkey=sm2_vkey)
    old = {k: v for k, v in doc.items() if k != "signature_algorithm"}
    receipt.verify_receipt(old, vkey)


def test_an_ed25519_signature_relabelled_as_sm2_is_refused():
    doc, vkey, sm2_vkey, _, _ = make("intl")
    bad = copy.deepcopy(doc)
    bad["signature_algorithm"] = "sm2-sm3"
    with pytest.raises(receipt.ReceiptError, match="signed ed25519"):
        receipt.verify_receipt(bad, vkey, sm2_vkey=sm2_vkey)
    bad["receipt"]["format"] = "tender-receipt/gm-v1"  # and the body relabelled to match
    with pytest.raises(receipt.ReceiptError, match="does not verify"):
        receipt.verify_receipt(bad, vkey, sm2_vkey=sm2_vkey)


def test_an_sm2_receipt_relabelled_ed25519_is_refused():
    doc, vkey, sm2_vkey, _, _ = make("gm")
    bad = copy.deepcopy(doc)
    bad["signature_algorithm"] = "ed25519"
    with pytest.raises(receipt.ReceiptError, match="signed sm2-sm3"):
        receipt.verify_receipt(bad, vkey, sm2_vkey=sm2_vkey)
    del bad["signature_algorithm"]  # "no member" means ed25519: refused the same way
    with pytest.raises(receipt.ReceiptError, match="signed sm2-sm3"):
        receipt.verify_receipt(bad, vkey, sm2_vkey=sm2_vkey)


def test_an_sm2_signature_under_another_key_or_another_user_id_is_refused():
    doc, vkey, sm2_vkey, _, (_, sm2_key) = make("gm")
    other = Sm2NoteSigner(ORIGIN, gm.generate_sm2_key()).vkey
    with pytest.raises(receipt.ReceiptError, match="does not verify"):
        receipt.verify_receipt(doc, vkey, sm2_vkey=other)
    message = receipt.canonical(doc["receipt"])
    for user_id in (b"1234567812345679", b"ALICE123@YAHOO.COM"):
        bad = copy.deepcopy(doc)
        bad["signature"] = base64.b64encode(gm.sm2_sign(sm2_key, message, user_id=user_id)).decode()
        with pytest.raises(receipt.ReceiptError, match="does not verify"):
            receipt.verify_receipt(bad, vkey, sm2_vkey=sm2_vkey)
    named_elsewhere = Sm2NoteSigner("other.example/audit", sm2_key).vkey
    with pytest.raises(receipt.ReceiptError, match="another platform"):
        receipt.verify_receipt(doc, vkey, sm2_vkey=named_elsewhere)


def test_a_receipt_of_an_intl_tender_re_signed_as_gm_is_refused():
    """The adversary holds even the platform's SM2 key: the audit entry still records an intl bid."""
    doc, vkey, sm2_vkey, _, (_, sm2_key) = make("intl")
    forged = copy.deepcopy(doc)
    forged["receipt"]["format"] = "tender-receipt/gm-v1"
    forged["signature_algorithm"] = "sm2-sm3"
    forged["signature"] = base64.b64encode(gm.sm2_sign(sm2_key, receipt.canonical(forged["receipt"]))).decode()
    with pytest.raises(receipt.ReceiptError, match="does not record this submission"):
        receipt.verify_receipt(forged, vkey, sm2_vkey=Sm2NoteSigner(ORIGIN, sm2_key).vkey)
    # The body left as v1 but signed SM2: refused by the format's algorithm.
    forged["receipt"]["format"] = "tender-receipt/v1"
    forged["signature"] = base64.b64encode(gm.sm2_sign(sm2_key, receipt.canonical(forged["receipt"]))).decode()
    with pytest.raises(receipt.ReceiptError, match="signed ed25519"):
        receipt.verify_receipt(forged, vkey, sm2_vkey=Sm2NoteSigner(ORIGIN, sm2_key).vkey)


def test_the_signer_refuses_the_wrong_key_for_the_format():
    doc, *_ , (ed_key, sm2_key) = make("gm")
    with pytest.raises(ValueError, match="signed sm2-sm3"):
        receipt.sign_receipt(doc["receipt"], ed_key, audit_entry="", checkpoint="", proof_index=0,
                             proof_size=1, proof_hashes=[])
    with pytest.raises(ValueError, match="unknown cipher suite"):
        receipt.make_body(platform=ORIGIN, submission="s", tender="t", lot="l", bidder_name="b", credit_code="c",
                          sha256="0" * 64, size=1, commitment="c", key_id="k", received_at="r", audit_index=0,
                          suite="sm9")


def test_openssl_verifies_a_gm_receipt_signature(tmp_path):
    doc, *_, (_, sm2_key) = make("gm")
    msg, sig = tmp_path / "body", tmp_path / "sig"
    msg.write_bytes(receipt.canonical(doc["receipt"]))
    sig.write_bytes(gm.signature_to_der(base64.b64decode(doc["signature"])))
    out = _openssl("pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", _public_pem(tmp_path, sm2_key.public),
                   "-rawin", "-digest", "sm3", "-pkeyopt", DISTID, "-in", str(msg), "-sigfile", str(sig))
    assert b"Signature Verified Successfully" in out
    msg.write_bytes(receipt.canonical({**doc["receipt"], "lot": "02"}))
    result = subprocess.run([need_tool("openssl"), "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey",
                             _public_pem(tmp_path, sm2_key.public), "-rawin", "-digest", "sm3", "-pkeyopt", DISTID,
                             "-in", str(msg), "-sigfile", str(sig)], capture_output=True, timeout=30)
    assert result.returncode != 0


def test_a_receipt_signed_by_openssl_verifies_here(tmp_path):
    key, private_pem, _ = _openssl_key(tmp_path)
    doc, vkey, sm2_vkey, _, _ = make("gm", sm2_key=key)
    msg = tmp_path / "body"
    msg.write_bytes(receipt.canonical(doc["receipt"]))
    der = _openssl("pkeyutl", "-sign", "-inkey", private_pem, "-rawin", "-digest", "sm3", "-pkeyopt", DISTID,
                   "-in", str(msg))
    theirs = copy.deepcopy(doc)
    theirs["signature"] = base64.b64encode(gm.signature_from_der(der)).decode()
    assert theirs["signature"] != doc["signature"]  # SM2 draws k: a new signature, still valid
    receipt.verify_receipt(theirs, vkey, sm2_vkey=sm2_vkey)
    # OpenSSL with another user id: refused here.
    der = _openssl("pkeyutl", "-sign", "-inkey", private_pem, "-rawin", "-digest", "sm3",
                   "-pkeyopt", "distid:ALICE123@YAHOO.COM", "-in", str(msg))
    theirs["signature"] = base64.b64encode(gm.signature_from_der(der)).decode()
    with pytest.raises(receipt.ReceiptError, match="does not verify"):
        receipt.verify_receipt(theirs, vkey, sm2_vkey=sm2_vkey)


# --- checkpoints -----------------------------------------------------------------------------------

def _signed_checkpoint():
    ed, sm2 = NoteSigner(ORIGIN, signing.generate_signing_key()), Sm2NoteSigner(ORIGIN, gm.generate_sm2_key())
    body = Checkpoint(ORIGIN, 7, bytes(range(32))).to_body()
    return body, sign_note(body, ed, sm2), ed, sm2


def test_a_checkpoint_signed_by_both_keys_is_read_by_each_verifier():
    body, note, ed, sm2 = _signed_checkpoint()
    assert note.count("\n\u2014 ") == 2
    assert open_checkpoint(note, ed.verifier).size == 7
    assert open_checkpoint(note, sm2.verifier).size == 7
    assert open_checkpoint(note, Sm2NoteVerifier.from_vkey(sm2.vkey)).size == 7
    raw = base64.b64decode(sm2.vkey.split("+", 2)[2])
    assert raw[:len(SM2_NOTE_TYPE)] == b"\xffsm2-sm3" and raw[len(SM2_NOTE_TYPE):] == sm2.verifier.public_key.point
    assert sm2.key_id == hashlib.sha256(ORIGIN.encode() + b"\n" + SM2_NOTE_TYPE + raw[8:]).digest()[:4]
    with pytest.raises(CheckpointError, match="not signed by"):
        open_checkpoint(sign_note(body, ed), sm2.verifier)  # an Ed25519-only note has no SM2 line


def test_the_sm2_line_of_a_checkpoint_verifies_with_openssl(tmp_path):
    body, note, _, sm2 = _signed_checkpoint()
    line = note.rstrip("\n").split("\n")[-1]
    raw = base64.b64decode(line.rsplit(" ", 1)[1])
    assert raw[:4] == sm2.key_id
    msg, sig = tmp_path / "note", tmp_path / "sig"
    msg.write_bytes(body.encode())
    sig.write_bytes(gm.signature_to_der(raw[4:]))
    out = _openssl("pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey",
                   _public_pem(tmp_path, sm2.verifier.public_key), "-rawin", "-digest", "sm3",
                   "-pkeyopt", DISTID, "-in", str(msg), "-sigfile", str(sig))
    assert b"Signature Verified Successfully" in out


def test_signature_lines_relabelled_across_algorithms_fail():
    body, note, ed, sm2 = _signed_checkpoint()
    lines = note.rstrip("\n").split("\n")
    ed_sig = base64.b64decode(lines[-2].rsplit(" ", 1)[1])[4:]
    sm2_sig = base64.b64decode(lines[-1].rsplit(" ", 1)[1])[4:]
    prefix = f"{body}\n\u2014 {ORIGIN} "
    # The Ed25519 signature under the SM2 key id, and the SM2 one under the Ed25519 key id.
    as_sm2 = prefix + base64.b64encode(sm2.key_id + ed_sig).decode() + "\n"
    as_ed = prefix + base64.b64encode(ed.key_id + sm2_sig).decode() + "\n"
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(as_sm2, sm2.verifier)
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(as_ed, ed.verifier)
    other = Sm2NoteSigner(ORIGIN, gm.generate_sm2_key())
    with pytest.raises(CheckpointError, match="not signed by"):
        open_checkpoint(note, other.verifier)
    # An SM2 signature with another user id, under the right key id.
    other_id = gm.sm2_sign(sm2._key, body.encode(), user_id=b"ALICE123@YAHOO.COM")
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(prefix + base64.b64encode(sm2.key_id + other_id).decode() + "\n", sm2.verifier)


def test_sm2_vkeys_are_parsed_strictly():
    sm2 = Sm2NoteSigner(ORIGIN, gm.generate_sm2_key())
    name, kid, key = sm2.vkey.split("+", 2)
    with pytest.raises(CheckpointError, match="key id"):
        Sm2NoteVerifier.from_vkey(f"{name}+{'0' * 8}+{key}")
    with pytest.raises(CheckpointError, match="not a sm2-sm3 key"):
        Sm2NoteVerifier.from_vkey(NoteSigner(ORIGIN, signing.generate_signing_key()).vkey)
    with pytest.raises(CheckpointError, match="not a ed25519 key"):
        NoteVerifier.from_vkey(sm2.vkey)
    off_curve = base64.b64encode(SM2_NOTE_TYPE + b"\x04" + b"\x01" * 64).decode()
    with pytest.raises(CheckpointError, match="not an SM2 public key"):
        Sm2NoteVerifier(ORIGIN, base64.b64decode(off_curve)[8:])


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_an_unknown_or_misspelt_document_member_is_refused(suite):
    doc, vkey, sm2_vkey, _, _ = make(suite)
    misspelt = copy.deepcopy(doc)
    misspelt["signattre_algorithm"] = misspelt.pop("signature_algorithm")
    extra = {**copy.deepcopy(doc), "note": "x"}
    for bad in (misspelt, extra):
        with pytest.raises(receipt.ReceiptError):
            receipt.verify_receipt(bad, vkey, sm2_vkey=sm2_vkey)
