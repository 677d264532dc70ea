// Sending a sealed envelope to a resumable upload (docs/browser-crypto.md, "Uploading"), as a
// pipeline: the file is read and encrypted a few chunks ahead (sealer.pieces({ahead})), each piece
// becomes a Blob at once (its bytes leave the page's heap for the browser's blob store), which the
// hashing Worker reads in turn, pieces are grouped into PATCH bodies of `bodyBytes` (at most
// the server's max_chunk_bytes), and while one body is on the wire the next `bodiesAhead` are
// being made. Memory is bounded by those numbers, never by the bid's size.
//
// The SHA-256 of the whole envelope is computed as it streams (Worker); after a reload the part the
// server already holds is re-encrypted and hashed, not re-sent. Only one PATCH is in flight (the
// server appends at its durable offset and refuses any other), sent with XMLHttpRequest for its
// upload progress events.

export const DEFAULTS = Object.freeze({ bodyBytes: 8 << 20, bodiesAhead: 1, chunksAhead: 2, idleEvery: 4 });

/**
 * The pipeline's sizes: DEFAULTS (chosen by bench/bench_upload.py), or for measuring other ones a
 * JSON object in sessionStorage "kb-upload-tuning" (the benchmark sets it; nothing else does).
 */
export function tuning() {
  let given = {};
  try { given = JSON.parse(globalThis.sessionStorage?.getItem("kb-upload-tuning") || "{}"); } catch { given = {}; }
  const out = { ...DEFAULTS };
  for (const k of Object.keys(DEFAULTS)) if (Number.isInteger(given[k]) && given[k] >= 0) out[k] = given[k];
  return out;
}

// A timer's turn of the event loop: the collector runs its work in such gaps, and WebCrypto's
// output buffers (one per chunk) are only freed by it. Without a gap every few chunks a fast
// pipeline leaves over 100 MiB of them behind (measured: 1 GiB of 1 MiB encryptions in a loop grew
// the renderer by 214 MiB, 71 MiB with a timer turn after each).
const idle = () => new Promise((r) => setTimeout(r, 0));
const OFFSET_MISMATCH = "upload_offset_mismatch";

export class UploadError extends Error {
  constructor(message, { status = 0, code = "", network = false } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.network = network;
  }
}

export class Cancelled extends Error {}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : (globalThis.KB_CSRF || "");
}

/** One PATCH with XHR: resolves with the JSON reply; `onSent(bytes)` as the body goes out. */
function patchOnce(uploadId, offset, body, { onSent, signal }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PATCH", `/api/v1/uploads/${uploadId}`);
    xhr.setRequestHeader("Upload-Offset", String(offset));
    xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.withCredentials = true;
    xhr.upload.onprogress = (ev) => onSent?.(ev.loaded);
    const abort = () => xhr.abort();
    signal?.addEventListener("abort", abort, { once: true });
    const done = (fn) => { signal?.removeEventListener("abort", abort); fn(); };
    xhr.onload = () => done(() => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        const err = data?.error || {};
        reject(new UploadError(err.message || `HTTP ${xhr.status}`, { status: xhr.status, code: err.code || `http_${xhr.status}` }));
      }
    });
    xhr.onerror = () => done(() => reject(new UploadError("network", { network: true })));
    xhr.onabort = () => done(() => reject(new Cancelled("cancelled")));
    xhr.send(body);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function patch(uploadId, offset, body, options) {
  let last;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await patchOnce(uploadId, offset, body, options);
    } catch (err) {
      if (!err.network) throw err; // the server answered (or the user cancelled): the caller decides
      last = err;
      await sleep(400 * (attempt + 1));
    }
  }
  throw last;
}

/**
 * The envelope as PATCH bodies from `from` on: `{offset, blob}` each at most `bodyBytes`. Every
 * byte from 0 is handed to `hash` in order (the part before `from` only to the hash).
 */
