"""The browser seals ``tender-envelope/gm-v1`` (docs/envelope.md, Appendix D; docs/browser-crypto.md,
"The 国密 suite in the browser"): its SM primitives (sm.js over sm-crypto-v2) agree with
``crypto.gm`` (cryptography's SM3/SM4, GmSSL's SM2), what the browser seals opens in Python, what
Python seals opens in the browser, and with the file key, nonce and SM2 bodies fixed the browser
writes the server's envelope byte for byte. The adversary's side: flipped bits, truncation, a
stanza moved to another binding with a re-made MAC, a second file key, keys of the wrong suite."""

from __future__ import annotations

import io
import os

import pytest

from crypto import envelope, envelope_header, gm
from crypto.envelope_gm import sm2_wrap
from tests.e2e.interop import BINDING, IDS, JS_IDS, b64, unb64

pytestmark = pytest.mark.e2e


def _key(sm2: gm.SM2PrivateKey) -> dict:
    return {"scalar": b64(sm2.scalar), "point": b64(sm2.public.point)}


def _browser_seal(page, plaintext: bytes, points: list[bytes], chunk: int = 64, ids=JS_IDS) -> bytes:
    return unb64(page.evaluate("""async ({plaintext, points, chunk, ids}) => t.b64(await kb.gm.sealGmToBytes(
      t.bytes(plaintext), {...ids, chunkSize: chunk,
                           recipients: points.map((p) => ({role: "bidder", publicKey: t.bytes(p)}))}))""",
                               {"plaintext": b64(plaintext), "points": [b64(p) for p in points], "chunk": chunk,
                                "ids": ids}))


def _python_seal(plaintext: bytes, keys: list[gm.SM2PrivateKey], chunk: int = 64, **kw) -> bytes:
    return envelope.seal_bytes(plaintext, **IDS, chunk_size=chunk, suite="gm",
                               recipients=[envelope.Recipient("bidder", k.public) for k in keys], **kw)


OPEN = """async ({data, key}) => {
  const g = kb.gm, env = t.bytes(data), k = {scalar: t.bytes(key.scalar), point: t.bytes(key.point)};
  const header = await g.parseGmHeader(env);
  const fileKey = await g.unwrapGmFileKey(header, k);
  return {fileKey: t.b64(fileKey), plaintext: t.b64(await g.openGmToBytes(env, {fileKey, expected: header.binding}))};
}"""


def test_the_primitives_agree_with_python(crypto_page):
    """SM3, HMAC-SM3 (keys of 0, 16, 64 and 100 bytes), HKDF-SM3 (16, 32, 33, 100 bytes) and SM4-GCM
    (0 ... 1000 bytes) give crypto.gm's bytes; GB/T 32905's "abc" example."""
    data = os.urandom(1000)
    cases = {"sm3": [b64(data[:n]) for n in (0, 3, 55, 56, 64, 1000)],
             "hmac": [[b64(os.urandom(k)), b64(data[:m])] for k, m in ((0, 10), (16, 0), (64, 100), (100, 1000))],
             "hkdf": [[b64(os.urandom(32)), b64(os.urandom(16)), b64(b"tender-envelope/gm-v1 payload"), n]
                      for n in (16, 32, 33, 100)],
             "gcm": [[b64(os.urandom(16)), b64(os.urandom(12)), b64(data[:n])] for n in (0, 1, 15, 16, 17, 1000)]}
    got = crypto_page.evaluate("""(c) => {
      const s = kb.sm;
      return {sm3: c.sm3.map((d) => t.b64(s.sm3(t.bytes(d)))),
              hmac: c.hmac.map(([k, m]) => t.b64(s.hmacSm3(t.bytes(k), t.bytes(m)))),
              hkdf: c.hkdf.map(([ikm, salt, info, n]) => t.b64(s.hkdfSm3(t.bytes(ikm), {salt: t.bytes(salt), info: t.bytes(info), length: n}))),
              gcm: c.gcm.map(([k, n, p]) => t.b64(s.sm4GcmEncrypt(t.bytes(k), t.bytes(n), t.bytes(p)))),
              abc: kb.b64.toHex(s.sm3(kb.b64.utf8("abc")))};
    }""", cases)
    assert got["abc"] == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905 A.1
    assert got["sm3"] == [b64(gm.sm3(unb64(d))) for d in cases["sm3"]]
    assert got["hmac"] == [b64(gm.hmac_sm3(unb64(k), unb64(m))) for k, m in cases["hmac"]]
    assert got["hkdf"] == [b64(gm.hkdf_sm3(unb64(i), salt=unb64(s), info=unb64(f), length=n))
                           for i, s, f, n in cases["hkdf"]]
    assert got["gcm"] == [b64(gm.SM4GCM(unb64(k)).encrypt(unb64(n), unb64(p))) for k, n, p in cases["gcm"]]
    # and the browser opens Python's SM4-GCM, and refuses it with one bit flipped
    key, nonce = os.urandom(16), os.urandom(12)
    sealed = gm.SM4GCM(key).encrypt(nonce, data)
    flipped = bytearray(sealed)
    flipped[500] ^= 1
    opened = crypto_page.evaluate("""([k, n, c, bad]) => [t.b64(kb.sm.sm4GcmDecrypt(t.bytes(k), t.bytes(n), t.bytes(c))),
      (() => { try { kb.sm.sm4GcmDecrypt(t.bytes(k), t.bytes(n), t.bytes(bad)); return null; } catch (e) { return e.name; } })()]""",
                                  [b64(key), b64(nonce), b64(sealed), b64(bytes(flipped))])
    assert opened == [b64(data), "SmError"]


