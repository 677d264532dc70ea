"""Receipts verify offline with the platform's vkey alone; any change fails."""

import copy
import hashlib
import io

import pytest

from crypto import merkle, receipt, signing
from crypto.checkpoint import Checkpoint, NoteSigner

ORIGIN = "test.example/audit"


def make(entry_count=5, index=3):
    key = signing.generate_signing_key()
    signer = NoteSigner(ORIGIN, key)
    envelope = b"tender-envelope/v1\n...payload..."
    sha = hashlib.sha256(envelope).hexdigest()
    entries = [f'{{"index":{i},"action":"other"}}' for i in range(entry_count)]
    entries[index] = receipt.canonical({"index": index, "action": receipt.SUBMITTED_ACTION,
                                        "data": {"submission": "s-1", "sha256": sha,
                                                 "size": len(envelope), "commitment": "c" * 43}}).decode()
    tree = merkle.MemoryTree([merkle.leaf_hash(e.encode()) for e in entries])
    leaves = [merkle.leaf_hash(e.encode()) for e in entries]
    root = merkle.root_from_leaf_hashes(leaves)
    proof = merkle.inclusion_proof(index, entry_count, tree)
    note = signer.sign(Checkpoint(ORIGIN, entry_count, root).to_body())
    body = receipt.make_body(platform=ORIGIN, submission="s-1", tender="ZB-1", lot="01",
                             bidder_name="甲公司", credit_code="91320100AL1000000X", sha256=sha,
                             size=len(envelope), commitment="c" * 43, key_id="0" * 16,
                             received_at="2026-01-01T00:00:00.000000Z", audit_index=index)
    doc = receipt.sign_receipt(body, key, audit_entry=entries[index], checkpoint=note,
                               proof_index=index, proof_size=entry_count, proof_hashes=proof)
    return doc, signer.vkey, envelope


def test_a_receipt_verifies_offline():
    doc, vkey, envelope = make()
    body = receipt.verify_receipt(doc, vkey, envelope=io.BytesIO(envelope))
    assert body["bidder"]["credit_code"] == "91320100AL1000000X"
    receipt.verify_receipt(receipt.canonical(doc), vkey)


@pytest.mark.parametrize("mutate", [
    lambda d: d["receipt"].__setitem__("lot", "02"),
    lambda d: d["receipt"]["envelope"].__setitem__("size", 1),
    lambda d: d["receipt"].__setitem__("audit_index", 2),
    lambda d: d.__setitem__("audit_entry", d["audit_entry"].replace("s-1", "s-2")),
    lambda d: d["inclusion_proof"]["hashes"].reverse(),
    lambda d: d["inclusion_proof"].__setitem__("size", 4),
    lambda d: d.__setitem__("checkpoint", d["checkpoint"].replace("\n5\n", "\n6\n")),
    lambda d: d.__setitem__("signature", d["signature"][:-4] + "AAA="),
    lambda d: d["receipt"].__setitem__("extra", 1),
    lambda d: d.pop("checkpoint"),
])
def test_any_change_fails(mutate):
    doc, vkey, _ = make()
    bad = copy.deepcopy(doc)
    mutate(bad)
    with pytest.raises(receipt.ReceiptError):
        receipt.verify_receipt(bad, vkey)


def test_another_platform_key_or_another_envelope_fails():
    doc, _, envelope = make()
    _, other_vkey, _ = make()
    with pytest.raises(receipt.ReceiptError):
        receipt.verify_receipt(doc, other_vkey)
    _, vkey, _ = make()
    doc, vkey, envelope = make()
    with pytest.raises(receipt.ReceiptError):
        receipt.verify_receipt(doc, vkey, envelope=io.BytesIO(envelope + b"x"))
