// One of GmSealer's SM4 workers (gm_sealer.js, "SmPool"): gm-v1 chunks are independent, so they
// are encrypted on several threads at once. SM4-GCM is OpenSSL's, in WebAssembly (sm4_wasm.js),
// which this Worker's script alone may compile (config/csp.py); if the module does not load, the
// worker uses sm-crypto-v2 (sm.js, imported only then) and says so in every reply (`engine`).
//
// {id, key, index, final, plaintext: ArrayBuffer} → {id, ct: ArrayBuffer, engine} (ciphertext ||
// tag; both buffers are transferred, not copied), or {id, error}.
// For the tests and the benchmark, also {id, op: "seal" | "open", key, nonce, data, aad?, engine?}
// → {id, out, engine} or {id, error, name}: `engine` "wasm" or "js" asks for one (an error if the
// module did not load), none for the default; and {id, op: "block", key, data, times?} → {id, out}:
// the bare SM4 block of the module, for GB/T 32907's own example; {id, op: "time", bytes, times,
// engine?} → {id, seconds, engine}: `times` encryptions of one buffer (bench/bench_gm_browser.py).
import { chunkNonce } from "./stream.js";
import { ENGINE, loadSm4GcmWasm } from "./sm4_wasm.js";

const wasm = loadSm4GcmWasm().catch((error) => {
  console.warn("SM4 worker: OpenSSL's SM4-GCM in WebAssembly did not load, using sm-crypto-v2:", error);
  return null;
});
let js = null;
const sm = () => (js ??= import("./sm.js"));

/** The engine for a request: {name, seal(key, nonce, pt, aad), open(key, nonce, ct, aad)}. */
async function engine(wanted) {
  const w = wanted === "js" ? null : await wasm;
  if (w) return { name: ENGINE, seal: (...a) => w.seal(...a), open: (...a) => w.open(...a) };
  if (wanted === "wasm") throw new Error("the SM4 WebAssembly module did not load");
  const s = await sm();
  return { name: s.LIBRARY, seal: s.sm4GcmEncrypt, open: s.sm4GcmDecrypt };
}

self.onmessage = async ({ data: msg }) => {
  const { id } = msg;
  try {
    const e = await engine(msg.engine);
    if (msg.op === undefined) {
      const ct = e.seal(msg.key, chunkNonce(msg.index, msg.final), new Uint8Array(msg.plaintext));
      self.postMessage({ id, ct: ct.buffer, engine: e.name }, [ct.buffer]);
      return;
    }
    if (msg.op === "time") {
      const key = new Uint8Array(16), nonce = new Uint8Array(12), data = new Uint8Array(msg.bytes);
      const t0 = performance.now();
      for (let i = 0; i < msg.times; i++) e.seal(key, nonce, data);
      self.postMessage({ id, seconds: (performance.now() - t0) / 1000, engine: e.name });
      return;
    }
    let out;
    if (msg.op === "block" && e.name === ENGINE) out = (await wasm).block(msg.key, msg.data, msg.times);
    else if (msg.op === "seal" || msg.op === "open") out = Uint8Array.from(e[msg.op](msg.key, msg.nonce, msg.data, msg.aad));
    else throw new TypeError("unknown op");
    self.postMessage({ id, out, engine: e.name });
  } catch (error) {
    self.postMessage({ id, error: String(error?.message || error), name: error?.name });
  }
};
