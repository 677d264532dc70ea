// The page's side of hash_worker.js: SHA-256 of Files and of a byte stream, computed in a Worker
// so the page's thread never blocks on hashing, in constant memory.
//
//   const hasher = new Hasher();
//   const hexes = await hasher.files([file1, file2], (bytes) => ...);   // each file's SHA-256
//   const s = hasher.stream();
//   await s.update(blob);    // a Blob (bytes are wrapped in one); resolves once the backlog is small
//   const hex = await s.digest();
//   hasher.close();
//
// The Worker reads each Blob itself (posting a Blob copies no bytes), and `update` waits while
// more than `backlog` bytes are queued there: a producer faster than SHA-256 is held back instead
// of filling memory.

let counter = 0;

export class Hasher {
  constructor() {
    this.worker = new Worker(new URL("./hash_worker.js", import.meta.url), { type: "module" });
    this.handlers = new Map();
    this.worker.onmessage = ({ data }) => this.handlers.get(data.id)?.(data);
    this.worker.onerror = (ev) => {
      ev.preventDefault?.();
      for (const h of this.handlers.values()) h({ error: ev.message || "the hashing worker failed" });
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

  /** An incremental hash of bytes handed over in order (see the module's comment). */
  stream({ backlog = 16 << 20 } = {}) {
    const id = ++counter;
    const worker = this.worker, handlers = this.handlers;
    let sent = 0, hashed = 0, failed = null, waiting = [], ended = null;
    const wake = () => {
      const still = [];
      for (const w of waiting) {
        if (failed) w.reject(failed);
        else if (sent - hashed <= w.limit) w.resolve();
        else still.push(w);
      }
      waiting = still;
    };
    this.handlers.set(id, (msg) => {
      if (msg.error) failed = new Error(msg.error);
      else hashed = msg.hashed;
      if (msg.digest !== undefined || failed) {
        this.handlers.delete(id);
        if (ended) failed ? ended.reject(failed) : ended.resolve(msg.digest);
      }
      wake();
    });
    worker.postMessage({ id, op: "begin" });
    return {
      get hashed() { return hashed; },
      update(data) {
        if (failed) return Promise.reject(failed);
        const blob = data instanceof Blob ? data : new Blob([data]);
        sent += blob.size;
        worker.postMessage({ id, op: "update", blob });
        return new Promise((resolve, reject) => { waiting.push({ limit: backlog, resolve, reject }); wake(); });
      },
      /** Drop this hash (the upload starts again): pending updates reject, the Worker forgets it. */
      abandon() {
        handlers.delete(id);
        failed = failed || new Error("abandoned");
        wake();
        worker.postMessage({ id, op: "abandon" });
      },
      digest() {
        if (failed) return Promise.reject(failed);
        return new Promise((resolve, reject) => {
          ended = { resolve, reject };
          worker.postMessage({ id, op: "end" });
        });
      },
    };
  }

  close() {
    this.worker.terminate();
  }
}
