// The bid's heavy work, off the page's thread and in constant memory (sealing.js is the page's side):
//
//   {id, op: "files", files: [File|Blob]}            → {id, progress: bytes} ... {id, digests: [hex]}
//   {id, op: "envelope", state, source, from, window,   → {id, piece: Blob, offset} ... (bytes from `from` on)
//    start, until, hashState, acked, posted,             {id, hashed: bytes} after each piece
//    hashAside}
//                                                        {id, digest: hex, size} at the end, or
//                                                        {id, leg: end, hashState} at the leg's end
//   {id, op: "ack", upto}    the page has sent the envelope up to `upto`: that many more may be made
//   {id, op: "abort"}        stop the envelope job (nothing more is posted for it)
//
// "files": each document's SHA-256 (the manifest lists them), read through its byte stream into two
// reused buffers (one being hashed while the next is read) and fed to hash-wasm's incremental
// SHA-256 (WebAssembly; WebCrypto's digest is one-shot).
//
// "envelope": the Sealer is rebuilt here from the page's `sealer.state()` and the package Blob
// (posting a Blob or a CryptoKey copies no bytes of the bid), and its pieces (envelope.js,
// `Sealer.pieces`: the file read into one reused chunk buffer, a few chunks encrypted ahead) are
// hashed as they come, from byte 0: the SHA-256 of the whole envelope. The pieces at or after
// `from` (what the server does not hold yet) become Blobs — one copy, into the browser's blob store —
// posted to the page, which sends them. At most `window` bytes are posted ahead of the page's last
// `ack`: a producer faster than the network waits instead of filling the blob store.
//
// Memory: the plaintext buffers are reused; WebCrypto returns each ciphertext chunk in a new
// ArrayBuffer, garbage once it is hashed and copied into its Blob, which the collector frees (a
// timer turn every few chunks gives it the chance). hash-wasm copies its input into its own
// WebAssembly memory 16 KiB at a time (a few hundred KiB per hash, allocated once). Errors come
// back as {id, error: message}.
//
// hash-wasm compiles its WebAssembly at run time, which a Content-Security-Policy allows only with
// 'wasm-unsafe-eval': the platform sends that for this script alone (config/csp.py), and a Worker
// runs under its own script's policy, so no page may compile WebAssembly.
import "../vendor/hash-wasm-4.13.0/dist/sha256.umd.min.js"; // sets globalThis.hashwasm (UMD)
import { Sealer } from "./crypto/envelope.js";

const READ = 1 << 20;
const PROGRESS_MS = 100;
const jobs = new Map(); // envelope jobs: id → {acked, posted, aborted, wake}

/** A fresh incremental SHA-256 ({update(bytes), digest("hex")}), in WebAssembly. */
async function sha256() {
  const lib = globalThis.hashwasm;
  if (!lib?.createSHA256) throw new Error("the SHA-256 module did not load");
  const hash = await lib.createSHA256(); // the compiled module is cached: later ones are cheap
  hash.init();
  return hash;
}

/**
 * Feed all of `blob` to `hash`; `onBytes(n)` after each piece. Read in segments of `SEGMENT`
 * bytes, each through its own byte stream (a BYOB reader) into two reused buffers: the next read
 * is asked for before the one just read is hashed, so reading and hashing overlap and nothing is
 * allocated per piece. A read that brings nothing for `STALL_MS` is given up and the rest of its
 * segment read slice by slice: reading a 1 GiB File through one BYOB reader stalled in Chromium
 * 156 at about 960 MiB, twice, with no error and no more data; 1 MiB slices never stalled, but
 * leave a buffer of garbage each (+160 MiB of renderer for 1 GiB), so they are only the way out.
 */
const SEGMENT = 64 << 20;
const STALL_MS = 10_000;
const spare = [new ArrayBuffer(READ), new ArrayBuffer(READ)]; // the read buffers not lent out

function timedRead(reader) {
  let timer;
  const buffer = spare.pop() || new ArrayBuffer(READ);
  const stalled = new Promise((r) => { timer = setTimeout(() => r(null), STALL_MS); });
  return Promise.race([reader.read(new Uint8Array(buffer)), stalled]).finally(() => clearTimeout(timer));
}

