// The one boundary between the platform's code and the 国密 library (docs/browser-crypto.md,
// "The 国密 suite in the browser"). WebCrypto has no SM2, SM3 or SM4, so they come from
// sm-crypto-v2 (npm, MIT; vendored byte for byte under vendor/sm-crypto-v2-1.15.1/, its UMD build,
// which bundles the @noble/curves Weierstrass code its SM2 runs on and @noble/ciphers' GHASH).
// Nothing outside this module touches the library, and nothing here computes on the curve: this
// module only converts encodings (bytes ⇄ the library's hex strings, C1 with its 0x04 prefix) and
// composes HKDF (RFC 5869) and PBKDF2 (RFC 8018) from the library's HMAC-SM3. PBKDF2 runs first
// in kdf_worker.js, on hash-wasm's HMAC-SM3 in WebAssembly (that Worker imports hash-wasm, as
// seal_worker.js does; it is started here and nowhere else), and here only if that Worker fails.
//
// Encodings are crypto/gm.py's (docs/envelope.md, Appendix D): an SM2 public key is the 65-byte
// uncompressed point; a private key its 32-byte scalar; an SM2 ciphertext C1 || C3 || C2
// (GB/T 32918.4-2016 order); SM4-GCM (RFC 8998's parameters) a 16-byte key, a 12-byte nonce, AAD
// only in the key file (tender-key/sm2-v1), the 16-byte tag appended.
//
// The UMD build, imported as a module, finds no AMD `define` and no CommonJS `exports` and sets
// `globalThis.SmCryptoV2` (its one external, @noble/hashes/hkdf, backs only its own `hkdf`, which
// this module does not call).
import "../../vendor/sm-crypto-v2-1.15.1/dist/index.umd.js";
import { asBytes, concat, fromHex, toHex } from "./b64.js";

const lib = globalThis.SmCryptoV2;
if (!lib?.sm2 || !lib?.sm3 || !lib?.sm4) throw new Error("the SM library did not load");

export const LIBRARY = "sm-crypto-v2@1.15.1";
export const POINT_SIZE = 65;
export const SCALAR_SIZE = 32;
export const SM3_SIZE = 32;
export const SM4_KEY_SIZE = 16;
export const GCM_NONCE_SIZE = 12;
export const TAG_SIZE = 16;
const C1C3C2 = 1; // the library's cipherMode for GB/T 32918.4-2016's order
const BLOCK = 64; // SM3's block, for HMAC

/** Any failure of an SM2 key, ciphertext or SM4-GCM tag (never says which). */
export class SmError extends Error {
  constructor(message = "the SM operation failed") {
    super(message);
    this.name = "SmError";
  }
}

// --- SM3 --------------------------------------------------------------------------------------

export function sm3(data) {
  return fromHex(lib.sm3(asBytes(data)));
}

export function hmacSm3(key, message) {
  key = asBytes(key);
  if (!key.length) key = new Uint8Array(SM3_SIZE); // RFC 2104 zero-pads; the library refuses an empty key
  if (key.length > BLOCK) key = sm3(key);
  return fromHex(lib.sm3(asBytes(message), { key }));
}

/** HKDF (RFC 5869) with HMAC-SM3: Extract(salt, ikm), then Expand(info, length). */
export function hkdfSm3(ikm, { salt, info, length = 32 }) {
  if (!Number.isInteger(length) || length < 1 || length > 255 * SM3_SIZE) throw new RangeError("HKDF length");
  const prk = hmacSm3(salt ?? new Uint8Array(SM3_SIZE), ikm);
  const out = new Uint8Array(length);
  let t = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    t = hmacSm3(prk, concat(t, asBytes(info ?? new Uint8Array(0)), Uint8Array.of(i)));
    out.set(t.subarray(0, Math.min(SM3_SIZE, length - at)), at);
    at += SM3_SIZE;
  }
  return out;
}

/**
 * PBKDF2 (RFC 8018) with HMAC-SM3, as crypto/gm_keys.py derives the key of a tender-key/sm2-v1
 * file. Returns a Promise of `length` bytes; `onProgress(done, total)` is called as it goes.
 * The work runs in a dedicated Worker (kdf_worker.js: hash-wasm's HMAC-SM3 in WebAssembly, which
 * only that Worker's policy lets compile, config/csp.py), 3.4-6 times the speed of the
 * library's HMAC-SM3 in JavaScript here (docs/browser-crypto.md). Should the Worker not start or
 * its WebAssembly not compile, the same bytes are derived in JavaScript on the page, in slices of
 * about `sliceMs` that yield to the event loop (the page stays responsive; slower, not different).
 * `engine`: "auto" (the Worker, JavaScript if it fails), "worker" (the Worker or an error) or "js";
 * `onEngine(name)` says which one runs ("worker", then "js" if it fell back).
 */
