"""The bidder's SM2 key file (``tender-key/sm2-v1``) in the browser (crypto/gm_keyfile.js,
sm.js's pbkdf2Sm3) against crypto/gm_keys.py: PBKDF2-HMAC-SM3 gives Python's bytes, a key file
Python writes opens in the browser (the password typed in NFD) and unwraps a Python-sealed gm-v1
envelope, one the browser writes loads in Python with Python's layout, and every malformed file,
a wrong password and a file whose private key is not its public key are refused as in Python."""

from __future__ import annotations

import json
import os
import unicodedata

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from crypto import envelope, gm, gm_keys, keys
from tests.e2e.interop import IDS, b64, unb64

pytestmark = pytest.mark.e2e

PASSWORD_TYPED = unicodedata.normalize("NFD", "国密口令 café-2026")
PASSWORD = unicodedata.normalize("NFC", PASSWORD_TYPED).encode("utf-8")
FAST = keys.MIN_ITERATIONS

READ = """async ({file, password}) => {
  try {
    const k = await kb.gmkeyfile.readGmKeyFile(t.bytes(file), password);
    return {scalar: t.b64(k.scalar), point: t.b64(k.point), keyId: k.keyId};
  } catch (e) { return {error: e.name, message: e.message}; }
}"""


def _pbkdf2(password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SM3(), length=length, salt=salt, iterations=iterations).derive(password)