def test_sm2_encryption_and_signatures_interoperate_with_gmssl(crypto_page):
    """C1C3C2 both ways: the browser encrypts to a GmSSL key and GmSSL decrypts, and the other way;
    a ciphertext with C3 changed, or under another key, does not decrypt; a browser SM2 signature
    (default user ID) verifies with GmSSL; a key the browser makes is a valid SM2 pair."""
    key = gm.generate_sm2_key()
    message = os.urandom(64)
    from_python = gm.sm2_encrypt(key.public, message)
    bad_c3 = bytearray(from_python)
    bad_c3[70] ^= 1
    got = crypto_page.evaluate("""({key, message, ct, bad, other}) => {
      const s = kb.sm, k = t.bytes(key.scalar);
      const err = (f) => { try { f(); return null; } catch (e) { return e.name; } };
      const made = s.generateSm2Key();
      return {ct: t.b64(s.sm2Encrypt(t.bytes(key.point), t.bytes(message))),
              opened: t.b64(s.sm2Decrypt(k, t.bytes(ct))),
              bad: err(() => s.sm2Decrypt(k, t.bytes(bad))),
              other: err(() => s.sm2Decrypt(t.bytes(other), t.bytes(ct))),
              sig: t.b64(s.sm2Sign(k, t.bytes(key.point), t.bytes(message))),
              made: {scalar: t.b64(made.scalar), point: t.b64(made.point)},
              p256: s.isSm2Point(t.bytes(key.p256))};
    }""", {"key": {**_key(key), "p256": b64(_p256_point())}, "message": b64(message), "ct": b64(from_python),
           "bad": b64(bytes(bad_c3)), "other": b64(gm.generate_sm2_key().scalar)})
    ct = unb64(got["ct"])
    assert len(ct) == 65 + 32 + 64 and ct[0] == 4
    assert gm.sm2_decrypt(key, ct) == message
    assert unb64(got["opened"]) == message
    assert got["bad"] == got["other"] == "SmError"
    gm.sm2_verify(key.public, unb64(got["sig"]), message)  # raises if not
    made = gm.SM2PrivateKey(unb64(got["made"]["scalar"]), gm.SM2PublicKey(unb64(got["made"]["point"])))
    gm.check_pair(made)
    assert got["p256"] is False


def _p256_point() -> bytes:
    from crypto import keys

    return keys.public_key_to_bytes(keys.generate_bidder_key().public_key())


@pytest.mark.parametrize("size,chunk", [(0, 64), (1, 64), (63, 64), (64, 64), (65, 64), (1000, 64),
                                        (5000, 1000), (3 * 1048576 + 7, 1048576)])
def test_what_the_browser_seals_opens_in_python(crypto_page, size, chunk):
    keys = [gm.generate_sm2_key(), gm.generate_sm2_key()]
    plaintext = os.urandom(size)
    env = _browser_seal(crypto_page, plaintext, [k.public.point for k in keys], chunk)
    header = envelope.read_header(io.BytesIO(env))
    assert header.version == "tender-envelope/gm-v1" and header.chunk_size == chunk
    assert header.key_ids("bidder") == tuple(k.key_id for k in keys)
    file_keys = {envelope.unwrap_file_key(header, k) for k in keys}
    assert len(file_keys) == 1
    assert envelope.open_bytes(env, file_key=file_keys.pop()) == plaintext
    with pytest.raises(envelope.InvalidEnvelope):
        envelope.unwrap_file_key(header, gm.generate_sm2_key())


