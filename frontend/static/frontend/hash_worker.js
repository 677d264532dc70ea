// SHA-256 off the page's thread, in constant memory: @noble/hashes' incremental sha256 (vendored,
// frontend/static/vendor/vendor.json), since WebCrypto's digest takes the whole input at once.
// Messages (hasher.js is the page's side):
//   {id, op: "files", files: [File|Blob]}      → {id, progress: bytes} ... {id, digests: [hex]}
//   {id, op: "begin"} / {id, op: "update", blob} / {id, op: "end"}
//                                              → {id, hashed: bytes} after each update, {id, digest}
// Blobs and Files are read here through their byte streams into one reused buffer (a BYOB
// reader), so hashing any amount allocates nothing per piece: memory is one buffer, and no garbage
// piles up for the collector. Errors come back as {id, error: message}.
import { sha256 } from "../vendor/noble-hashes-2.4.0/sha2.js";

const READ = 1 << 20;
const PROGRESS_MS = 100;
const streams = new Map();
let buffer = new ArrayBuffer(READ);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** Feed all of `blob` to `hash`; `onBytes(n)` after each piece. */
async function feed(hash, blob, onBytes) {
  let reader = null;
  try {
    reader = blob.stream().getReader({ mode: "byob" });
  } catch {
    reader = null; // no byte stream in this browser: slices
  }
  if (!reader) {
    for (let at = 0; at < blob.size; at += READ) {
      const piece = new Uint8Array(await blob.slice(at, at + READ).arrayBuffer());
      hash.update(piece);
      onBytes?.(piece.length);
    }
    return;
  }
  for (;;) {
    const { value, done } = await reader.read(new Uint8Array(buffer));
    if (value) buffer = value.buffer; // the same memory, handed back (also at the end)
    if (done) break;
    hash.update(value);
    onBytes?.(value.byteLength);
  }
}

async function hashFiles(id, files) {
  let done = 0, told = 0;
  const digests = [];
  for (const file of files) {
    const hash = sha256.create();
    await feed(hash, file, (n) => {
      done += n;
      if (performance.now() - told >= PROGRESS_MS) {
        told = performance.now();
        postMessage({ id, progress: done });
      }
    });
    digests.push(hex(hash.digest()));
  }
  postMessage({ id, progress: done, digests });
}

// Updates of one stream are applied in the order they came, one at a time.
let queue = Promise.resolve();

onmessage = ({ data }) => {
  queue = queue.then(() => handle(data));
};

async function handle(data) {
  const { id, op } = data;
  try {
    if (op === "files") await hashFiles(id, data.files);
    else if (op === "begin") streams.set(id, { hash: sha256.create(), hashed: 0 });
    else if (op === "update") {
      const s = streams.get(id);
      if (!s) return; // abandoned
      await feed(s.hash, data.blob);
      s.hashed += data.blob.size;
      postMessage({ id, hashed: s.hashed });
    } else if (op === "end") {
      const s = streams.get(id);
      streams.delete(id);
      postMessage({ id, hashed: s.hashed, digest: hex(s.hash.digest()) });
    } else if (op === "abandon") streams.delete(id);
    else throw new TypeError(`unknown op ${op}`);
  } catch (err) {
    streams.delete(id);
    postMessage({ id, error: String(err?.message || err) });
  }
}
