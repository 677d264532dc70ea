"""The browser verifies ``tender-receipt/gm-v1`` receipts as crypto/receipt.py does
(frontend/static/frontend/receipt_verify.js; docs/browser-crypto.md, "Receipts in the browser"):
the SM2 signature (sm2-sm3, default user ID, r || s) through crypto/sm.js with the key of
``sm2_vkey``, the checkpoint with the Ed25519 ``vkey`` (its SM2 line skipped). Every case is also put
to ``receipt.verify_receipt``, and the two must agree. The adversary's side: a tampered body, a
signature by another SM2 key, relabelled algorithms and formats, unknown members, a malformed or
mismatched ``sm2_vkey``, a DER or out-of-range signature, an entry of the other suite."""

from __future__ import annotations

import base64
import copy
import hashlib
import io

import pytest

from crypto import gm, receipt, signing
from crypto.checkpoint import NoteSigner
from crypto.sm2_note import SM2_NOTE_TYPE, Sm2NoteSigner
from tests.crypto.test_sm2_signatures import ORIGIN, make
from tests.e2e.interop import b64

pytestmark = pytest.mark.e2e

CHECKS = ("form", "signature", "checkpoint", "inclusion", "entry")
VERIFY = """async ({doc, vkey, sm2, env}) => {
  const r = await kb.receipt.verifyReceipt(doc, vkey, {sm2Vkey: sm2 ?? undefined,
                                                      envelope: env ? new Blob([t.bytes(env)]) : undefined});
  return {ok: r.ok, checks: Object.fromEntries(r.checks.map((c) => [c.name, c.ok])),
          details: Object.fromEntries(r.checks.map((c) => [c.name, c.detail]))};
}"""


def _browser(page, doc, vkey, sm2_vkey, envelope=None) -> dict:
    got = page.evaluate(VERIFY, {"doc": doc, "vkey": vkey, "sm2": sm2_vkey,
                                 "env": b64(envelope) if envelope is not None else None})
    assert not page.js_errors
    return got


def _python(doc, vkey, sm2_vkey, envelope=None) -> bool:
    try:
        receipt.verify_receipt(copy.deepcopy(doc), vkey, sm2_vkey=sm2_vkey,
                               envelope=io.BytesIO(envelope) if envelope is not None else None)
    except receipt.ReceiptError:
        return False
    return True


def _refused(page, doc, vkey, sm2_vkey, failing: str) -> dict:
    """Both sides refuse; the browser's first failing check is ``failing``."""
    assert not _python(doc, vkey, sm2_vkey)
    got = _browser(page, doc, vkey, sm2_vkey)
    assert got["ok"] is False
    assert next(c for c in CHECKS if got["checks"][c] is False) == failing, got
    return got


def _resign(doc, key) -> dict:
    """The document with its body re-signed by ``key`` (an SM2 key) over the canonical body."""
    doc = copy.deepcopy(doc)
    doc["signature"] = base64.b64encode(gm.sm2_sign(key, receipt.canonical(doc["receipt"]))).decode()
    return doc


def test_a_gm_receipt_made_by_the_server_verifies_in_the_browser(crypto_page):
    """crypto/receipt.py's gm-v1 receipt (checkpoint with an Ed25519 and an SM2 line) passes every
    check, with its envelope too; a v1 receipt, with and without ``signature_algorithm``, still does."""
    doc, vkey, sm2_vkey, envelope, _ = make("gm")
    assert doc["signature_algorithm"] == "sm2-sm3" and "\u2014 " in doc["checkpoint"]
    assert doc["checkpoint"].count("\u2014 ") == 2  # the SM2 line is there, and skipped
    assert _python(doc, vkey, sm2_vkey, envelope)
    got = _browser(crypto_page, doc, vkey, sm2_vkey, envelope)
    assert got["ok"] is True and all(got["checks"].values()), got
    assert got["checks"]["envelope"] is True and got["details"]["signature"] == "SM2 (sm2-sm3)"
    assert _browser(crypto_page, doc, vkey, sm2_vkey, envelope + b"x")["checks"]["envelope"] is False
    v1, v1_vkey, _, v1_envelope, _ = make("intl")
    got = _browser(crypto_page, v1, v1_vkey, None, v1_envelope)
    assert got["ok"] is True and got["details"]["signature"] == "Ed25519"
    old = copy.deepcopy(v1)
    del old["signature_algorithm"]  # a v1 document from before the member
    assert _python(old, v1_vkey, None) and _browser(crypto_page, old, v1_vkey, None)["ok"] is True