@pytest.mark.parametrize("size,chunk", [(0, 64), (64, 64), (1000, 64), (200_000, 65536)])
def test_what_python_seals_opens_in_the_browser(crypto_page, size, chunk):
    key = gm.generate_sm2_key()
    plaintext = os.urandom(size)
    env = _python_seal(plaintext, [key], chunk)
    file_key = envelope.unwrap_file_key(envelope.read_header(io.BytesIO(env)), key)
    got = crypto_page.evaluate(OPEN, {"data": b64(env), "key": _key(key)})
    assert got == {"fileKey": b64(file_key), "plaintext": b64(plaintext)}


def test_the_browser_writes_the_servers_envelope_byte_for_byte(crypto_page):
    """SM2 draws its own k, so a vector fixes the file key, the nonce and the SM2 bodies Python
    wrote: from them the browser writes the same header (commitment, key ids, MAC) and payload."""
    keys = [gm.generate_sm2_key(), gm.generate_sm2_key()]
    file_key, nonce = os.urandom(32), os.urandom(16)
    bodies: list[bytes] = []

    def wrap(public_key, context, secret):
        bodies.append(sm2_wrap(public_key, context, secret))
        return bodies[-1]

    plaintext = "投标报价 98765432 分 ".encode() * 300
    out = io.BytesIO()
    envelope._seal(io.BytesIO(plaintext), out, binding=BINDING, chunk_size=1000, file_key=file_key, nonce=nonce,
                   wrap=wrap, suite="gm", recipients=[envelope.Recipient("bidder", k.public) for k in keys])
    got = crypto_page.evaluate("""async ({plaintext, points, fileKey, nonce, bodies, ids}) => {
      const s = await kb.gm._internals.sealGmWith(t.bytes(plaintext), {...ids, chunkSize: 1000,
          recipients: points.map((p) => ({role: "bidder", publicKey: t.bytes(p)}))},
        t.bytes(fileKey), t.bytes(nonce), bodies.map(t.bytes));
      return t.b64(new Uint8Array(await (await s.toBlob()).arrayBuffer()));
    }""", {"plaintext": b64(plaintext), "points": [b64(k.public.point) for k in keys], "fileKey": b64(file_key),
           "nonce": b64(nonce), "bodies": [b64(b) for b in bodies], "ids": JS_IDS})
    assert unb64(got) == out.getvalue()


def test_a_tampered_envelope_does_not_open_in_the_browser_or_in_python(crypto_page):
    """Every bit flip (one per byte, alternating bits), truncation and an appended byte of a
    three-chunk browser-sealed envelope are refused by the browser with the right key, and by Python."""
    key = gm.generate_sm2_key()
    plaintext = os.urandom(150)
    env = _browser_seal(crypto_page, plaintext, [key.public.point])
    variants = []
    for i in range(len(env)):
        v = bytearray(env)
        v[i] ^= 1 << (i % 8)
        variants.append(bytes(v))
    variants += [env[:n] for n in (len(env) - 1, len(env) - 16, len(env) - 166, 400)] + [env + b"\0"]
    refused = crypto_page.evaluate("""async ({variants, key}) => {
      const g = kb.gm, k = {scalar: t.bytes(key.scalar), point: t.bytes(key.point)};
      const out = [];
      for (const v of variants) {
        try {
          const env = t.bytes(v), h = await g.parseGmHeader(env);
          await g.openGmToBytes(env, {fileKey: await g.unwrapGmFileKey(h, k)});
          out.push(null);
        } catch (e) { out.push(e.name); }
      }
      return out;
    }""", {"variants": [b64(v) for v in variants], "key": _key(key)})
    assert refused == ["InvalidEnvelope"] * len(variants)
    for v in variants:
        with pytest.raises(envelope.InvalidEnvelope):
            envelope.open_bytes(v, file_key=envelope.unwrap_file_key(envelope.read_header(io.BytesIO(v)), key))