def test_pbkdf2_hmac_sm3_gives_pythons_bytes_in_the_worker_and_in_javascript(crypto_page):
    """Passwords of 0, 1, 10, 64 (a block) and 100 bytes (hashed first), lengths of one and several
    SM3 blocks, iteration counts 1, 2, 3,000 (several slices of the event-loop yield) and 5,000
    (the Worker reports progress), each through the WebAssembly Worker (kdf_worker.js, no fallback
    allowed) and through the JavaScript fallback: both give Python's bytes."""
    cases = [(b64(os.urandom(p)), b64(os.urandom(s)), i, n)
             for p, s, i, n in ((1, 16, 1, 16), (10, 16, 2, 32), (64, 8, 3000, 33), (100, 16, 1000, 64),
                                (20, 0, 5, 16), (0, 16, 3, 16), (12, 16, 5000, 16))]
    got = crypto_page.evaluate("""async (cases) => {
      const out = {worker: [], js: [], engines: [], progress: []};
      for (const engine of ["worker", "js"]) {
        for (const [p, s, i, n] of cases) {
          const seen = [];
          out[engine].push(t.b64(await kb.sm.pbkdf2Sm3(t.bytes(p), t.bytes(s), i, n, {sliceMs: 1, engine,
            onEngine: (e) => out.engines.push(e), onProgress: (d, total) => seen.push([d, total])})));
          out.progress.push(seen.at(-1));
        }
      }
      return out;
    }""", cases)
    want = [b64(_pbkdf2(unb64(p), unb64(s), i, n)) for p, s, i, n in cases]
    assert got["worker"] == want
    assert got["js"] == want
    assert got["engines"] == ["worker"] * len(cases) + ["js"] * len(cases)
    totals = [i * -(-n // 32) for _, _, i, n in cases]
    assert got["progress"] == [[total, total] for total in totals] * 2


def test_pbkdf2_falls_back_to_javascript_when_the_worker_cannot_start(crypto_page):
    """With no Worker to be had (the constructor throws, as where Workers are unavailable), "auto"
    derives the same bytes in JavaScript and says so; "worker" refuses instead."""
    salt = os.urandom(16)
    got = crypto_page.evaluate("""async ({pw, salt}) => {
      const saved = globalThis.Worker;
      globalThis.Worker = function () { throw new Error("no Worker here"); };
      try {
        const engines = [];
        const key = await kb.sm.pbkdf2Sm3(t.bytes(pw), t.bytes(salt), 1000, 16, {onEngine: (e) => engines.push(e)});
        let refused = null;
        try { await kb.sm.pbkdf2Sm3(t.bytes(pw), t.bytes(salt), 1000, 16, {engine: "worker"}); }
        catch (e) { refused = e.message; }
        return {key: t.b64(key), engines, refused};
      } finally { globalThis.Worker = saved; }
    }""", {"pw": b64(b"pw"), "salt": b64(salt)})
    assert got == {"key": b64(_pbkdf2(b"pw", salt, 1000, 16)), "engines": ["worker", "js"], "refused": "no Worker here"}


def test_a_python_key_file_opens_in_the_browser_and_unwraps_a_python_envelope(crypto_page):
    key = gm.generate_sm2_key()
    key_file = gm_keys.private_key_to_file(key, PASSWORD, iterations=FAST)
    env = envelope.seal_bytes(b"sealed bid", **IDS, chunk_size=64, suite="gm",
                              recipients=[envelope.Recipient("bidder", key.public)])
    got = crypto_page.evaluate("""async ({file, password, env}) => {
      const k = await kb.gmkeyfile.readGmKeyFile(t.bytes(file), password);
      const pub = kb.gmkeyfile.readGmKeyFilePublic(t.bytes(file));
      const fileKey = await kb.gm.unwrapGmFileKey(t.bytes(env), k);
      return {scalar: t.b64(k.scalar), point: t.b64(k.point), keyId: k.keyId, pubId: pub.keyId,
              format: kb.gmkeyfile.keyFileFormat(t.bytes(file)),
              plaintext: t.b64(await kb.gm.openGmToBytes(t.bytes(env), {fileKey}))};
    }""", {"file": b64(key_file), "password": PASSWORD_TYPED, "env": b64(env)})
    assert got == {"scalar": b64(key.scalar), "point": b64(key.public.point), "keyId": key.key_id,
                   "pubId": key.key_id, "format": "tender-key/sm2-v1", "plaintext": b64(b"sealed bid")}


def test_a_wrong_password_and_a_mismatched_private_key_are_refused_as_in_python(crypto_page):
    key, other = gm.generate_sm2_key(), gm.generate_sm2_key()
    key_file = gm_keys.private_key_to_file(key, PASSWORD, iterations=FAST)
    got = crypto_page.evaluate(READ, {"file": b64(key_file), "password": PASSWORD_TYPED + "x"})
    assert got["error"] == "WrongPassword"
    with pytest.raises(keys.WrongPassword):
        gm_keys.load_private_key_file(key_file, PASSWORD + b"x")
    # Another key's point and key id in clear over this key's sealed scalar: the tag verifies
    # (the AAD is the format name only), the pair does not.
    doc = json.loads(key_file)
    doc.update(public_key=b64(other.public.point), key_id=other.key_id)
    swapped = json.dumps(doc).encode()
    got = crypto_page.evaluate(READ, {"file": b64(swapped), "password": PASSWORD_TYPED})
    assert got["error"] == "InvalidKeyFile" and "does not match" in got["message"]
    with pytest.raises(keys.InvalidKeyFile, match="does not match"):
        gm_keys.load_private_key_file(swapped, PASSWORD)


def _mutations(key_file: bytes) -> dict[str, bytes]:
    doc = json.loads(key_file)
    off_curve = bytearray(unb64(doc["public_key"]))
    off_curve[-1] ^= 1

    def changed(**fields):
        return json.dumps({**doc, **fields}).encode()

    without = dict(doc)
    del without["nonce"]
    return {
        "not json": b"{not json",
        "a list": b"[]",
        "missing member": json.dumps(without).encode(),
        "extra member": changed(label="x"),
        "the P-256 format": changed(format="tender-key/v1"),
        "curve": changed(curve="P-256"),
        "kdf": changed(kdf="pbkdf2-sha256"),
        "too few iterations": changed(iterations=keys.MIN_ITERATIONS - 1),
        "iterations as text": changed(iterations=str(FAST)),
        "padded salt": changed(salt=doc["salt"] + "=="),
        "short nonce": changed(nonce=b64(os.urandom(11))),
        "short ct": changed(ct=b64(os.urandom(47))),
        "key id": changed(key_id="0" * 16),
        "point off the curve": changed(public_key=b64(bytes(off_curve))),
        "too large": key_file + b" " * (16 * 1024),
    }


def test_malformed_key_files_are_refused_as_in_python(crypto_page):
    key_file = gm_keys.private_key_to_file(gm.generate_sm2_key(), PASSWORD, iterations=FAST)
    mutations = _mutations(key_file)
    got = crypto_page.evaluate("""async (files) => {
      const out = {};
      for (const [name, file] of Object.entries(files)) {
        try { kb.gmkeyfile.readGmKeyFilePublic(t.bytes(file)); out[name] = null; }
        catch (e) { out[name] = e.name; }
      }
      return out;
    }""", {name: b64(data) for name, data in mutations.items()})
    assert got == {name: "InvalidKeyFile" for name in mutations}
    for name, data in mutations.items():
        with pytest.raises(keys.InvalidKeyFile):
            gm_keys.load_private_key_file(data, PASSWORD)
            pytest.fail(name)


def test_a_key_file_the_browser_writes_loads_in_python_with_pythons_layout(crypto_page):
    key = gm.generate_sm2_key()
    written = unb64(crypto_page.evaluate("""async ({scalar, point, password, iterations}) =>
      t.b64(await kb.gmkeyfile.writeGmKeyFile({scalar: t.bytes(scalar), point: t.bytes(point)}, password, {iterations}))""",
                                         {"scalar": b64(key.scalar), "point": b64(key.public.point),
                                          "password": PASSWORD_TYPED, "iterations": FAST}))
    loaded = gm_keys.load_private_key_file(written, PASSWORD)
    assert loaded.scalar == key.scalar and loaded.public.point == key.public.point
    python = gm_keys.private_key_to_file(key, PASSWORD, iterations=FAST)
    doc, theirs = json.loads(written), json.loads(python)
    assert list(doc) == list(theirs)
    for field in ("salt", "nonce", "ct"):  # fresh in each file; everything else the same bytes
        doc[field] = theirs[field]
    assert (json.dumps(doc, indent=2) + "\n").encode() == python
    assert written.decode().splitlines()[1:5] == python.decode().splitlines()[1:5]
    refused = crypto_page.evaluate("""async ({scalar, point}) => {
      try { await kb.gmkeyfile.writeGmKeyFile({scalar: t.bytes(scalar), point: t.bytes(point)}, "x", {iterations: 100000}); return null; }
      catch (e) { return e.name; }
    }""", {"scalar": b64(key.scalar), "point": b64(gm.generate_sm2_key().public.point)})
    assert refused == "RangeError"


def test_the_default_iterations_keep_the_page_responsive(crypto_page):
    """A sealbid key file has 600,000 iterations (seconds of HMAC-SM3 in JavaScript): derived in
    slices with yields between them, the page's timers keep running all along, and its tasks stay
    short. The time is printed (docs/browser-crypto.md has the figures)."""
    key = gm.generate_sm2_key()
    key_file = gm_keys.private_key_to_file(key, PASSWORD)
    assert json.loads(key_file)["iterations"] == keys.DEFAULT_ITERATIONS
    got = crypto_page.evaluate("""async ({file, password}) => {
      const tasks = [];
      const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) tasks.push(e.duration); });
      observer.observe({ type: "longtask" });
      let last = performance.now(), gap = 0, ticks = 0;
      const timer = setInterval(() => { const now = performance.now(); gap = Math.max(gap, now - last); last = now; ticks++; }, 50);
      const start = performance.now();
      let updates = 0;
      const k = await kb.gmkeyfile.readGmKeyFile(t.bytes(file), password, {onProgress: () => { updates++; }});
      const seconds = (performance.now() - start) / 1000;
      clearInterval(timer);
      await new Promise((r) => setTimeout(r, 100));
      observer.disconnect();
      tasks.sort((a, b) => a - b);
      return {scalar: t.b64(k.scalar), seconds, ticks, updates, gap, longTasks: tasks.length,
              p90: tasks.length ? tasks[Math.floor(tasks.length * 0.9)] : 0, longest: tasks.at(-1) || 0};
    }""", {"file": b64(key_file), "password": PASSWORD_TYPED})
    print(f"PBKDF2-HMAC-SM3, 600,000 iterations: {got['seconds']:.1f} s; longest gap between 50 ms timer ticks "
          f"{got['gap']:.0f} ms; {got['longTasks']} tasks over 50 ms, p90 {got['p90']:.0f} ms, longest "
          f"{got['longest']:.0f} ms; {got['updates']} progress updates")
    assert got["scalar"] == b64(key.scalar)
    assert got["updates"] > 10
    # A page that derived in one go would have one task, and no tick, for the whole derivation
    # (seconds). The slices are 25 ms; on this loaded 2-core machine the renderer is descheduled
    # for longer now and then (p90 of the tasks over 50 ms: 193 ms at a load of 13).
    assert got["ticks"] > 10 and got["gap"] < 1000 and got["longest"] < 1000, got