@pytest.mark.parametrize("field, value", [("commitment", "d" * 43), ("received_at", "2026-01-01T00:00:01.000000Z"),
                                          ("bidder", {"name": "乙公司", "credit_code": "91320100AL1000000X"}),
                                          ("key_id", "1" * 16)])
def test_a_tampered_gm_body_is_refused(crypto_page, field, value):
    doc, vkey, sm2_vkey, _, _ = make("gm")
    doc["receipt"][field] = value
    _refused(crypto_page, doc, vkey, sm2_vkey, "signature")


def test_a_signature_by_another_sm2_key_is_refused(crypto_page):
    """Re-signed by a forger's SM2 key: refused under the platform's sm2_vkey; and the platform's
    own receipt is refused under the forger's sm2_vkey (same platform name)."""
    doc, vkey, sm2_vkey, _, (_, platform_sm2) = make("gm")
    forger = gm.generate_sm2_key()
    _refused(crypto_page, _resign(doc, forger), vkey, sm2_vkey, "signature")
    assert _browser(crypto_page, _resign(doc, platform_sm2), vkey, sm2_vkey)["ok"] is True  # the honest re-sign
    _refused(crypto_page, doc, vkey, Sm2NoteSigner(ORIGIN, forger).vkey, "signature")


def test_relabelled_algorithms_and_formats_are_refused(crypto_page):
    doc, vkey, sm2_vkey, _, (ed_key, sm2_key) = make("gm")
    for algorithm in ("ed25519", "SM2-SM3", "sm2", "", None, ["sm2-sm3"]):
        bad = copy.deepcopy(doc)
        bad["signature_algorithm"] = algorithm
        _refused(crypto_page, bad, vkey, sm2_vkey, "form")
    bad = copy.deepcopy(doc)
    del bad["signature_algorithm"]  # absent means ed25519: not a gm-v1 receipt's
    _refused(crypto_page, bad, vkey, sm2_vkey, "form")
    # a gm body relabelled v1, with an Ed25519 signature over the relabelled body: the entry says gm
    bad = copy.deepcopy(doc)
    bad["receipt"]["format"], bad["signature_algorithm"] = "tender-receipt/v1", "ed25519"
    bad["signature"] = base64.b64encode(signing.sign(ed_key, receipt.canonical(bad["receipt"]))).decode()
    _refused(crypto_page, bad, vkey, sm2_vkey, "entry")
    # a v1 receipt relabelled sm2-sm3; and its body relabelled gm-v1 as well (the Ed25519 signature)
    v1, v1_vkey, v1_sm2_vkey, _, _ = make("intl")
    bad = copy.deepcopy(v1)
    bad["signature_algorithm"] = "sm2-sm3"
    _refused(crypto_page, bad, v1_vkey, v1_sm2_vkey, "form")
    bad["receipt"]["format"] = "tender-receipt/gm-v1"
    _refused(crypto_page, bad, v1_vkey, v1_sm2_vkey, "signature")
    # an unknown format, even correctly SM2-signed
    bad = copy.deepcopy(doc)
    bad["receipt"]["format"] = "tender-receipt/gm-v2"
    _refused(crypto_page, _resign(bad, sm2_key), vkey, sm2_vkey, "form")


