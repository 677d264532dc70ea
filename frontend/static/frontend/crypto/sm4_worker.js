// One of GmSealer's SM4 workers (envelope_gm.js, "SmPool"): gm-v1 chunks are independent, so they
// are encrypted on several threads at once. {id, key, index, final, plaintext: ArrayBuffer} →
// {id, ct: ArrayBuffer} (ciphertext || tag; both buffers are transferred, not copied), or
// {id, error}.
import { sm4GcmEncrypt } from "./sm.js";
import { chunkNonce } from "./stream.js";

self.onmessage = ({ data: { id, key, index, final, plaintext } }) => {
  try {
    const ct = sm4GcmEncrypt(key, chunkNonce(index, final), new Uint8Array(plaintext));
    self.postMessage({ id, ct: ct.buffer }, [ct.buffer]);
  } catch (error) {
    self.postMessage({ id, error: String(error?.message || error) });
  }
};
