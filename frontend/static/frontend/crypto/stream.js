// STREAM chunked AES-256-GCM, the payload layer of tender-envelope/v1 (docs/envelope.md,
// "Payload"), the browser twin of crypto/stream.py.
//
// Chunk i is sealed under the nonce I2OSP(i, 11) || final-flag, so truncation, reordering,
// duplication and appended data all fail authentication. Sealing reads a Blob (or anything with
// `size` and `slice(start, end).arrayBuffer()`) one chunk at a time, and because every chunk's
// ciphertext depends only on the payload key, the counter and that chunk, any chunk can be
// (re)produced on its own: that is what lets an upload resume at an offset after a reload.
// Opening reads from any byte source through a ByteReader with one chunk of look-ahead. Both
// directions hold about two chunks at a time, whatever the size of the file.
//
// This module knows nothing about headers; envelope.js turns StreamError into InvalidEnvelope.

import { asBytes } from "./b64.js";

export const TAG_SIZE = 16;
export const KEY_SIZE = 32;
export const MIN_CHUNK_SIZE = 64;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
const subtle = globalThis.crypto.subtle;

export class StreamError extends Error {
  constructor(message = "the payload failed authentication") {
    super(message);
    this.name = "StreamError";
  }
}

/** Throw a RangeError unless `chunkSize` is an integer within the format's limits. */
export function checkChunkSize(chunkSize) {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(`chunk size must be an integer in [${MIN_CHUNK_SIZE}, ${MAX_CHUNK_SIZE}]`);
  }
}

/** The 12-byte nonce of chunk `counter`: 11-byte big-endian counter, then 0x01 if final. */
export function chunkNonce(counter, final) {
  // The format allows counters up to 2^88 - 1; a browser never gets past 2^53 chunks.
  if (!Number.isSafeInteger(counter) || counter < 0) throw new StreamError("chunk counter out of range");
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  view.setUint32(3, Math.floor(counter / 2 ** 32));
  view.setUint32(7, counter >>> 0);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

/** How many chunks a plaintext of `size` bytes has: an empty plaintext is one empty chunk. */
export function chunkCount(size, chunkSize) {
  return Math.max(1, Math.ceil(size / chunkSize));
}

/** The payload's size for a plaintext of `size` bytes: 16 bytes of tag per chunk. */
export function payloadSize(size, chunkSize) {
  return size + TAG_SIZE * chunkCount(size, chunkSize);
}

/** Encrypt chunk `index` of `source` (a Blob-like of `source.size` bytes). */
export async function encryptChunk(key, source, index, chunkSize) {
  const count = chunkCount(source.size, chunkSize);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError("no such chunk");
  const start = index * chunkSize;
  const end = Math.min(start + chunkSize, source.size);
  const plaintext = new Uint8Array(await source.slice(start, end).arrayBuffer());
  if (plaintext.length !== end - start) {
    throw new Error("the file changed while it was being sealed");
  }
  const ct = await subtle.encrypt(
    { name: "AES-GCM", iv: chunkNonce(index, index === count - 1), tagLength: 128 }, key, plaintext);
  return new Uint8Array(ct);
}

/**
 * Reads `source` sequentially from chunk `first` on, one chunk at a time into ONE reused buffer,
 * through the Blob's byte stream (a BYOB reader): reading allocates nothing per chunk, so a long
 * file leaves no garbage behind for the collector. A view from `next()` is valid until the next
 * call (WebCrypto copies its input when encrypt is called, so it can be encrypted and dropped).
 * Sources without a byte stream (a Blob-like with only `slice`, a browser without BYOB readers)
 * are read slice by slice instead.
 */
export class ChunkReader {
  constructor(source, chunkSize, first = 0) {
    this.source = source;
    this.chunkSize = chunkSize;
    this.index = first;
    this.count = chunkCount(source.size, chunkSize);
    this.reader = null;
    if (typeof source.stream === "function") {
      try {
        this.reader = source.slice(first * chunkSize).stream().getReader({ mode: "byob" });
        this.buffer = new ArrayBuffer(Math.min(chunkSize, Math.max(1, source.size)));
      } catch {
        this.reader = null; // not a byte stream here: slices
      }
    }
  }

  /** The next chunk's plaintext (a view of the reused buffer) and its index. */
  async next() {
    const index = this.index++;
    if (index >= this.count) throw new RangeError("no such chunk");
    const start = index * this.chunkSize;
    const want = Math.min(start + this.chunkSize, this.source.size) - start;
    let view;
    if (!this.reader) {
      view = new Uint8Array(await this.source.slice(start, start + want).arrayBuffer());
    } else {
      let filled = 0;
      while (filled < want) {
        const { value, done } = await this.reader.read(new Uint8Array(this.buffer, filled, want - filled));
        if (value) this.buffer = value.buffer; // the same memory, handed back (also at the end)
        if (done) break;
        filled += value.byteLength;
      }
      view = new Uint8Array(this.buffer, 0, filled);
    }
    if (view.length !== want) throw new Error("the file changed while it was being sealed");
    return { index, plaintext: view };
  }

  async close() {
    if (this.reader) await this.reader.cancel().catch(() => {});
  }
}

/** Encrypt one chunk's plaintext (copied by WebCrypto when called: the caller may reuse it). */
export function encryptBytes(key, plaintext, index, final) {
  return subtle.encrypt({ name: "AES-GCM", iv: chunkNonce(index, final), tagLength: 128 }, key, plaintext)
    .then((ct) => new Uint8Array(ct));
}

/**
 * Yield the ciphertext chunks of `source` from chunk `fromChunk` on, one at a time: the next
 * chunk is read only when the consumer asks for it, so memory stays at about two chunks.
 */
export async function* encryptChunks(key, source, chunkSize, { fromChunk = 0 } = {}) {
  checkChunkSize(chunkSize);
  const count = chunkCount(source.size, chunkSize);
  for (let i = fromChunk; i < count; i++) yield await encryptChunk(key, source, i, chunkSize);
}

/**
 * Pull-based reading of a byte source: a Uint8Array/ArrayBuffer, a Blob-like (read in slices of
 * `readSize`), a ReadableStream, or an (async) iterable of byte pieces of any sizes.
 */
export class ByteReader {
  constructor(source, { readSize = DEFAULT_CHUNK_SIZE + TAG_SIZE } = {}) {
    this.iterator = pieces(source, readSize)[Symbol.asyncIterator]();
    this.piece = new Uint8Array(0);
    this.at = 0;
    this.done = false;
    this.position = 0; // bytes handed out so far
  }

  async #more() {
    while (!this.done && this.at >= this.piece.length) {
      const { value, done } = await this.iterator.next();
      if (done) this.done = true;
      else {
        this.piece = asBytes(value);
        this.at = 0;
      }
    }
    return this.at < this.piece.length;
  }

  /** Fill `view[start:]`; return how many bytes `view` now holds (less only at the end). */
  async fill(view, start = 0) {
    let pos = start;
    while (pos < view.length && await this.#more()) {
      const n = Math.min(view.length - pos, this.piece.length - this.at);
      view.set(this.piece.subarray(this.at, this.at + n), pos);
      this.at += n;
      pos += n;
    }
    this.position += pos - start;
    return pos;
  }

  /** Read up to and including the next LF, at most `limit` bytes (less at the end of input). */
  async readLine(limit) {
    const out = [];
    while (out.length < limit && await this.#more()) {
      const b = this.piece[this.at++];
      out.push(b);
      if (b === 0x0a) break;
    }
    this.position += out.length;
    return Uint8Array.from(out);
  }

  /** Stop reading the source (releases a stream's lock). */
  async close() {
    await this.iterator.return?.();
  }
}

