// The page's side of seal_worker.js: the documents' SHA-256 and the sealed envelope's bytes and
// SHA-256, made in a Worker so that the page's thread never hashes or encrypts, in constant memory.
//
//   const w = new SealingWorker();
//   const hexes = await w.files([file1, file2], (bytes) => ...);  // each document's SHA-256
//   const env = w.envelope(sealer, { from, window });  // the envelope of `sealer` (envelope.js)
//   for await (const { offset, blob } of env.pieces()) { ... send ...; env.ack(offset + blob.size); }
//   env.hashed;  const hex = await env.digest();        // SHA-256 of the whole envelope
//   env.abort();                                       // stop (a pause, a resync)
//   w.close();
//
// The pipeline's hook points: the Worker rebuilds the Sealer from `sealer.state()` and
// `sealer.source` (`Sealer.resume`), so whatever header a sealer wrote and whatever its payload
// cipher, the Worker produces exactly `sealer.pieces()`; a sealer of another kind needs only a
// state() that its resume() accepts.

let counter = 0;

export class SealingWorker {
  constructor() {
    this.worker = new Worker(new URL("./seal_worker.js", import.meta.url), { type: "module" });
    this.handlers = new Map();
    this.worker.onmessage = ({ data }) => this.handlers.get(data.id)?.(data);
    this.worker.onerror = (ev) => {
      ev.preventDefault?.();
      for (const h of this.handlers.values()) h({ error: ev.message || "the sealing worker failed" });
    };
  }

  /** Each file's SHA-256 (hex), in order; `onProgress(bytes)` as the Worker reads them. */
  files(files, onProgress) {
    const id = ++counter;
    return new Promise((resolve, reject) => {
      this.handlers.set(id, (msg) => {
        if (msg.error) { this.handlers.delete(id); reject(new Error(msg.error)); return; }
        onProgress?.(msg.progress);
        if (msg.digests) { this.handlers.delete(id); resolve(msg.digests); }
      });
      this.worker.postMessage({ id, op: "files", files });
    });
  }

  /**
   * The envelope of `sealer` from byte `from` on, as Blobs in order (`pieces()`), at most `window`
   * bytes ahead of the last `ack(upto)`; all of it, from byte 0, is hashed (`hashed`, `digest()`).
   */
  envelope(sealer, { from = 0, window = 16 << 20 } = {}) {
    const id = ++counter;
    const worker = this.worker, handlers = this.handlers;
    const queue = [];
    let hashed = 0, failed = null, digest = null, waiting = [], ended = false, aborted = false;
    const settle = () => {
      const w = waiting;
      waiting = [];
      for (const wake of w) wake();
    };
    const wait = () => new Promise((r) => { waiting.push(r); });
    handlers.set(id, (msg) => {
      if (msg.error) failed = new Error(msg.error);
      if (msg.piece) queue.push({ offset: msg.offset, blob: msg.piece });
      if (msg.hashed !== undefined) hashed = msg.hashed;
      if (msg.digest !== undefined) { digest = msg.digest; ended = true; }
      if (failed || ended) handlers.delete(id);
      settle();
    });
    worker.postMessage({ id, op: "envelope", state: sealer.state(), source: sealer.source, from, window });
    const next = async () => {
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
        for (let p = await next(); p; p = await next()) yield p;
      },
      ack(upto) { worker.postMessage({ id, op: "ack", upto }); },
      /** Stop the job: `pieces()` ends, `digest()` rejects, the Worker makes nothing more of it. */
      abort() {
        if (!ended && !failed) {
          failed = new Error("abandoned");
          handlers.delete(id);
          worker.postMessage({ id, op: "abort" });
        }
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

  close() {
    this.worker.terminate();
  }
}
