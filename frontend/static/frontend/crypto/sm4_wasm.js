// SM4-GCM in WebAssembly: OpenSSL 3.0.20's own SM4 (crypto/sm4/sm4.c) and GCM (crypto/modes/gcm128.c),
// compiled by tools/build_sm4_wasm.py into vendor/openssl-sm4-gcm-3.0.20/sm4gcm.wasm behind a thin
// shim (tools/sm4_wasm/sm4gcm.c: set a key, seal or open one chunk in the module's memory). Only
// the SM4 worker (sm4_worker.js) imports this: compiling WebAssembly is allowed to that Worker's
// script alone (config/csp.py), not to pages. sm.js stays the one boundary with sm-crypto-v2, which
// the worker falls back to when this module does not load. Nothing here computes SM4 or GHASH: it
// copies bytes in and out of the module's memory. The same parameters as sm.js's SM4-GCM (RFC 8998:
// a 16-byte key, a 12-byte nonce, optional AAD, the 16-byte tag appended) and the same bytes.

export const WASM_URL = new URL("../../vendor/openssl-sm4-gcm-3.0.20/sm4gcm.wasm", import.meta.url);
export const ENGINE = "openssl-3.0.20-wasm";
const KEY_SIZE = 16;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
const PAGE = 65536;

/** A tag that does not verify (the only failure of `open` on well-formed input). */
export class Sm4GcmWasmError extends Error {
  constructor(message = "the SM4-GCM tag does not verify") {
    super(message);
    this.name = "Sm4GcmWasmError";
  }
}

const asBytes = (b) => (b instanceof Uint8Array ? b : new Uint8Array(b));

function equal(a, b) {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One instance of the module: one key at a time (set again only when it changes). */
export class Sm4GcmWasm {
  constructor(instance) {
    this.x = instance.exports;
    this.base = this.x.sm4gcm_heap_base();
    this.key = null;
  }

  // Layout from the heap base: the key (16), the nonce (12, at +16), the AAD (at +32), then the
  // data with its tag, 16-byte aligned. The memory grows to fit; views are taken after any growth.
  #layout(aadLength, dataLength) {
    const aad = this.base + 32;
    const data = aad + Math.ceil(aadLength / 16) * 16;
    const need = data + dataLength + TAG_SIZE;
    const have = this.x.memory.buffer.byteLength;
    if (need > have) this.x.memory.grow(Math.ceil((need - have) / PAGE));
    return { aad, data, mem: new Uint8Array(this.x.memory.buffer) };
  }

  #setKey(key, mem) {
    if (key.length !== KEY_SIZE) throw new TypeError("an SM4 key is 16 bytes");
    if (equal(this.key, key)) return;
    mem.set(key, this.base);
    this.x.sm4gcm_set_key(this.base);
    mem.fill(0, this.base, this.base + KEY_SIZE);
    this.key = key.slice();
  }

  #run(fn, key, nonce, input, aad, dataLength) {
    key = asBytes(key);
    nonce = asBytes(nonce);
    aad = aad === undefined ? new Uint8Array(0) : asBytes(aad);
    if (nonce.length !== NONCE_SIZE) throw new TypeError("the GCM nonce is 12 bytes");
    const at = this.#layout(aad.length, input.length);
    this.#setKey(key, at.mem);
    at.mem.set(nonce, this.base + 16);
    at.mem.set(aad, at.aad);
    at.mem.set(input, at.data);
    const ok = fn(this.base + 16, at.aad, aad.length, at.data, dataLength) === 0;
    return { ok, mem: at.mem, data: at.data };
  }

  /** SM4-GCM encryption: ciphertext || tag (a new Uint8Array with its own buffer). */
  seal(key, nonce, plaintext, aad) {
    plaintext = asBytes(plaintext);
    const r = this.#run(this.x.sm4gcm_seal, key, nonce, plaintext, aad, plaintext.length);
    if (!r.ok) throw new RangeError("the chunk is too long for GCM");
    return r.mem.slice(r.data, r.data + plaintext.length + TAG_SIZE);
  }

  /** SM4-GCM decryption of ciphertext || tag: the plaintext, or Sm4GcmWasmError. */
  open(key, nonce, sealed, aad) {
    sealed = asBytes(sealed);
    if (sealed.length < TAG_SIZE) throw new Sm4GcmWasmError();
    const n = sealed.length - TAG_SIZE;
    const r = this.#run(this.x.sm4gcm_open, key, nonce, sealed, aad, n);
    if (!r.ok) throw new Sm4GcmWasmError();
    return r.mem.slice(r.data, r.data + n);
  }

  /** SM4 of one 16-byte block under `key` (OpenSSL's ossl_sm4_encrypt): for the standard's own
   *  example (GB/T 32907 A.1, and A.2's 1,000,000 iterations: `times`); never used to seal. */
  block(key, block, times = 1) {
    block = asBytes(block);
    if (block.length !== 16) throw new TypeError("an SM4 block is 16 bytes");
    const at = this.#layout(0, 16);
    this.#setKey(asBytes(key), at.mem);
    at.mem.set(block, at.data);
    for (let i = 0; i < times; i++) this.x.sm4gcm_block(at.data);
    return at.mem.slice(at.data, at.data + 16);
  }

  /** Forget the key (the module's round keys and GHASH key). */
  clear() {
    this.x.sm4gcm_clear();
    this.key = null;
  }
}

/** Fetch, compile and instantiate the module (a Promise of an Sm4GcmWasm; rejects if any step fails,
 *  for example where the policy does not let this script compile WebAssembly). */
export async function loadSm4GcmWasm(url = WASM_URL) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the SM4 module did not load (${response.status})`);
  const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), {});
  return new Sm4GcmWasm(instance);
}
