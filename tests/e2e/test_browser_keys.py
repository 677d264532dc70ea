"""Bidder keys in the browser (keyfile.js, keystore.js) against crypto/keys.py.

A ``tender-key/v1`` file written by Python imports into the browser and unwraps a Python-sealed
envelope; one the browser writes at key generation loads in Python; the key the browser keeps in
IndexedDB is non-extractable and survives a reload.
"""

from __future__ import annotations

import io
import json
import os
import unicodedata

import pytest

from crypto import keys
from crypto.envelope import open_bytes, read_header
from tests.e2e.conftest import open_crypto_page, ready_crypto_page
from tests.e2e.interop import b64, sealed_to, unb64

pytestmark = pytest.mark.e2e

# Typed with a decomposed "é" (NFD): the spec normalises to NFC before PBKDF2, so Python's NFC
# bytes and the browser's typing must agree.
PASSWORD_TYPED = unicodedata.normalize("NFD", "开标密码 café-2026")
PASSWORD = unicodedata.normalize("NFC", PASSWORD_TYPED).encode("utf-8")
FAST = 100_000  # the minimum the format allows: keeps PBKDF2 quick on both sides


UNWRAP_WITH_STORED = """async ({keyId, envelope}) => {
  const key = await kb.keystore.getKey(keyId);
  if (!key) return {missing: true};
  const data = t.bytes(envelope);
  const fileKey = await kb.envelope.unwrapFileKey(await kb.envelope.parseHeader(data), key);
  return {plaintext: t.b64(await kb.envelope.openToBytes(data, {fileKey})),
          extractable: key.privateKey.extractable, usages: key.privateKey.usages,
          exported: await t.error(() => crypto.subtle.exportKey("pkcs8", key.privateKey)),
          publicKey: t.b64(key.publicKey)};
}"""


def test_a_python_key_file_imports_into_the_browser_and_unwraps_a_python_envelope(page, platform_server):
    private_key = keys.generate_bidder_key()
    key_file = keys.private_key_to_file(private_key, PASSWORD, iterations=FAST)
    envelope = sealed_to(private_key.public_key(), "报价 98765432 分".encode())
    open_crypto_page(page, platform_server)
    result = page.evaluate("""async ({file, password, envelope}) => {
      const declared = await kb.keyfile.readKeyFilePublic(t.bytes(file));
      const wrong = await t.error(() => kb.keystore.importKeyFile(t.bytes(file), password + "x"));
      const stored = await kb.keystore.importKeyFile(t.bytes(file), password, {label: "from sealbid"});
      return {declared: declared.keyId, keyId: stored.keyId, wrong};
    }""", {"file": b64(key_file), "password": PASSWORD_TYPED, "envelope": b64(envelope)})
    assert result == {"declared": keys.key_id(private_key.public_key()),
                      "keyId": keys.key_id(private_key.public_key()), "wrong": "WrongPassword"}
    opened = page.evaluate(UNWRAP_WITH_STORED, {"keyId": result["keyId"], "envelope": b64(envelope)})
    assert unb64(opened["plaintext"]) == "报价 98765432 分".encode()
    assert (opened["extractable"], opened["usages"], opened["exported"]) == (False, ["deriveBits"],
                                                                             "InvalidAccessError")
    assert page.js_errors == []


def test_a_key_generated_in_the_browser_is_backed_up_in_a_file_python_loads(page, platform_server):
    open_crypto_page(page, platform_server)
    result = page.evaluate("""async ({password}) => {
      const {key, backup} = await kb.keystore.generateKey({password, label: "投标密钥"});
      return {keyId: key.keyId, publicKey: t.b64(key.publicKey), backup: t.b64(backup),
              extractable: key.privateKey.extractable, listed: (await kb.keystore.listKeys()).map((k) => k.keyId)};
    }""", {"password": PASSWORD_TYPED})
    backup = unb64(result["backup"])
    document = json.loads(backup)
    # The same layout as crypto.keys.private_key_to_file, with the recommended iteration count.
    python_layout = json.loads(keys.private_key_to_file(keys.generate_bidder_key(), b"x", iterations=FAST))
    assert list(document) == list(python_layout) and document["iterations"] == keys.DEFAULT_ITERATIONS
    assert backup.endswith(b"}\n") and b'\n  "format": "tender-key/v1",\n' in backup
    private_key = keys.load_private_key_file(backup, PASSWORD)
    with pytest.raises(keys.WrongPassword):
        keys.load_private_key_file(backup, PASSWORD + b"x")
    assert keys.key_id(private_key.public_key()) == result["keyId"] == document["key_id"]
    assert b64(keys.public_key_to_bytes(private_key.public_key())) == result["publicKey"]
    assert result["extractable"] is False and result["keyId"] in result["listed"]
    # Python seals to the key it loaded from the backup; the browser's stored key opens it.
    envelope = sealed_to(private_key.public_key(), b"sealed to the backed-up key")
    opened = page.evaluate(UNWRAP_WITH_STORED, {"keyId": result["keyId"], "envelope": b64(envelope)})
    assert unb64(opened["plaintext"]) == b"sealed to the backed-up key"
    assert page.js_errors == []