async function* bodies(sealer, from, { bodyBytes, chunksAhead, idleEvery, hash, signal }) {
  let pos = 0, parts = [], start = from, size = 0, n = 0;
  for await (const piece of sealer.pieces({ offset: 0, ahead: chunksAhead })) {
    if (idleEvery && ++n % idleEvery === 0) await idle();
    if (signal?.aborted) throw new Cancelled("cancelled");
    // The one copy of the piece: into the browser's blob store. The body takes slices of it and
    // the hashing Worker reads it from there; the piece's buffer is garbage from here on.
    const blob = new Blob([piece]);
    const end = pos + piece.length;
    for (let at = Math.max(pos, from); at < end;) {
      const take = Math.min(end - at, bodyBytes - size);
      parts.push(blob.slice(at - pos, at - pos + take));
      size += take;
      at += take;
      if (size === bodyBytes) {
        yield { offset: start, size, blob: new Blob(parts) };
        start += size;
        parts = [];
        size = 0;
      }
    }
    await hash.update(blob);
    pos = end;
  }
  if (size) yield { offset: start, size, blob: new Blob(parts) };
}

/** Pull up to `n` values of an async iterator ahead of the consumer. */
async function* prefetch(iterable, n) {
  const it = iterable[Symbol.asyncIterator]();
  const queue = [];
  const pull = () => { const p = it.next(); p.catch(() => {}); queue.push(p); };
  try {
    for (let i = 0; i <= n; i++) pull();
    for (;;) {
      const { value, done } = await queue.shift();
      if (done) return;
      pull();
      yield value;
    }
  } finally {
    await Promise.allSettled(queue);
    await it.return?.();
  }
}

/**
 * Send `sealer`'s envelope to upload `uploadId` from the server's durable offset, hashing all of
 * it. Returns `{sha256, offset}` once the server holds every byte (the caller then completes the
 * upload). `progress` is an object this function keeps current for the page to render:
 * `{phase: "checking" | "uploading", hashed, sent, total}`. `signal` cancels at once (Cancelled).
 */
export async function sendEnvelope({ sealer, uploadId, hasher, getStatus, progress = {}, signal,
                                     bodyBytes, bodiesAhead, chunksAhead, idleEvery } = {}) {
  const sizes = tuning();
  bodyBytes = bodyBytes ?? sizes.bodyBytes;
  bodiesAhead = bodiesAhead ?? sizes.bodiesAhead;
  chunksAhead = chunksAhead ?? sizes.chunksAhead;
  idleEvery = idleEvery ?? sizes.idleEvery;
  let resyncs = 0;
  for (;;) {
    const status = await getStatus();
    const limit = Math.max(1, Math.min(bodyBytes, status.max_chunk_bytes || bodyBytes));
    let offset = status.offset;
    Object.assign(progress, { phase: offset ? "checking" : "uploading", hashed: 0, sent: offset,
                              resumedAt: offset, total: sealer.envelopeSize });
    const hash = hasher.stream();
    const counting = { update: async (blob) => { await hash.update(blob); progress.hashed += blob.size; } };
    try {
      for await (const body of prefetch(bodies(sealer, offset, { bodyBytes: limit, chunksAhead, idleEvery, hash: counting, signal }),
                                        bodiesAhead)) {
        progress.phase = "uploading";
        const reply = await patch(uploadId, body.offset, body.blob, {
          signal, onSent: (n) => { progress.sent = body.offset + Math.min(n, body.size); } });
        offset = reply.offset;
        progress.sent = offset;
        resyncs = 0;
      }
      if (offset !== sealer.envelopeSize) throw new UploadError("the server holds fewer bytes than were sent");
      progress.phase = "hashing";
      return { sha256: await hash.digest(), offset };
    } catch (err) {
      hash.abandon();
      progress.sent = offset; // what the server acknowledged, not what was on the wire
      // Out of step with the server (another tab, a lost reply): start again from its offset.
      if ((err.code === OFFSET_MISMATCH || err.status >= 500) && ++resyncs <= 3) continue;
      throw err;
    }
  }
}
