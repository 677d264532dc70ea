// Sending a sealed envelope to a resumable upload (docs/browser-crypto.md, "Uploading"), as a
// pipeline: the Worker (sealing.js, seal_worker.js) reads the package, encrypts it a few chunks
// ahead, hashes every byte and hands over each ciphertext chunk as a Blob (its bytes in the
// browser's blob store, not the page's heap); here the Blobs are grouped into PATCH bodies of
// `bodyBytes` (at most the server's max_chunk_bytes) and sent with XMLHttpRequest (for its upload
// progress events), while the Worker makes the next `bodiesAhead` bodies' worth. Up to `inFlight`
// PATCHes are out at once: the next body goes on the wire as soon as the one before it is there,
// while the server writes and fsyncs that one (the platform lets a PATCH that starts where the
// body being written will end wait for its turn: docs/api.md). A server that does not wait
// answers it upload_offset_mismatch at the offset the body before ended: the body is sent again
// and the rest one at a time. The page's thread only moves Blob handles: it never encrypts,
// hashes or holds the bid's bytes.
//
// After a reload the Worker re-encrypts and hashes the part the server already holds without
// handing it over ("checking"), so the SHA-256 covers the whole envelope.

export const DEFAULTS = Object.freeze({ bodyBytes: 8 << 20, bodiesAhead: 1, inFlight: 2, hashAside: 0 });

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

const OFFSET_MISMATCH = "upload_offset_mismatch";

export class UploadError extends Error {
  constructor(message, { status = 0, code = "", network = false, details = {} } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.network = network;
    this.details = details;
  }
}

export class Cancelled extends Error {}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : (globalThis.KB_CSRF || "");
}