def test_a_stanza_moved_to_another_bidder_with_a_remade_mac_is_refused(crypto_page):
    """The adversary is a bidder who knows its own file key: it copies its stanza into a header for
    another bidder id and re-makes the commitment's nonce and the MAC with that file key, so only
    the SM2 plaintext's context hash can tell. The browser refuses to unwrap it; so does Python."""
    key = gm.generate_sm2_key()
    env = _browser_seal(crypto_page, b"bid", [key.public.point])
    header = envelope.read_header(io.BytesIO(env))
    file_key = envelope.unwrap_file_key(header, key)
    other = "91320100MA1ABCDE1Y"
    mac_input = header.raw[:-45].replace(f"bidder {IDS['bidder_id']}\n".encode(), f"bidder {other}\n".encode())
    mac = envelope_header.header_mac(file_key, header.nonce, mac_input, "tender-envelope/gm-v1")
    forged = mac_input + b" " + b64(mac).encode() + b"\n" + env[header.size:]
    assert envelope.read_header(io.BytesIO(forged)).binding.bidder_id == other
    with pytest.raises(envelope.InvalidEnvelope):
        envelope.unwrap_file_key(envelope.read_header(io.BytesIO(forged)), key)
    got = crypto_page.evaluate("""async ({data, key, fileKey}) => {
      const g = kb.gm, h = await g.parseGmHeader(t.bytes(data));
      await g.verifyGmFileKey(h, t.bytes(fileKey));  // the MAC and commitment check out ...
      return t.error(() => g.unwrapGmFileKey(h, {scalar: t.bytes(key.scalar), point: t.bytes(key.point)}));
    }""", {"data": b64(forged), "key": _key(key), "fileKey": b64(file_key)})
    assert got == "InvalidEnvelope"  # ... but the stanza names another bidder


def test_a_second_file_key_and_the_wrong_suite_are_refused(crypto_page):
    key = gm.generate_sm2_key()
    env = _browser_seal(crypto_page, b"bid", [key.public.point])
    intl = envelope.seal_bytes(b"bid", **IDS, chunk_size=64,
                               recipients=[envelope.Recipient("bidder", _p256_point())])
    got = crypto_page.evaluate("""async ({env, intl, p256, other}) => {
      const g = kb.gm;
      return {second: await t.error(async () => g.openGmToBytes(t.bytes(env), {fileKey: t.bytes(other)})),
              v1: await t.error(async () => g.parseGmHeader(t.bytes(intl))),
              p256: await t.error(async () => g.sealGm(t.bytes(env), {tenderId: "T", lotId: "1", bidderId: "B",
                                                                       recipients: [{role: "bidder", publicKey: t.bytes(p256)}]})),
              escrow: await t.error(async () => g.sealGm(t.bytes(env), {tenderId: "T", lotId: "1", bidderId: "B",
                                                                         recipients: [{role: "escrow", publicKey: t.bytes(env).subarray(0, 0)}]})),
              gmAsV1: await t.error(async () => kb.envelope.parseHeader(t.bytes(env)))};
    }""", {"env": b64(env), "intl": b64(intl), "p256": b64(_p256_point()), "other": b64(os.urandom(32))})
    assert got == {"second": "InvalidEnvelope", "v1": "InvalidEnvelope", "p256": "RangeError",
                   "escrow": "RangeError", "gmAsV1": "InvalidEnvelope"}


def test_a_gm_sealer_resumes_from_its_state_at_any_offset(crypto_page):
    """The upload pipeline rebuilds a sealer with envelope.js's Sealer.resume: a gm-v1 state gives a
    GmSealer whose bytes from any offset are the tail of the whole; another file is refused."""
    key = gm.generate_sm2_key()
    got = crypto_page.evaluate("""async ({point}) => {
      const data = crypto.getRandomValues(new Uint8Array(5000));
      const file = new File([data], "bid.tar", {lastModified: 1});
      const s = await kb.gm.sealGm(file, {tenderId: "T", lotId: "1", bidderId: "B", chunkSize: 1000,
                                          recipients: [{role: "bidder", publicKey: t.bytes(point)}]});
      const whole = new Uint8Array(await (await s.toBlob()).arrayBuffer());
      const state = structuredClone(s.state());
      const r = await kb.envelope.Sealer.resume(state, file);
      const tails = [];
      for (const offset of [0, 1, s.headerSize - 1, s.headerSize, s.headerSize + 1015, s.headerSize + 1016, whole.length]) {
        const parts = [];
        for await (const p of r.pieces({offset, ahead: 2})) parts.push(p);
        tails.push(kb.b64.toHex(kb.b64.concat(...parts)) === kb.b64.toHex(whole.subarray(offset)));
      }
      const other = new File([data], "other.tar", {lastModified: 1});
      return {cls: r.constructor.name, tails, size: r.envelopeSize === whole.length, env: t.b64(whole),
              plaintext: t.b64(data), other: await t.error(async () => kb.envelope.Sealer.resume(state, other))};
    }""", {"point": b64(key.public.point)})
    assert got["cls"] == "GmSealer" and all(got["tails"]) and got["size"] and got["other"] == "RangeError"
    env = unb64(got["env"])
    fk = envelope.unwrap_file_key(envelope.read_header(io.BytesIO(env)), key)
    assert envelope.open_bytes(env, file_key=fk) == unb64(got["plaintext"])
    assert not crypto_page.js_errors


