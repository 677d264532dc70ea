"""OpenSSL's SM4-GCM in WebAssembly in the browser's SM4 worker (crypto/sm4_wasm.js, sm4_worker.js;
docs/browser-crypto.md, "The 国密 suite in the browser"): the standard's SM4 example, SM4-GCM as
``cryptography`` (OpenSSL) computes it, the same bytes as sm-crypto-v2's for chunks of every kind
of size with and without AAD, tampering refused, and GmSealer's worker pool sealing with it an
envelope that the platform's Python opens — and falling back to sm-crypto-v2, with the same bytes,
when the module cannot be had."""

from __future__ import annotations

import io
import os

import pytest

from crypto import envelope, gm
from tests.e2e.conftest import open_crypto_page
from tests.e2e.interop import b64, unb64

pytestmark = pytest.mark.e2e

WASM = "openssl-3.0.20-wasm"
JS = "sm-crypto-v2@1.15.1"

# A worker of the pool's own kind, driven by messages (its test ops, sm4_worker.js's header).
WORKER = """() => {
  const w = new Worker(new URL("/static/frontend/crypto/sm4_worker.js", location.href), {type: "module"});
  const waiting = new Map();
  let seq = 0;
  w.onmessage = ({data}) => { waiting.get(data.id)(data); waiting.delete(data.id); };
  window.sm4w = (msg) => new Promise((resolve) => { const id = seq++; waiting.set(id, resolve); w.postMessage({...msg, id}); });
}"""


@pytest.fixture(scope="module")
def worker_page(crypto_page):
    crypto_page.evaluate(WORKER)
    return crypto_page


def test_the_module_gives_gbt_32907s_sm4_example(worker_page):
    """GB/T 32907-2016 Appendix A: one block (A.1), and the same block encrypted 1,000,000 times
    under the same key (A.2), through OpenSSL's ossl_sm4_encrypt in the module."""
    got = worker_page.evaluate("""async () => {
      const k = kb.b64.fromHex("0123456789abcdeffedcba9876543210");
      const one = await sm4w({op: "block", key: k, data: k});
      const million = await sm4w({op: "block", key: k, data: k, times: 1000000});
      return [one.engine, kb.b64.toHex(one.out), kb.b64.toHex(million.out)];
    }""")
    assert got == [WASM, "681edf34d206965e86b3e94f536e4246", "595298c7c6fd271f0402f804c33d3f66"]


def test_the_modules_sm4_gcm_is_openssls_as_cryptography_computes_it(worker_page):
    """A fixed vector (cryptography's output: RFC 8998 gives none for GCM) and random keys, nonces,
    sizes and AADs, each against crypto.gm.SM4GCM; and the module opens what Python sealed."""
    fixed = ("0123456789abcdeffedcba9876543210", "000000000000000000000000", b"hello world, this is sm4 gcm",
             b"aad", "db76006821b53f423d094a456f5329a4d2057b26ab7d8a66bb9ac4782ef0035d2af54bee4329985c69d98487")
    key, nonce, pt, aad, expected = fixed
    assert gm.SM4GCM(bytes.fromhex(key)).encrypt(bytes.fromhex(nonce), pt, aad).hex() == expected
    cases = [(bytes.fromhex(key), bytes.fromhex(nonce), pt, aad)]
    for n, a in ((0, 0), (1, 0), (15, 1), (16, 16), (17, 17), (1000, 100), (65_539, 5)):
        cases.append((os.urandom(16), os.urandom(12), os.urandom(n), os.urandom(a) if a else None))
    got = worker_page.evaluate("""async (cases) => {
      const out = [];
      for (const [k, n, p, a] of cases) {
        const r = await sm4w({op: "seal", engine: "wasm", key: t.bytes(k), nonce: t.bytes(n), data: t.bytes(p),
                              aad: a === null ? undefined : t.bytes(a)});
        out.push([r.engine, t.b64(r.out)]);
      }
      return out;
    }""", [[b64(k), b64(n), b64(p), None if a is None else b64(a)] for k, n, p, a in cases])
    assert got[0] == [WASM, b64(bytes.fromhex(expected))]
    assert got == [[WASM, b64(gm.SM4GCM(k).encrypt(n, p, a))] for k, n, p, a in cases]
    k, n, p, a = cases[-2]
    opened = worker_page.evaluate("""async ([k, n, c, a]) => t.b64((await sm4w({op: "open", engine: "wasm",
      key: t.bytes(k), nonce: t.bytes(n), data: t.bytes(c), aad: t.bytes(a)})).out)""",
                                  [b64(k), b64(n), b64(gm.SM4GCM(k).encrypt(n, p, a)), b64(a)])
    assert unb64(opened) == p


