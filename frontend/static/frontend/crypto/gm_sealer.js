// GmSealer: the bytes of a gm-v1 envelope from any offset, with Sealer's interface (envelope.js),
// so the upload pipeline (seal_worker.js) runs it unchanged; and the pool of SM4 workers
// (sm4_worker.js) it encrypts chunks on. The framing, sizes and state are SealerCore's
// (sealer_core.js), shared with Sealer; this module supplies the SM4-GCM chunks. envelope_gm.js
// writes the header and re-exports this.

import { SealerCore, asBlob, checkSameSource } from "./sealer_core.js";
import { chunkNonce } from "./stream.js";
import { FORMAT_GM, PAYLOAD_KEY_SIZE, parseGmHeader } from "./gm_header.js";
import { sm4GcmEncrypt } from "./sm.js";

export { asBlob };

/** Encrypt one chunk (SM4-GCM under the payload key, the STREAM nonce, no AAD). */
export function encryptGmChunk(payloadKey, plaintext, index, final) {
  return sm4GcmEncrypt(payloadKey, chunkNonce(index, final), plaintext);
}

/** How many SM4 workers a GmSealer runs (null: one per core, at most 8; 1 or 0: none, inline);
 *  which engine they use (`engine`: null, OpenSSL's in WebAssembly and sm-crypto-v2 if it does not
 *  load; "js" forces sm-crypto-v2, for the benchmark's comparison); and how many chunks each engine
 *  encrypted in this realm's pools (`used`: "openssl-3.0.20-wasm" or "sm-crypto-v2@1.15.1"). */
export const gmWorkers = { count: null, engine: null, used: {} };
const POOL_MIN_CHUNKS = 4; // fewer chunks than this are encrypted inline (a worker's start costs more)

function poolSize() {
  if (typeof Worker !== "function") return 0;
  const n = gmWorkers.count ?? Math.min(8, globalThis.navigator?.hardwareConcurrency || 1);
  return n > 1 ? n : 0;
}

/** SM4-GCM of chunks on `size` module workers (sm4_worker.js), round robin, buffers transferred. */
class SmPool {
  constructor(key, size) {
    this.key = key;
    this.waiting = new Map();
    this.seq = 0;
    this.workers = [];
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL("./sm4_worker.js", import.meta.url), { type: "module" });
      w.onmessage = ({ data }) => {
        const r = this.waiting.get(data.id);
        this.waiting.delete(data.id);
        if (data.error) {
          r?.reject(new Error(data.error));
          return;
        }
        gmWorkers.used[data.engine] = (gmWorkers.used[data.engine] || 0) + 1;
        r?.resolve(new Uint8Array(data.ct));
      };
      w.onerror = (event) => {
        event.preventDefault?.();
        this.#fail(new Error("an SM4 worker failed"));
      };
      this.workers.push(w);
    }
  }

  #fail(error) {
    for (const r of this.waiting.values()) r.reject(error);
    this.waiting.clear();
  }

  /** Encrypt `plaintext` (its buffer is transferred: pass a copy) as chunk `index`. */
  encrypt(plaintext, index, final) {
    const id = this.seq++;
    const worker = this.workers[id % this.workers.length];
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, key: this.key, index, final, plaintext: plaintext.buffer,
                           engine: gmWorkers.engine ?? undefined }, [plaintext.buffer]);
    });
  }

  close() {
    for (const w of this.workers) w.terminate();
    this.#fail(new Error("the sealer stopped"));
  }
}

// The SM4-GCM suite of SealerCore: with a pool, reads stay in order, each chunk's plaintext copied
// out of the reader's reused buffer before the next read, and the ciphertexts handed out in order;
// inline, the next chunk is read while this one is consumed.
const SM4_GCM_SUITE = Object.freeze({
  async *chunks(payloadKey, reader, { first, count, ahead }) {
    const size = count - first >= POOL_MIN_CHUNKS ? poolSize() : 0;
    let pool = null;
    try {
      pool = size ? new SmPool(payloadKey, size) : null;
    } catch {
      pool = null; // no module workers here: inline
    }
    let chain = Promise.resolve();
    try {
      if (!pool) {
        let read = reader.next();
        for (let i = first; i < count; i++) {
          const { index, plaintext } = await read;
          const ct = encryptGmChunk(payloadKey, plaintext, index, index === count - 1);
          if (i + 1 < count) read = reader.next(); // the next read runs while this chunk is consumed
          yield ct;
        }
        return;
      }
      const pending = [];
      const limit = Math.max(ahead + 1, 2 * pool.workers.length);
      let next = first;
      const launch = () => {
        while (pending.length < limit && next < count) {
          next++;
          // reads stay in order, each copied out of the reader's reused buffer before the next
          chain = chain.then(async () => {
            const { index, plaintext } = await reader.next();
            return { index, copy: plaintext.slice() };
          });
          const p = chain.then(({ index, copy }) => pool.encrypt(copy, index, index === count - 1));
          p.catch(() => {}); // awaited in order below
          pending.push(p);
        }
      };
      for (launch(); pending.length; launch()) yield await pending.shift();
    } finally {
      pool?.close();
      await chain.catch(() => {});
    }
  },
  exportKey: (payloadKey) => payloadKey.slice(), // 16 bytes (WebCrypto has no SM4 key): a copy
});

/**
 * The bytes of one gm-v1 envelope from any offset, as Sealer (envelope.js) gives a v1/v3 one:
 * `header`, `envelopeSize`, `commitment`, `pieces({offset, ahead})`, `toBlob()`, `state()`,
 * `GmSealer.resume(state, source)`. With more than one core the chunks are encrypted on a pool of
 * workers (`gmWorkers`: OpenSSL's SM4-GCM in WebAssembly, sm-crypto-v2 if that fails to load), up
 * to `max(ahead + 1, 2 × workers)` chunks in flight, and handed out in order; otherwise inline in
 * JavaScript (sm-crypto-v2), a chunk read while the one before is consumed.
 */
export class GmSealer extends SealerCore {
  constructor(header, payloadKey, source) {
    super(SM4_GCM_SUITE, header, payloadKey, source);
  }

  static async resume(state, source) {
    const blob = asBlob(source);
    if (state?.format !== FORMAT_GM || !(state.payloadKey instanceof Uint8Array)
        || state.payloadKey.length !== PAYLOAD_KEY_SIZE) throw new TypeError("not a sealer state");
    checkSameSource(state, blob);
    return new GmSealer(await parseGmHeader(state.header), state.payloadKey.slice(), blob);
  }
}