/** One PATCH with XHR: resolves with the JSON reply; `onSent(bytes)` as the body goes out. */
function patchOnce(uploadId, offset, body, { onSent, onUploaded, signal }) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(new Cancelled("cancelled")); return; }
    const xhr = new XMLHttpRequest();
    xhr.open("PATCH", `/api/v1/uploads/${uploadId}`);
    xhr.setRequestHeader("Upload-Offset", String(offset));
    xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.withCredentials = true;
    xhr.upload.onprogress = (ev) => onSent?.(ev.loaded);
    xhr.upload.onload = () => onUploaded?.(); // the whole body is on the wire: the answer is to come
    const abort = () => xhr.abort();
    signal?.addEventListener("abort", abort, { once: true });
    const done = (fn) => { signal?.removeEventListener("abort", abort); fn(); };
    xhr.onload = () => done(() => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        const err = data?.error || {};
        reject(new UploadError(err.message || `HTTP ${xhr.status}`,
                               { status: xhr.status, code: err.code || `http_${xhr.status}`, details: err.details || {} }));
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
 * The envelope's pieces (`{offset, blob}` in order, from the Worker) as PATCH bodies of at most
 * `bodyBytes`: `{offset, size, blob}`, a Blob of slices of the pieces' Blobs (no bytes copied).
 */
async function* bodies(pieces, from, bodyBytes) {
  let parts = [], start = from, size = 0;
  for await (const { offset, blob } of pieces) {
    for (let at = 0; at < blob.size;) {
      const take = Math.min(blob.size - at, bodyBytes - size);
      parts.push(at === 0 && take === blob.size ? blob : blob.slice(at, at + take));
      size += take;
      at += take;
      if (size === bodyBytes) {
        yield { offset: start, size, blob: new Blob(parts) };
        start += size;
        parts = [];
        size = 0;
      }
    }
    if (offset + blob.size !== start + size) throw new UploadError("the envelope's pieces are out of order");
  }
  if (size) yield { offset: start, size, blob: new Blob(parts) };
}

/**
 * Start the Worker on `sealer`'s envelope from the server's offset in `status` (an upload's JSON),
 * before the first PATCH: `{status, env, limit}` for `sendEnvelope`'s `started`. The Worker may run
 * ahead of the bytes the server acknowledged by the body on the wire, the ones being made, and one
 * chunk.
 */
export function startEnvelope(sealer, worker, status, { bodyBytes, bodiesAhead, inFlight, hashAside } = {}) {
  const sizes = tuning();
  bodyBytes = bodyBytes ?? sizes.bodyBytes;
  bodiesAhead = bodiesAhead ?? sizes.bodiesAhead;
  inFlight = Math.max(1, inFlight ?? sizes.inFlight);
  hashAside = Boolean(hashAside ?? sizes.hashAside);
  const limit = Math.max(1, Math.min(bodyBytes, status.max_chunk_bytes || bodyBytes));
  const window = limit * (bodiesAhead + inFlight) + sealer.chunkSize + 64;
  const env = worker.envelope(sealer, { from: status.offset, window, hashAside });
  return { status, env, limit, inFlight };
}

/**
 * Send `sealer`'s envelope to upload `uploadId` from the server's durable offset, hashing all of
 * it in `worker` (a SealingWorker). Returns `{sha256, offset}` once the server holds every byte
 * (the caller then completes the upload). `progress` is an object this function keeps current for
 * the page to render: `{phase: "checking" | "uploading" | "hashing", hashed, sent, resumedAt,
 * total}`. `signal` cancels at once (Cancelled).
 */
export async function sendEnvelope({ sealer, uploadId, worker, getStatus, progress = {}, signal,
                                     bodyBytes, bodiesAhead, inFlight, started = null } = {}) {
  let resyncs = 0;
  for (;;) {
    if (signal?.aborted) { started?.env.abort(); throw new Cancelled("cancelled"); }
    // A new upload's pipeline may have been started while it was being created (`startEnvelope`).
    const run = started || startEnvelope(sealer, worker, await getStatus(), { bodyBytes, bodiesAhead, inFlight });
    started = null;
    const { status, env, limit } = run;
    let parallel = run.inFlight, earlyRefusals = 0;
    let offset = status.offset;
    Object.assign(progress, { phase: offset ? "checking" : "uploading", sent: offset,
                              resumedAt: offset, total: sealer.envelopeSize });
    hashing(progress, env);
    // This round's requests stop with the user's Pause, and when one of them fails.
    const local = new AbortController();
    const stop = () => { local.abort(); env.abort(); };
    signal?.addEventListener("abort", stop, { once: true });
    const out = []; // PATCHes in flight, in order: {body, reply, uploaded}
    const send = (body) => {
      let uploaded;
      const entry = { body, pipelined: out.length > 0, uploaded: new Promise((r) => { uploaded = r; }) };
      entry.reply = patch(uploadId, body.offset, body.blob, {
        signal: local.signal, onUploaded: uploaded,
        onSent: (n) => { progress.sent = Math.max(progress.sent, body.offset + Math.min(n, body.size)); } });
      entry.reply.then(uploaded, uploaded);
      entry.reply.catch(() => {}); // awaited in order below; a later one's failure is not lost
      out.push(entry);
    };
    // The oldest PATCH's answer: the durable offset moves on.
    const settle = async () => {
      const { body, reply } = out[0];
      let answer;
      try {
        answer = await reply;
      } catch (err) {
        // Sent while the one before was being written, to a server that does not wait for it
        // (it refused it at an offset short of its start): send it again now that the one before
        // is in, and the rest one at a time.
        const early = out[0].pipelined && err.code === OFFSET_MISMATCH && Number(err.details?.offset) < body.offset;
        if (!early) throw err;
        if (++earlyRefusals >= 2) parallel = 1; // once may be a race; twice, a server that does not wait
        answer = await patch(uploadId, body.offset, body.blob, { signal: local.signal });
      }
      out.shift();
      offset = answer.offset;
      progress.sent = Math.max(progress.sent, offset);
      env.ack(offset);
    };
    try {
      for await (const body of bodies(env.pieces(), offset, limit)) {
        if (signal?.aborted) throw new Cancelled("cancelled");
        progress.phase = "uploading";
        while (out.length >= parallel) await settle();
        // The next body follows the one before onto the wire, not into it.
        if (out.length) await out[out.length - 1].uploaded;
        send(body);
      }
      while (out.length) await settle();
      if (signal?.aborted) throw new Cancelled("cancelled");
      if (offset !== sealer.envelopeSize) throw new UploadError("the server holds fewer bytes than were sent");
      progress.phase = "hashing";
      return { sha256: await env.digest(), offset };
    } catch (err) {
      local.abort();
      env.abort();
      progress.sent = offset; // what the server acknowledged, not what was on the wire
      if (signal?.aborted) throw new Cancelled("cancelled");
      // Out of step with the server (another tab, a lost reply): start again from its offset.
      if ((err.code === OFFSET_MISMATCH || err.code === "upload_busy" || err.status >= 500) && ++resyncs <= 3) continue;
      throw err;
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }
}

/** `progress.hashed`: the bytes the Worker has hashed so far. */
function hashing(progress, env) {
  Object.defineProperty(progress, "hashed", { get: () => env.hashed, configurable: true, enumerable: true });
}

/**
 * The SHA-256 of `sealer`'s whole envelope, made in `worker` without sending anything (a page that
 * finds its upload already complete checks the receipt against it).
 */
export async function envelopeSha256(sealer, worker, progress = {}) {
  const env = worker.envelope(sealer, { from: sealer.envelopeSize, window: 0 });
  hashing(progress, env);
  for await (const _ of env.pieces()) { /* none: nothing is handed over past the end */ }
  return env.digest();
}

export const PENDING_RETRY = Object.freeze({ firstMs: 2000, maxMs: 60000 });

/**
 * `complete` (the `ask()` given: one POST), asked again while the platform cannot sign. A 503
 * `signing_unavailable` means the completion is pending, not lost: every byte is on the server and
 * the request is recorded, kept even past the deadline (docs/envelope.md, "A completion that could
 * not be signed"). `onPending()` then says so, and `ask()` is repeated after 2 s, doubling to a
 * minute, until it is receipted — `onRetry()` before each — or `signal` aborts (`Cancelled`: the
 * bidder paused). `upload_busy` (the platform's ticker completing the same upload) is asked again
 * the same way, without `onPending`. Any other error is thrown as it is.
 */
export async function completeUpload(ask, { signal, onPending, onRetry, retry = PENDING_RETRY } = {}) {
  for (let wait = retry.firstMs; ; wait = Math.min(wait * 2, retry.maxMs)) {
    try {
      return await ask();
    } catch (err) {
      // upload_busy: another request holds the upload — the platform's ticker completing it.
      if (err?.code !== "signing_unavailable" && err?.code !== "upload_busy") throw err;
      if (err.code === "signing_unavailable") onPending?.(err);
      await pauseFor(wait, signal);
      onRetry?.();
    }
  }
}

function pauseFor(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(new Cancelled("cancelled")); return; }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); reject(new Cancelled("cancelled")); }, { once: true });
  });
}