def test_unknown_members_are_refused(crypto_page):
    doc, vkey, sm2_vkey, _, (_, sm2_key) = make("gm")
    for member in ("signatureAlgorithm", "signature_algorithm ", "note", "__proto__x"):
        bad = copy.deepcopy(doc)
        bad[member] = "sm2-sm3"
        _refused(crypto_page, bad, vkey, sm2_vkey, "form")
    bad = copy.deepcopy(doc)
    del bad["audit_entry"]
    _refused(crypto_page, bad, vkey, sm2_vkey, "form")
    bad = copy.deepcopy(doc)
    bad["receipt"]["suite"] = "gm"  # an extra body field, even signed
    _refused(crypto_page, _resign(bad, sm2_key), vkey, sm2_vkey, "form")


def _sm2_vkey(name: str, raw: bytes, key_id: str | None = None) -> str:
    kid = key_id or hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex()
    return f"{name}+{kid}+{base64.b64encode(raw).decode()}"


def test_the_sm2_vkey_is_parsed_strictly(crypto_page):
    """As Sm2NoteVerifier.from_vkey: missing, an Ed25519 vkey, a wrong or uppercase key id, a
    non-canonical base64, a point off the curve, a compressed point, another platform's name."""
    doc, vkey, sm2_vkey, _, (_, sm2_key) = make("gm")
    name, kid, key = sm2_vkey.split("+", 2)
    raw = base64.b64decode(key)
    assert raw.startswith(SM2_NOTE_TYPE)
    point = raw[len(SM2_NOTE_TYPE):]
    off_curve = point[:-1] + bytes([point[-1] ^ 1])
    ed = NoteSigner(ORIGIN, signing.generate_signing_key()).vkey
    # the same bytes with the unused low bits of the last base64 character set: non-canonical
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert key.endswith("==")
    loose = key[:-3] + alphabet[alphabet.index(key[-3]) ^ 1] + "=="
    assert base64.b64decode(loose) == raw
    compressed = bytes([2 + (point[-1] & 1)]) + point[1:33]
    bad_keys = [None, "", vkey, ed, f"{name}+{'0' * 8}+{key}", f"{name}+{kid.upper()}+{key}",
                _sm2_vkey(name, SM2_NOTE_TYPE + off_curve), _sm2_vkey(name, SM2_NOTE_TYPE + compressed),
                _sm2_vkey(name, SM2_NOTE_TYPE[:-1] + b"4" + point), _sm2_vkey(name, SM2_NOTE_TYPE + point + b"\0"),
                Sm2NoteSigner("other.example/audit", sm2_key).vkey, _sm2_vkey("", SM2_NOTE_TYPE + point),
                f"{name}+{kid}+{key.rstrip('=')}", f"{name}+{kid}+{loose}"]
    for bad in bad_keys:
        _refused(crypto_page, doc, vkey, bad, "form")
    assert _sm2_vkey(name, raw) == sm2_vkey and _browser(crypto_page, doc, vkey, sm2_vkey)["ok"] is True


def test_malformed_sm2_signatures_are_refused(crypto_page):
    """r || s only: a DER spelling of the right signature, a truncated one, zeros, r or s = n."""
    doc, vkey, sm2_vkey, _, _ = make("gm")
    sig = base64.b64decode(doc["signature"])
    n = bytes.fromhex("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123")
    for bad_sig in (gm.signature_to_der(sig), sig[:63], sig + b"\0", bytes(64), n + sig[32:], sig[:32] + n,
                    sig[:32] + bytes(32)):
        bad = copy.deepcopy(doc)
        bad["signature"] = base64.b64encode(bad_sig).decode()
        _refused(crypto_page, bad, vkey, sm2_vkey, "signature")
    bad = copy.deepcopy(doc)
    bad["signature"] = doc["signature"].rstrip("=")  # non-canonical base64
    assert bad["signature"] != doc["signature"]
    _refused(crypto_page, bad, vkey, sm2_vkey, "signature")


def test_an_entry_of_the_other_suite_is_refused(crypto_page):
    """A gm-v1 receipt whose audit entry records an intl submission (or none): the entry check."""
    doc, vkey, sm2_vkey, _, _ = make("gm", entry_suite="intl")
    _refused(crypto_page, doc, vkey, sm2_vkey, "entry")