async function feed(hash, blob, onBytes) {
  for (let start = 0; start < blob.size; start += SEGMENT) {
    const end = Math.min(start + SEGMENT, blob.size);
    let at = start;
    let reader = null;
    try {
      reader = blob.slice(start, end).stream().getReader({ mode: "byob" });
    } catch {
      reader = null; // no byte stream in this browser: slices
    }
    let pending = reader ? timedRead(reader) : null;
    while (pending) {
      const got = await pending;
      pending = null;
      if (got === null) { // stalled: its buffer went with the read (a new one is made), and slices
        reader.cancel().catch(() => {});
        break;
      }
      if (got.done) {
        if (got.value) spare.push(got.value.buffer); // the same memory, handed back
        break;
      }
      at += got.value.byteLength;
      if (at < end) pending = timedRead(reader); // read the next while this one is hashed
      hash.update(got.value);
      spare.push(got.value.buffer);
      onBytes?.(got.value.byteLength);
    }
    if (reader && at >= end) reader.cancel().catch(() => {}); // its segment is read: let the stream go
    for (let n = 0; at < end; n++) {
      const piece = new Uint8Array(await blob.slice(at, Math.min(at + READ, end)).arrayBuffer());
      if (!piece.length) break;
      hash.update(piece);
      at += piece.length;
      onBytes?.(piece.length);
      if (n % IDLE_EVERY === IDLE_EVERY - 1) await idle();
    }
    if (at !== end) throw new Error("the file changed while it was being read");
  }
}

async function hashFiles(id, files) {
  let done = 0, told = 0;
  const digests = [];
  for (const file of files) {
    const hash = await sha256();
    await feed(hash, file, (n) => {
      done += n;
      if (performance.now() - told >= PROGRESS_MS) {
        told = performance.now();
        postMessage({ id, progress: done });
      }
    });
    digests.push(hash.digest("hex"));
  }
  postMessage({ id, progress: done, digests });
}

// A timer's turn of the Worker's event loop every few chunks: the collector's tasks run in such
// gaps, and WebCrypto's output buffers (a new one per chunk) are only freed by it. (Detaching them
// with transfer(0) frees nothing: the engine then no longer counts them, the collector runs less
// and the renderer grows with the bid — measured again with hash-wasm: +221 MiB for 200 MiB.)
// V8 collects them only once ~64 MB more is held outside its heap, so a long job's garbage alone
// took the renderer to +80-90 MiB; the page therefore runs the envelope in legs (`until`), each in
// a Worker of its own that is ended after it (sealing.js): ending a Worker frees all its garbage.
const IDLE_EVERY = 4;
const idle = () => new Promise((r) => setTimeout(r, 0));

/**
 * With `hashAside`, the envelope's SHA-256 runs in a Worker of this leg's own (this script again,
 * named "hasher"; an envelope leg's Worker named "envelope" starts it when it loads, so it is ready
 * when the leg begins), beside the encryption instead of between its chunks: each ciphertext chunk
 * is first copied into its Blob (the part the page sends), then its buffer is transferred there (no
 * copy) and hashed, so this thread only reads, encrypts and makes Blobs. It may run at most
 * HASH_AHEAD bytes ahead of the hasher. The job ends the hasher, and with it the transferred
 * buffers' garbage. On the 2-core benchmark machine it was slower than hashing here in each of
 * seven alternating pairs (by 0.2-1.1 s for 200 MiB, docs/browser-crypto.md): every core was busy
 * already, and it adds a thread, a message per chunk and two isolates (+6 to +15 MiB of renderer);
 * so it is off by default (uploader.js DEFAULTS), for machines with cores to spare.
 *
 *   {op: "hash", bytes, end}  (bytes' buffer transferred) → {hashed: end}
 *   {op: "hash-init", hashState|null} → {loaded}   {op: "hash-save"} → {hashState}
 *   {op: "hash-digest"} → {digest}
 */
const HASH_AHEAD = 8 << 20;
const startHasher = () => new Worker(new URL(import.meta.url), { type: "module", name: "hasher" });
let spareHasher = self.name === "envelope" ? startHasher() : null; // the first job's, loading already

/** An envelope job's hashing Worker (ended by `close()`), its SHA-256 from `hashState` on, or fresh. */
function hashing(hashState, start) {
  const hasher = spareHasher || startHasher();
  spareHasher = null;
  let hashed = start, failed = null, wait = null, reply = null;
  const wake = () => { const w = wait; wait = null; w?.(); };
  const fail = (err) => { failed ||= err; reply?.reject(failed); reply = null; wake(); };
  hasher.onmessage = ({ data }) => {
    if (data.error) fail(new Error(data.error));
    else if (data.hashed !== undefined) hashed = data.hashed;
    else { reply?.resolve(data); reply = null; }
    wake();
  };
  hasher.onerror = (ev) => { ev.preventDefault?.(); fail(new Error(ev.message || "the hashing worker failed")); };
  const ask = (msg) => new Promise((resolve, reject) => {
    if (failed) { reject(failed); return; }
    reply = { resolve, reject };
    hasher.postMessage(msg);
  });
  const loaded = ask({ op: "hash-init", hashState });
  return {
    get hashed() { return hashed; },
    loaded,
    close: () => hasher.terminate(),
    /** Hand `bytes` (its buffer is taken) over, the envelope's bytes up to `end`. */
    async update(bytes, end) {
      while (!failed && end - bytes.length - hashed > HASH_AHEAD) await new Promise((r) => { wait = r; });
      if (failed) throw failed;
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      hasher.postMessage({ op: "hash", bytes: own, end }, [own.buffer]);
    },
    save: () => ask({ op: "hash-save" }).then((m) => m.hashState),
    digest: () => ask({ op: "hash-digest" }).then((m) => m.digest),
  };
}