export async function pbkdf2Sm3(password, salt, iterations, length,
  { onProgress, onEngine, sliceMs = 25, engine = "auto" } = {}) {
  password = asBytes(password);
  salt = asBytes(salt);
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError("PBKDF2 iterations");
  if (!Number.isInteger(length) || length < 1 || length > 255 * SM3_SIZE) throw new RangeError("PBKDF2 length");
  if (!["auto", "worker", "js"].includes(engine)) throw new RangeError("PBKDF2 engine");
  if (engine !== "js") {
    try {
      onEngine?.("worker");
      return await pbkdf2Sm3Worker(password, salt, iterations, length, onProgress);
    } catch (e) {
      if (engine === "worker") throw e;
      console.warn("PBKDF2-HMAC-SM3: the WebAssembly Worker failed, deriving in JavaScript:", e);
    }
  }
  onEngine?.("js");
  return pbkdf2Sm3Js(password, salt, iterations, length, { onProgress, sliceMs });
}

const KDF_WORKER_URL = new URL("./kdf_worker.js", import.meta.url);

/** One derivation in a fresh kdf_worker.js (ended after it); rejects if it cannot run there. */
function pbkdf2Sm3Worker(password, salt, iterations, length, onProgress) {
  return new Promise((resolve, reject) => {
    let worker;
    try {
      worker = new Worker(KDF_WORKER_URL, { type: "module" });
    } catch (e) {
      reject(e);
      return;
    }
    const end = (fn, value) => { worker.terminate(); fn(value); };
    worker.onmessage = ({ data }) => {
      if (data.progress !== undefined) onProgress?.(data.progress, data.total);
      else if (data.key instanceof Uint8Array && data.key.length === length) {
        onProgress?.(iterations * Math.ceil(length / SM3_SIZE), iterations * Math.ceil(length / SM3_SIZE));
        end(resolve, data.key);
      } else end(reject, new Error(data.error || "the KDF Worker sent no key"));
    };
    // A module that does not load (or a script error) arrives as an error event, not a message.
    worker.onerror = (ev) => { ev.preventDefault?.(); end(reject, new Error(ev.message || "the KDF Worker did not start")); };
    worker.onmessageerror = () => end(reject, new Error("the KDF Worker's message could not be read"));
    worker.postMessage({ password: password.slice(), salt: salt.slice(), iterations, length });
  });
}

/** The same derivation with the library's HMAC-SM3 in JavaScript, time-sliced. */
async function pbkdf2Sm3Js(password, salt, iterations, length, { onProgress, sliceMs }) {
  // The library's HMAC takes the key as given; one longer than a block is hashed first (RFC 2104).
  const key = password.length ? (password.length > BLOCK ? sm3(password) : password) : new Uint8Array(SM3_SIZE);
  const mac = (message) => hexBytes(lib.sm3(message, { key }));
  const blocks = Math.ceil(length / SM3_SIZE);
  const total = blocks * iterations;
  const out = new Uint8Array(blocks * SM3_SIZE);
  let done = 0;
  for (let i = 1; i <= blocks; i++) {
    let u = mac(concat(salt, Uint8Array.of(i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255)));
    const t = u.slice();
    for (let n = 1; n < iterations;) {
      const until = performance.now() + sliceMs;
      for (; n < iterations && (n & 255 || performance.now() < until); n++) {
        u = mac(u);
        for (let b = 0; b < SM3_SIZE; b++) t[b] ^= u[b];
      }
      done = (i - 1) * iterations + n;
      onProgress?.(done, total);
      if (n < iterations) await yieldToEventLoop();
    }
    out.set(t, (i - 1) * SM3_SIZE);
    t.fill(0);
    u.fill(0);
  }
  onProgress?.(total, total);
  const result = out.slice(0, length);
  out.fill(0);
  return result;
}

const HEX = new Map(Array.from({ length: 256 }, (_, i) => [i.toString(16).padStart(2, "0"), i]));

/** The library's lowercase hex digest as bytes (fromHex's checks are not needed on its output). */
function hexBytes(hex) {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = HEX.get(hex.substr(2 * i, 2));
  return out;
}

// setTimeout(0) is clamped to 4 ms once nested; a message on a channel is the next task at once.
function yieldToEventLoop() {
  if (typeof MessageChannel !== "function") return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
    channel.port2.postMessage(null);
  });
}

// --- SM2 --------------------------------------------------------------------------------------

/** True if `point` is a 65-byte uncompressed point on the SM2 curve. */
export function isSm2Point(point) {
  point = asBytes(point);
  if (point.length !== POINT_SIZE || point[0] !== 4) return false;
  try {
    return lib.sm2.verifyPublicKey(toHex(point)) === true;
  } catch {
    return false;
  }
}