def _setup(env: dict[str, str], fn: str, tag: str) -> dict:
    import json
    import subprocess
    import sys
    from pathlib import Path

    res = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                          f"from tests.e2e.upload_setup import {fn}; {fn}({tag!r})"],
                         cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def _submit_page(browser, base: str, who: dict):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.add_cookies([{"name": "sessionid", "value": who["cookie"], "url": base}])
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.goto(f"{base}/tenders/{who['lot']}/bid/")
    page.wait_for_selector("#submit-page[data-ready='1']")
    return context, page


def test_a_bidder_seals_and_submits_a_gm_tender_in_the_browser(browser, platform_server, tmp_path):
    """The submit page of a gm tender seals gm-v1 to the SM2 certificate (no key in the browser, no
    "use sealbid"), uploads it with the progress bar and checks the receipt; the stored envelope is
    gm-v1 to that key and opens, with the bidder's SM2 key in Python, to the documents chosen; the
    receipt page verifies the platform's tender-receipt/gm-v1 receipt (SM2 signature, sm2_vkey).
    The upload Worker's SM4 workers fetched OpenSSL's SM4-GCM module (and, the suite failing on any
    policy violation, compiled it)."""
    from tests.e2e.uploading import fill_bid, open_package, stored_envelope, write_document

    who = _setup(platform_server.env, "build_gm_upload", "submit")
    doc = tmp_path / "技术标.pdf"
    digest = write_document(doc, 3 * 2**20 + 12345)
    context, page = _submit_page(browser, platform_server, who)
    wasm_fetched = []
    context.on("requestfinished", lambda r: r.url.endswith("/sm4gcm.wasm") and wasm_fetched.append(r.response().status))
    try:
        assert page.is_hidden("#closed-reason")
        assert page.text_content("#key-info").startswith(who["key_id"]) and "SM2" in page.text_content("#key-info")
        fill_bid(page, [doc])
        page.click("#seal-btn")
        page.wait_for_function("() => ['done', 'error'].includes(document.getElementById('status').dataset.state)",
                               timeout=180_000)
        assert page.get_attribute("#status", "data-state") == "done", page.text_content("#status")
        assert page.get_attribute("#bar", "value") == page.get_attribute("#bar", "max")  # the bar is full
        assert wasm_fetched and set(wasm_fetched) == {200}, wasm_fetched
        page.goto(f"{platform_server}/tenders/{who['lot']}/receipt/")
        page.wait_for_selector("#receipt-page[data-verified]")
        checks = page.eval_on_selector_all("#checks li", "(li) => li.map((x) => [x.dataset.check, x.dataset.ok, x.textContent])")
        assert page.get_attribute("#receipt-page", "data-verified") == "true", checks
        assert [(c, ok) for c, ok, _ in checks] == [(c, "true") for c in ("form", "signature", "checkpoint",
                                                                          "inclusion", "entry")]
        assert "SM2" in checks[1][2]
        assert not page.js_errors
    finally:
        context.close()
    path = stored_envelope(platform_server.env, who["lot"])
    header = envelope.read_header(io.BytesIO(path.read_bytes()[:envelope.MAX_HEADER_SIZE_GM]))
    assert header.version == "tender-envelope/gm-v1" and header.key_ids("bidder") == (who["key_id"],)
    key = gm.SM2PrivateKey(bytes.fromhex(who["scalar"]), gm.SM2PublicKey(bytes.fromhex(who["point"])))
    members = open_package(path, key)
    assert members["documents/技术标.pdf"]["size"] == doc.stat().st_size
    assert members["documents/技术标.pdf"]["sha256"] == digest


def test_a_p256_certificate_cannot_seal_for_a_gm_tender(browser, platform_server):
    who = _setup(platform_server.env, "build_gm_upload_p256", "p256")
    context, page = _submit_page(browser, platform_server, who)
    try:
        assert "SM2 证书" in page.text_content("#key-info")
        assert page.is_disabled("#seal-btn")
        assert not page.js_errors
    finally:
        context.close()


