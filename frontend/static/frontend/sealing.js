// The page's side of seal_worker.js: the documents' SHA-256 and the sealed envelope's bytes and
// SHA-256, made in a Worker so that the page's thread never hashes or encrypts, in constant memory.
//
//   const w = new SealingWorker();
//   const hexes = await w.files([file1, file2], (bytes) => ...);  // each document's SHA-256
//   const env = w.envelope(sealer, { from, window });  // the envelope of `sealer` (envelope.js)
//   for await (const { offset, blob } of env.pieces()) { ... send ...; env.ack(offset + blob.size); }
//   env.hashed;  const hex = await env.digest();        // SHA-256 of the whole envelope
//   env.abort();                                       // stop (a pause, a resync)
//   (each envelope job runs in Workers of its own, one per leg of LEG_BYTES: see envelope())
//   w.close();
//
// The pipeline's hook points: the Worker rebuilds the Sealer from `sealer.state()` and
// `sealer.source` (`Sealer.resume`), so whatever header a sealer wrote and whatever its payload
// cipher, the Worker produces exactly `sealer.pieces()`; a sealer of another kind needs only a
// state() that its resume() accepts.

let counter = 0;

/**
 * The envelope's legs (bytes): each leaves its garbage, up to about this much, until its Worker
 * ends. Chosen by measurement (200 MiB, no network, load ~20): 16 MiB legs +39 MiB of renderer,
 * 32 MiB +56 MiB, one Worker for all of it +89 MiB.
 */
export const LEG_BYTES = 16 << 20;
const WORKER_URL = new URL("./seal_worker.js", import.meta.url);
const spawn = (name = "") => new Worker(WORKER_URL, { type: "module", name });

export class SealingWorker {
  constructor() {
    this.live = new Set(); // each running job's stop function
  }

  /**
   * Each file's SHA-256 (hex), in order; `onProgress(bytes)` as the Worker reads them. The Worker
   * is the job's own, ended when it is done.
   */
  files(files, onProgress) {
    const id = ++counter;
    const worker = spawn();
    return new Promise((resolve, reject) => {
      const stop = (err) => {
        worker.terminate();
        this.live.delete(stop);
        if (err) reject(err);
      };
      this.live.add(stop);
      worker.onmessage = ({ data: msg }) => {
        if (msg.id !== id) return;
        if (msg.error) { stop(new Error(msg.error)); return; }
        onProgress?.(msg.progress);
        if (msg.digests) { stop(); resolve(msg.digests); }
      };
      worker.onerror = (ev) => { ev.preventDefault?.(); stop(new Error(ev.message || "the sealing worker failed")); };
      worker.postMessage({ id, op: "files", files });
    });
  }

  /**
   * The envelope of `sealer` from byte `from` on, as Blobs in order (`pieces()`), at most `window`
   * bytes ahead of the last `ack(upto)`; all of it, from byte 0, is hashed (`hashed`, `digest()`).
   *
   * It runs in legs of about `leg` bytes, each in a Worker of its own that is ended after it: a
   * Worker's garbage (WebCrypto's output buffers, which V8 frees only late) goes with it, so the
   * renderer holds at most about one leg of it. The SHA-256 state passes from leg to leg
   * (hash-wasm's save/load); the next leg's Worker is started while the one before runs, so the
   * hand-over waits for no module load.
   */
  envelope(sealer, { from = 0, window = 16 << 20, leg = LEG_BYTES, hashAside = false } = {}) {
    const id = ++counter;
    const state = sealer.state(), source = sealer.source;
    const queue = [];
    let hashed = 0, failed = null, digest = null, waiting = [], ended = false, aborted = false;
    const name = hashAside ? "envelope" : ""; // an "envelope" Worker starts its hashing Worker at once
    let acked = from, posted = from, current = null, next = spawn(name);
    const settle = () => {
      const w = waiting;
      waiting = [];
      for (const wake of w) wake();
    };
    const wait = () => new Promise((r) => { waiting.push(r); });
    const stopWorkers = () => {
      current?.terminate();
      next?.terminate();
      current = next = null;
      this.live.delete(fail);
    };
    const fail = (err) => {
      if (!failed && !ended) failed = err;
      stopWorkers();
      settle();
    };
    const startLeg = (start, hashState) => {
      current?.terminate();
      current = next || spawn(name);
      next = start + leg < sealer.envelopeSize ? spawn(name) : null; // the one after, loading meanwhile
      current.onmessage = ({ data }) => { if (data.id === id) handle(data); };
      current.onerror = (ev) => { ev.preventDefault?.(); fail(new Error(ev.message || "the sealing worker failed")); };
      current.postMessage({ id, op: "envelope", state, source, from, window, start, until: start + leg,
                            hashState, acked, posted, hashAside });
    };
    const handle = (msg) => {
      if (aborted || failed) return;
      if (msg.error) { fail(new Error(msg.error)); return; }
      if (msg.piece) { queue.push({ offset: msg.offset, blob: msg.piece }); posted = msg.offset + msg.piece.size; }
      if (msg.hashed !== undefined) hashed = msg.hashed;
      if (msg.leg !== undefined) startLeg(msg.leg, msg.hashState);
      if (msg.digest !== undefined) { digest = msg.digest; ended = true; stopWorkers(); }
      settle();
    };
    this.live.add(fail);
    startLeg(0, null);
    const next_ = async () => {
      for (;;) {
        if (aborted) return null;
        if (queue.length) return queue.shift();
        if (failed) throw failed;
        if (ended) return null;
        await wait();
      }
    };
    return {
      get hashed() { return hashed; },
      async* pieces() {
        for (let p = await next_(); p; p = await next_()) yield p;
      },
      ack(upto) {
        acked = Math.max(acked, upto);
        current?.postMessage({ id, op: "ack", upto });
      },
      /** Stop the job: `pieces()` ends, `digest()` rejects, its Workers are ended. */
      abort() {
        if (!ended && !failed) failed = new Error("abandoned");
        stopWorkers();
        aborted = true;
        queue.length = 0;
        settle();
      },
      async digest() {
        while (!ended) {
          if (failed) throw failed;
          await wait();
        }
        return digest;
      },
    };
  }

  /** End every job's Workers (a job still running fails with "closed"). */
  close() {
    for (const stop of [...this.live]) stop(new Error("closed"));
  }
}