/** SM2 encryption with a fresh random k (the library's, from crypto.getRandomValues): C1C3C2. */
export function sm2Encrypt(point, plaintext) {
  if (!isSm2Point(point)) throw new SmError("not an SM2 public key");
  plaintext = asBytes(plaintext);
  if (plaintext.length < 1 || plaintext.length > 255) throw new RangeError("SM2 encrypts 1 to 255 bytes here");
  const hex = lib.sm2.doEncrypt(plaintext, toHex(point), C1C3C2); // C1 without its 0x04, C3, C2
  const raw = fromHex("04" + hex);
  if (raw.length !== POINT_SIZE + SM3_SIZE + plaintext.length) throw new SmError("unexpected SM2 ciphertext");
  return raw;
}

/** Decrypt a C1C3C2 ciphertext with a 32-byte scalar (C3 checked by the library). */
export function sm2Decrypt(scalar, ciphertext) {
  scalar = asBytes(scalar);
  ciphertext = asBytes(ciphertext);
  if (scalar.length !== SCALAR_SIZE) throw new TypeError("an SM2 private key is a 32-byte scalar");
  if (ciphertext.length <= POINT_SIZE + SM3_SIZE || !isSm2Point(ciphertext.subarray(0, POINT_SIZE))) {
    throw new SmError();
  }
  let plaintext;
  try {
    plaintext = lib.sm2.doDecrypt(toHex(ciphertext.subarray(1)), toHex(scalar), C1C3C2, { output: "array" });
  } catch {
    throw new SmError();
  }
  if (!plaintext?.length) throw new SmError(); // the library's answer to a C3 mismatch
  return Uint8Array.from(plaintext);
}

/** A fresh SM2 key: {scalar, point}. */
export function generateSm2Key() {
  const { privateKey, publicKey } = lib.sm2.generateKeyPairHex();
  return { scalar: fromHex(privateKey), point: fromHex(publicKey) };
}

/** The public point of a scalar (to check a pair). */
export function sm2PublicKey(scalar) {
  return fromHex(lib.sm2.getPublicKeyFromPrivateKey(toHex(asBytes(scalar))));
}

/** SM2 signature with SM3 over Z_A || message, the default user ID (GM/T 0009): r || s. */
export function sm2Sign(scalar, point, message) {
  const hex = lib.sm2.doSignature(asBytes(message), toHex(asBytes(scalar)),
                                  { hash: true, publicKey: toHex(asBytes(point)) });
  return fromHex(hex.padStart(128, "0"));
}

// The SM2 group order n (GB/T 32918.5): r and s of a signature are each in [1, n - 1].
const ORDER = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

/** True if `signature` (r || s, 64 bytes, each in [1, n - 1], as crypto.gm.signature_from_der
 *  requires) is `point`'s SM2 signature with SM3 over Z_A || message, the default user ID. Never throws. */
export function sm2Verify(point, signature, message) {
  try {
    signature = asBytes(signature);
    if (signature.length !== 2 * SCALAR_SIZE || !isSm2Point(point)) return false;
    for (const half of [signature.subarray(0, SCALAR_SIZE), signature.subarray(SCALAR_SIZE)]) {
      const v = BigInt("0x" + toHex(half));
      if (v < 1n || v >= ORDER) return false;
    }
    return lib.sm2.doVerifySignature(asBytes(message), toHex(asBytes(signature)), toHex(asBytes(point)),
                                     { hash: true }) === true;
  } catch {
    return false;
  }
}

// --- SM4-GCM ----------------------------------------------------------------------------------

function checkGcm(key, nonce) {
  if (asBytes(key).length !== SM4_KEY_SIZE) throw new TypeError("an SM4 key is 16 bytes");
  if (asBytes(nonce).length !== GCM_NONCE_SIZE) throw new TypeError("the GCM nonce is 12 bytes");
}

// The library reads a string `associatedData` as hex: the AAD always goes in as bytes.
function aadBytes(aad) {
  return aad === undefined ? undefined : Uint8Array.from(asBytes(aad));
}

/** SM4-GCM encryption (AAD optional, bytes): ciphertext || tag. */
export function sm4GcmEncrypt(key, nonce, plaintext, aad) {
  checkGcm(key, nonce);
  const { output, tag } = lib.sm4.encrypt(asBytes(plaintext), asBytes(key),
                                          { mode: "gcm", iv: asBytes(nonce), output: "array", outputTag: true,
                                            associatedData: aadBytes(aad) });
  const out = new Uint8Array(output.length + TAG_SIZE);
  out.set(output, 0);
  out.set(tag, output.length);
  return out;
}

/** SM4-GCM decryption of ciphertext || tag (AAD optional, bytes); SmError if the tag does not verify. */
export function sm4GcmDecrypt(key, nonce, sealed, aad) {
  checkGcm(key, nonce);
  sealed = asBytes(sealed);
  if (sealed.length < TAG_SIZE) throw new SmError();
  const n = sealed.length - TAG_SIZE;
  try {
    return lib.sm4.decrypt(sealed.subarray(0, n), asBytes(key),
                           { mode: "gcm", iv: asBytes(nonce), tag: sealed.subarray(n), output: "array",
                             associatedData: aadBytes(aad) });
  } catch {
    throw new SmError();
  }
}
