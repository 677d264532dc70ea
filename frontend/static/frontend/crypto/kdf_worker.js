// The key file's PBKDF2-HMAC-SM3 (RFC 8018) in WebAssembly: a dedicated Worker that sm.js's
// pbkdf2Sm3 starts for one derivation and ends after it (docs/browser-crypto.md, "The 国密 suite in
// the browser"). The HMAC-SM3 is hash-wasm's (its SM3 and HMAC builds, vendored byte for byte);
// this file only runs RFC 8018's loop over it, as hash-wasm's own pbkdf2() does, so that it can
// say how far it got.
//   {password, salt, iterations, length}  → {progress: done} ... {key: Uint8Array(length)}
//                                           or {error: message} (nothing derived)
// sm.js checks the arguments before it posts them; any error here (the modules did not load, the
// WebAssembly did not compile) makes it derive the same bytes in JavaScript instead.
//
// hash-wasm compiles its WebAssembly at run time, which a Content-Security-Policy allows only with
// 'wasm-unsafe-eval': the platform sends that for this script and seal_worker.js alone
// (config/csp.py), and a Worker runs under its own script's policy, so no page may compile
// WebAssembly.
import "../../vendor/hash-wasm-4.13.0/dist/sm3.umd.min.js"; // sets globalThis.hashwasm.createSM3 (UMD)
import "../../vendor/hash-wasm-4.13.0/dist/hmac.umd.min.js"; // adds createHMAC to the same object

const SM3_SIZE = 32;
const PROGRESS_MS = 100;

async function pbkdf2(password, salt, iterations, length) {
  const lib = globalThis.hashwasm;
  if (!lib?.createSM3 || !lib?.createHMAC) throw new Error("the SM3 module did not load");
  // createHMAC hashes a key longer than SM3's block and zero-pads a shorter one (RFC 2104).
  const mac = await lib.createHMAC(lib.createSM3(), password);
  const blocks = Math.ceil(length / SM3_SIZE);
  const total = blocks * iterations;
  const out = new Uint8Array(blocks * SM3_SIZE);
  const first = new Uint8Array(salt.length + 4);
  first.set(salt);
  let next = performance.now() + PROGRESS_MS;
  for (let i = 1; i <= blocks; i++) {
    new DataView(first.buffer).setUint32(salt.length, i);
    mac.init();
    mac.update(first);
    let u = mac.digest("binary");
    const t = u.slice();
    for (let n = 1; n < iterations; n++) {
      mac.init();
      mac.update(u);
      u = mac.digest("binary");
      for (let b = 0; b < SM3_SIZE; b++) t[b] ^= u[b];
      if (!(n & 1023) && performance.now() >= next) {
        postMessage({ progress: (i - 1) * iterations + n, total });
        next = performance.now() + PROGRESS_MS;
      }
    }
    out.set(t, (i - 1) * SM3_SIZE);
    t.fill(0);
    u.fill(0);
  }
  const key = out.slice(0, length);
  out.fill(0);
  return key;
}

self.onmessage = async ({ data }) => {
  const { password, salt, iterations, length } = data;
  try {
    const key = await pbkdf2(password, salt, iterations, length);
    postMessage({ key }, [key.buffer]);
  } catch (e) {
    postMessage({ error: String(e?.message || e) });
  } finally {
    password.fill(0);
  }
};