def test_the_module_and_sm_crypto_v2_give_identical_bytes(worker_page):
    """Random chunks of 0, 1, 15, 16, 17, 255, 1000, 4097 and 1 MiB − 5 bytes, with no AAD, an empty
    one and AADs of several lengths: the module (in the worker), sm-crypto-v2 in the same worker
    and sm.js on the page give one ciphertext and tag, and each opens the others'."""
    got = worker_page.evaluate("""async () => {
      const rnd = (n) => crypto.getRandomValues(new Uint8Array(n));
      const big = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i += 65536) b.set(rnd(Math.min(65536, n - i)), i); return b; };
      const sizes = [0, 1, 15, 16, 17, 255, 1000, 4097, (1 << 20) - 5], aads = [undefined, 0, 1, 13, 16, 100];
      const out = [];
      for (const [i, n] of sizes.entries()) {
        const key = rnd(16), nonce = rnd(12), data = big(n);
        const a = aads[i % aads.length], aad = a === undefined ? undefined : rnd(a);
        const w = await sm4w({op: "seal", engine: "wasm", key, nonce, data, aad});
        const j = await sm4w({op: "seal", engine: "js", key, nonce, data, aad});
        const page = kb.sm.sm4GcmEncrypt(key, nonce, data, aad);
        const wOpensJs = await sm4w({op: "open", engine: "wasm", key, nonce, data: j.out, aad});
        const jsOpensW = kb.sm.sm4GcmDecrypt(key, nonce, w.out, aad);
        out.push({n, engines: [w.engine, j.engine], same: kb.b64.encode(w.out) === kb.b64.encode(j.out)
                  && kb.b64.encode(w.out) === kb.b64.encode(page), length: w.out.length,
                  opened: kb.b64.encode(wOpensJs.out) === kb.b64.encode(data) && kb.b64.encode(jsOpensW) === kb.b64.encode(data)});
      }
      return out;
    }""")
    assert [c["n"] for c in got] == [0, 1, 15, 16, 17, 255, 1000, 4097, 2**20 - 5]
    for case in got:
        assert case == {"n": case["n"], "engines": [WASM, JS], "same": True, "length": case["n"] + 16,
                        "opened": True}, case


def test_a_tampered_tag_ciphertext_nonce_or_aad_is_refused_by_the_module(worker_page):
    key, nonce, data, aad = os.urandom(16), os.urandom(12), os.urandom(1000), b"tender-key/sm2-v1"
    sealed = gm.SM4GCM(key).encrypt(nonce, data, aad)

    def flip(b: bytes, i: int) -> bytes:
        out = bytearray(b)
        out[i] ^= 1
        return bytes(out)

    cases = {"good": (nonce, sealed, aad), "tag": (nonce, flip(sealed, len(sealed) - 1), aad),
             "ciphertext": (nonce, flip(sealed, 3), aad), "nonce": (flip(nonce, 0), sealed, aad),
             "aad": (nonce, sealed, flip(aad, 0)), "no aad": (nonce, sealed, b""),
             "truncated": (nonce, sealed[:-1], aad), "short": (nonce, sealed[:15], aad),
             "empty": (nonce, b"", aad)}
    got = worker_page.evaluate("""async ({key, cases}) => {
      const out = {};
      for (const [name, [n, c, a]] of Object.entries(cases)) {
        const r = await sm4w({op: "open", engine: "wasm", key: t.bytes(key), nonce: t.bytes(n), data: t.bytes(c), aad: t.bytes(a)});
        out[name] = r.error ? r.name : t.b64(r.out);
      }
      return out;
    }""", {"key": b64(key), "cases": {k: [b64(x) for x in v] for k, v in cases.items()}})
    assert got.pop("good") == b64(data)
    assert got == {name: "Sm4GcmWasmError" for name in cases if name != "good"}


POOL_SEAL = """async ({point, count}) => {
  const g = kb.gm, data = crypto.getRandomValues(new Uint8Array(6 * 4096 + 77));
  const before = {...g.gmWorkers.used};
  g.gmWorkers.count = count;
  try {
    const env = await g.sealGmToBytes(data, {tenderId: "T", lotId: "1", bidderId: "B", chunkSize: 4096,
                                             recipients: [{role: "bidder", publicKey: t.bytes(point)}]});
    const used = {};
    for (const [k, v] of Object.entries(g.gmWorkers.used)) if (v !== (before[k] || 0)) used[k] = v - (before[k] || 0);
    return {env: t.b64(env), plaintext: t.b64(data), used};
  } finally { g.gmWorkers.count = null; }
}"""


def _opens_in_python(got: dict, key: gm.SM2PrivateKey) -> None:
    env = unb64(got["env"])
    fk = envelope.unwrap_file_key(envelope.read_header(io.BytesIO(env)), key)
    assert envelope.open_bytes(env, file_key=fk) == unb64(got["plaintext"])


def test_the_worker_pool_seals_with_the_module_and_the_platform_opens_it(worker_page):
    """GmSealer on a pool of 2 SM4 workers: every one of the 7 chunks was encrypted by the module
    (none by sm-crypto-v2), and crypto.envelope opens the envelope to the plaintext."""
    key = gm.generate_sm2_key()
    got = worker_page.evaluate(POOL_SEAL, {"point": b64(key.public.point), "count": 2})
    assert got["used"] == {WASM: 7}
    _opens_in_python(got, key)


def test_without_the_module_the_workers_fall_back_to_sm_crypto_v2(browser, platform_server):
    """The .wasm cannot be fetched: the pool's workers seal with sm-crypto-v2 (every chunk says so),
    the envelope opens in Python, and the page has no error."""
    context = browser.new_context()
    blocked = []
    context.route("**/sm4gcm.wasm", lambda route: (blocked.append(route.request.url), route.abort()))
    try:
        page = open_crypto_page(context.new_page(), platform_server)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        key = gm.generate_sm2_key()
        got = page.evaluate(POOL_SEAL, {"point": b64(key.public.point), "count": 2})
        assert blocked, "the module was never asked for"
        assert got["used"] == {JS: 7}
        _opens_in_python(got, key)
        assert errors == []
    finally:
        context.close()