async function* pieces(source, readSize) {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    yield asBytes(source);
  } else if (typeof source?.slice === "function" && typeof source?.size === "number") {
    for (let at = 0; at < source.size; at += readSize) {
      yield new Uint8Array(await source.slice(at, Math.min(at + readSize, source.size)).arrayBuffer());
    }
  } else if (typeof source?.getReader === "function") {
    const reader = source.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  } else if (source && (Symbol.asyncIterator in source || Symbol.iterator in source)) {
    yield* source;
  } else {
    throw new TypeError("expected bytes, a Blob, a ReadableStream or an iterable of byte pieces");
  }
}

/**
 * Decrypt a STREAM payload from `reader` (a ByteReader at the payload's first byte); yield each
 * chunk's plaintext only after it authenticated. Throws StreamError on any failure; plaintext
 * already yielded is then not proven complete and the caller must discard it.
 */
export async function* decryptChunks(key, reader, chunkSize) {
  checkChunkSize(chunkSize);
  const ctSize = chunkSize + TAG_SIZE;
  const buf = new Uint8Array(ctSize + 1); // one byte of look-ahead tells whether a chunk is last
  let have = await reader.fill(buf, 0);
  let counter = 0;
  while (have > ctSize) {
    yield await openChunk(key, counter, false, buf.subarray(0, ctSize));
    counter++;
    buf[0] = buf[ctSize];
    have = await reader.fill(buf, 1);
  }
  // An empty final chunk is only valid as the whole payload of an empty plaintext: one encoding
  // per plaintext.
  if (have < TAG_SIZE || (have === TAG_SIZE && counter > 0)) throw new StreamError("payload truncated");
  yield await openChunk(key, counter, true, buf.subarray(0, have));
}

async function openChunk(key, counter, final, chunk) {
  try {
    // WebCrypto copies `chunk` when called, so the caller may reuse the buffer at once.
    return new Uint8Array(await subtle.decrypt(
      { name: "AES-GCM", iv: chunkNonce(counter, final), tagLength: 128 }, key, chunk));
  } catch {
    throw new StreamError();
  }
}