/** The same, hashing on this thread between the chunks (`hashAside: false`, or no nested Workers). */
function hashingHere(hashState, start) {
  const loaded = sha256().then((h) => { if (hashState) h.load(hashState); return h; });
  let hashed = start;
  return {
    get hashed() { return hashed; },
    loaded,
    close() {},
    async update(bytes, end) { (await loaded).update(bytes); hashed = end; },
    save: async () => (await loaded).save(),
    digest: async () => (await loaded).digest("hex"),
  };
}

// The hasher's side: its messages are handled in order, each after the one before.
let hashJob = null, hashQueue = Promise.resolve();
function hasherMessage(data) {
  hashQueue = hashQueue.then(async () => {
    if (data.op === "hash-init") {
      hashJob = await sha256();
      if (data.hashState) hashJob.load(data.hashState);
      postMessage({ loaded: true });
    }
    else if (data.op === "hash") { hashJob.update(data.bytes); postMessage({ hashed: data.end }); }
    else if (data.op === "hash-save") postMessage({ hashState: hashJob.save() });
    else if (data.op === "hash-digest") postMessage({ digest: hashJob.digest("hex") });
  }).catch((err) => postMessage({ error: String(err?.message || err) }));
}

/**
 * One leg of the envelope job: the pieces from byte `start` (0, or where the leg before ended,
 * with its SHA-256 state `hashState` from hash-wasm's save()) until the first piece end at or
 * past `until`; then {id, leg: end, hashState} (the next leg's start and state), or at the end of
 * the envelope its digest. `acked`/`posted`: what the page had acknowledged and been given.
 */
async function envelope(id, { state, source, from, window, start = 0, until = Infinity, hashState = null,
                              acked = from, posted = from, hashAside = false }) {
  const job = { acked: Math.max(from, acked), posted: Math.max(from, posted), aborted: false, wake: null };
  jobs.set(id, job);
  let hash = null;
  try {
    if (!hashState && start !== 0) throw new Error("a leg after the first needs the SHA-256 state of the ones before");
    const sealer = await Sealer.resume(state, source);
    hash = hashAside && typeof Worker === "function" ? hashing(hashState, start) : hashingHere(hashState, start);
    await hash.loaded;
    let pos = start, n = 0, told = start;
    const tell = () => { if (hash.hashed > told) postMessage({ id, hashed: told = hash.hashed }); };
    for await (const piece of sealer.pieces({ offset: start, ahead: 2 })) {
      if (job.aborted) return;
      const end = pos + piece.length;
      if (end > from) {
        // At least one piece past what the page acknowledged, at most `window` bytes.
        while (!job.aborted && job.posted > job.acked && end - job.acked > window) {
          await new Promise((r) => { job.wake = r; });
        }
        if (job.aborted) return;
        const at = Math.max(pos, from);
        postMessage({ id, offset: at, piece: new Blob([piece.subarray(at - pos)]) });
        job.posted = end;
      }
      await hash.update(piece, end); // after its Blob: the buffer leaves this thread
      pos = end;
      tell();
      if (pos >= until && pos < sealer.envelopeSize) {
        const saved = await hash.save();
        tell();
        postMessage({ id, leg: pos, hashState: saved });
        return;
      }
      if (++n % IDLE_EVERY === 0) await idle();
    }
    const digest = await hash.digest();
    postMessage({ id, hashed: pos, size: pos, digest });
  } finally {
    hash?.close();
    jobs.delete(id);
  }
}

function wake(job) {
  const w = job?.wake;
  if (job) job.wake = null;
  w?.();
}

onmessage = ({ data }) => {
  const { id, op } = data;
  if (self.name === "hasher") { hasherMessage(data); return; }
  // Control messages act at once; the jobs run concurrently with them.
  if (op === "ack") {
    const job = jobs.get(id);
    if (job) { job.acked = Math.max(job.acked, data.upto); wake(job); }
    return;
  }
  if (op === "abort") {
    const job = jobs.get(id);
    if (job) { job.aborted = true; wake(job); }
    return;
  }
  const run = op === "files" ? hashFiles(id, data.files)
    : op === "envelope" ? envelope(id, data)
      : Promise.reject(new TypeError(`unknown op ${op}`));
  run.catch((err) => postMessage({ id, error: String(err?.message || err) }));
};