def test_a_browser_key_file_round_trips_through_the_browser(page, platform_server):
    """keyfile.js alone: write, read back, and refuse what crypto/keys.py refuses."""
    private_key = keys.generate_bidder_key()
    other = keys.generate_bidder_key().public_key()
    good = json.loads(keys.private_key_to_file(private_key, PASSWORD, iterations=FAST))
    variants = {
        "extra member": {**good, "comment": "x"},
        "missing member": {k: v for k, v in good.items() if k != "salt"},
        "other format": {**good, "format": "tender-key/v2"},
        "other curve": {**good, "curve": "P-384"},
        "too few iterations": {**good, "iterations": 99_999},
        "too many iterations": {**good, "iterations": 10_000_001},
        "padded salt": {**good, "salt": good["salt"] + "=="},
        "wrong key id": {**good, "key_id": "0" * 16},
        # Consistent in clear, but not the key inside: found only after decryption.
        "public key of another key": {**good, "public_key": b64(keys.public_key_to_bytes(other)),
                                      "key_id": keys.key_id(other)},
    }
    open_crypto_page(page, platform_server)
    result = page.evaluate("""async ({variants, good, password, pkcs8}) => {
      const out = {};
      for (const [name, doc] of Object.entries(variants)) {
        out[name] = await t.error(() => kb.keyfile.readKeyFile(kb.b64.utf8(JSON.stringify(doc)), password));
      }
      out["not JSON"] = await t.error(() => kb.keyfile.readKeyFile(kb.b64.utf8("{"), password));
      const written = await kb.keyfile.writeKeyFile(t.bytes(pkcs8), password, {iterations: 100000});
      const back = await kb.keyfile.readKeyFile(written, password, {extractable: true});
      out.roundTrip = t.b64(new Uint8Array(await crypto.subtle.exportKey("pkcs8", back.privateKey))) === pkcs8;
      out.python = (await kb.keyfile.readKeyFile(kb.b64.utf8(JSON.stringify(good)), password)).keyId;
      out.emptyPassword = await t.error(() => kb.keyfile.writeKeyFile(t.bytes(pkcs8), ""));
      return out;
    }""", {"variants": variants, "good": good, "password": PASSWORD_TYPED,
           "pkcs8": b64(keys.private_key_to_pkcs8(private_key))})
    assert result.pop("roundTrip") is True
    assert result.pop("python") == good["key_id"]
    assert result.pop("emptyPassword") == "TypeError"
    assert result == {name: "InvalidKeyFile" for name in [*variants, "not JSON"]}


def test_the_stored_key_survives_a_reload_and_still_unwraps(page, context, platform_server):
    open_crypto_page(page, platform_server)
    created = page.evaluate("""async ({password}) => {
      const {key} = await kb.keystore.generateKey({password, iterations: 100000});
      return {keyId: key.keyId, publicKey: t.b64(key.publicKey)};
    }""", {"password": PASSWORD_TYPED})
    public_key = keys.load_public_key_bytes(unb64(created["publicKey"]))
    assert keys.key_id(public_key) == created["keyId"]
    plaintext = os.urandom(300)
    envelope = sealed_to(public_key, plaintext)
    page.reload()
    ready_crypto_page(page)
    opened = page.evaluate(UNWRAP_WITH_STORED, {"keyId": created["keyId"], "envelope": b64(envelope)})
    header = read_header(io.BytesIO(envelope))
    assert opened.get("missing") is None
    assert opened["publicKey"] == created["publicKey"]
    assert (opened["extractable"], opened["exported"]) == (False, "InvalidAccessError")
    assert unb64(opened["plaintext"]) == plaintext
    # The file key the browser would release at the opening opens the envelope in Python.
    released = unwrap_file_key_from_browser(page, created["keyId"], envelope)
    assert open_bytes(envelope, file_key=released) == plaintext
    assert header.key_ids("bidder") == (created["keyId"],)
    # Another tab of the same browser profile sees the same key.
    other = open_crypto_page(context.new_page(), platform_server)
    assert other.evaluate("async (id) => (await kb.keystore.getKey(id))?.keyId", created["keyId"]) == created["keyId"]
    assert page.js_errors == []


def unwrap_file_key_from_browser(page, key_id: str, envelope: bytes) -> bytes:
    """The 32 bytes the browser would release at the opening."""
    return unb64(page.evaluate("""async ({keyId, envelope}) => {
      const key = await kb.keystore.getKey(keyId);
      return t.b64(await kb.envelope.unwrapFileKey(await kb.envelope.parseHeader(t.bytes(envelope)), key));
    }""", {"keyId": key_id, "envelope": b64(envelope)}))