def test_the_sm4_workers_and_the_inline_path_write_the_same_envelope(crypto_page):
    """With the file key and nonce fixed, a GmSealer on a pool of 3 SM4 workers (OpenSSL's SM4-GCM in
    WebAssembly: every pooled chunk says so) and one encrypting inline (sm-crypto-v2) produce the
    same bytes (8 chunks, from byte 0 and from inside a chunk), and Python opens them."""
    key = gm.generate_sm2_key()
    got = crypto_page.evaluate("""async ({point}) => {
      const g = kb.gm, data = crypto.getRandomValues(new Uint8Array(8 * 1000 - 3));
      const fileKey = crypto.getRandomValues(new Uint8Array(32)), nonce = crypto.getRandomValues(new Uint8Array(16));
      const body = kb.sm.sm2Encrypt(t.bytes(point), kb.b64.concat(fileKey, kb.sm.sm3(g.gmContext({tenderId: "T", lotId: "1", bidderId: "B"}))));
      const out = {}, Original = globalThis.Worker, before = {...g.gmWorkers.used};
      let made = 0;
      globalThis.Worker = class extends Original { constructor(...a) { super(...a); made++; } };
      for (const count of [1, 3]) {
        g.gmWorkers.count = count;
        const s = await g._internals.sealGmWith(data, {tenderId: "T", lotId: "1", bidderId: "B", chunkSize: 1000,
          recipients: [{role: "bidder", publicKey: t.bytes(point)}]}, fileKey.slice(), nonce, [body]);
        const parts = [];
        for await (const p of s.pieces({ahead: 1})) parts.push(p);
        const tail = [];
        for await (const p of s.pieces({offset: s.headerSize + 2500})) tail.push(p);
        out[count] = {env: t.b64(kb.b64.concat(...parts)), tail: t.b64(kb.b64.concat(...tail))};
      }
      g.gmWorkers.count = null;
      globalThis.Worker = Original;
      const used = {};
      for (const [k, v] of Object.entries(g.gmWorkers.used)) used[k] = v - (before[k] || 0);
      return {out, made, used, plaintext: t.b64(data)};
    }""", {"point": b64(key.public.point)})
    one, three = got["out"]["1"], got["out"]["3"]
    assert got["used"] == {"openssl-3.0.20-wasm": 8 + 6}  # the whole run and the tail's 6 chunks
    assert got["made"] == 6  # three workers for each of the two pieces() runs of the pooled sealer
    assert one == three
    env = unb64(one["env"])
    assert unb64(one["tail"]) == env[len(env) - len(unb64(one["tail"])):]
    fk = envelope.unwrap_file_key(envelope.read_header(io.BytesIO(env)), key)
    assert envelope.open_bytes(env, file_key=fk) == unb64(got["plaintext"])


def test_an_sm2_csr_built_in_the_browser_is_accepted_by_the_platform_and_openssl(crypto_page, tmp_path):
    """csr.js's buildSm2Csr: the request loads with crypto.sm2_x509.load_csr (signature = proof of
    possession, subject, the SM2 key) and `openssl req -verify` with the default SM2 ID accepts it;
    a request signed by another key than the one inside is refused."""
    import subprocess

    from crypto import sm2_x509

    key, other = gm.generate_sm2_key(), gm.generate_sm2_key()
    got = crypto_page.evaluate("""async ({key, other}) => {
      const pem = async (k) => kb.csr.pem(await kb.csr.buildSm2Csr({scalar: t.bytes(k.scalar), point: t.bytes(key.point)},
                                                                   {organisation: "南京某某建设有限公司", creditCode: "91320100MA1ABCDE0X"}));
      return {good: await pem(key), forged: await pem(other)};
    }""", {"key": _key(key), "other": _key(other)})
    info = sm2_x509.load_csr(got["good"])
    assert info.public_key == key.public and info.credit_code == "91320100MA1ABCDE0X"
    assert info.organisation == "南京某某建设有限公司"
    with pytest.raises(sm2_x509.CertificateError):
        sm2_x509.load_csr(got["forged"])
    path = tmp_path / "req.pem"
    path.write_text(got["good"])
    from tests.conftest import need_tool

    res = subprocess.run([need_tool("openssl"), "req", "-in", str(path), "-noout", "-verify", "-vfyopt", "distid:1234567812345678"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "verif" in (res.stdout + res.stderr).lower(), res.stderr
