// The part of a sealer that does not depend on the cipher suite (docs/browser-crypto.md, "Hook
// points"): the envelope's bytes from any offset (the header, then one piece per ciphertext
// chunk), the sizes, the commitment, the state an upload keeps to resume, and the check that a
// resumed upload reads the same file. Sealer (envelope.js, AES-256-GCM) and GmSealer
// (gm_sealer.js, SM4-GCM) are this core with their suite's chunk encryption injected: both write
// the same framing (STREAM, docs/envelope.md "Payload"), so only how a chunk is encrypted differs.

import { asBytes } from "./b64.js";
import { ChunkReader, TAG_SIZE, chunkCount, payloadSize } from "./stream.js";

/** `source` as a Blob: a Blob, a File or a Blob-like that reads slices as it is; bytes wrapped. */
export function asBlob(source) {
  if (typeof source?.slice === "function" && typeof source?.size === "number" && !ArrayBuffer.isView(source)) {
    return source; // a Blob, a File, or a Blob-like that reads slices
  }
  return new Blob([asBytes(source)]);
}

/**
 * Throw a RangeError unless `blob` can be the source `state` was sealed from. Resuming with a
 * different file would splice two plaintexts into an envelope that can never open: the size and,
 * for a File, its name and modification time must match (content changes that keep all three are
 * not detected; keep the File itself in IndexedDB with the state to be safe).
 */
export function checkSameSource(state, blob) {
  if (blob.size !== state.plaintextSize) throw new RangeError("not the file that was sealed");
  if (state.file && !(blob instanceof File && blob.name === state.file.name
                      && blob.lastModified === state.file.lastModified)) {
    throw new RangeError("not the file that was sealed");
  }
}

/**
 * Produces the bytes of one sealed envelope: `header` (parsed), `envelopeSize`, and the bytes
 * themselves from any offset, so that an upload can resume where the server stopped. Each
 * ciphertext chunk is computed when asked for.
 *
 * `suite` is what differs between cipher suites:
 * - `chunks(payloadKey, reader, {first, count, ahead})`: an async generator yielding the
 *   ciphertext of chunks `first` to `count - 1` in order, reading their plaintext from `reader`
 *   (a ChunkReader positioned at `first`, closed by the core afterwards);
 * - `exportKey(payloadKey)`: the payload key as `state()` carries it.
 */
export class SealerCore {
  #payloadKey;
  #suite;

  constructor(suite, header, payloadKey, source) {
    this.header = header;
    this.#payloadKey = payloadKey;
    this.#suite = suite;
    this.source = source;
    Object.freeze(this);
  }

  get chunkSize() { return this.header.chunkSize; }
  get plaintextSize() { return this.source.size; }
  get headerSize() { return this.header.size; }
  get envelopeSize() { return this.header.size + payloadSize(this.source.size, this.chunkSize); }
  /** The commitment as the header and the receipt carry it (base64). */
  get commitment() { return this.header.commitmentB64; }

  /**
   * Yield the envelope's bytes from `offset` to the end: the header (or its rest) as one piece,
   * then one piece per ciphertext chunk (`chunkSize + 16` bytes, the last one shorter).
   * `ahead`: how many more chunks the suite may read and encrypt while the consumer holds one.
   * Every chunk is independent: the bytes are the same whatever `ahead` is.
   */
  async *pieces({ offset = 0, ahead = 0 } = {}) {
    if (!Number.isInteger(offset) || offset < 0 || offset > this.envelopeSize) {
      throw new RangeError("offset out of range");
    }
    if (!Number.isInteger(ahead) || ahead < 0 || ahead > 64) throw new RangeError("ahead is 0 to 64");
    const h = this.header.size;
    if (offset < h) yield this.header.raw.slice(offset);
    if (offset === this.envelopeSize) return;
    const at = Math.max(0, offset - h);
    const step = this.chunkSize + TAG_SIZE;
    let skip = at % step; // the resumed offset may fall inside a chunk: its first bytes were sent
    const count = chunkCount(this.source.size, this.chunkSize);
    const first = Math.floor(at / step);
    const reader = new ChunkReader(this.source, this.chunkSize, first);
    try {
      for await (const ct of this.#suite.chunks(this.#payloadKey, reader, { first, count, ahead })) {
        yield skip ? ct.subarray(skip) : ct;
        skip = 0;
      }
    } finally {
      await reader.close(); // after the suite's own clean-up (the loop above returned it first)
    }
  }

  /** The same bytes as a pull-based ReadableStream (nothing is read before it is asked for). */
  stream({ offset = 0 } = {}) {
    const iterator = this.pieces({ offset });
    return new ReadableStream({
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel() {
        await iterator.return();
      },
    }, { highWaterMark: 0 });
  }

  /** The whole envelope as a Blob (small envelopes and tests: it holds every byte). */
  async toBlob() {
    const parts = [];
    for await (const piece of this.pieces()) parts.push(piece);
    return new Blob(parts, { type: "application/octet-stream" });
  }

  /**
   * What an upload needs to carry on after a reload, to keep in IndexedDB (every member is
   * structured-cloneable). Resuming needs the very same plaintext: see `checkSameSource`.
   */
  state() {
    const file = this.source instanceof File
      ? { name: this.source.name, size: this.source.size, lastModified: this.source.lastModified } : null;
    return { format: this.header.version, header: this.header.raw.slice(),
             payloadKey: this.#suite.exportKey(this.#payloadKey), plaintextSize: this.source.size, file };
  }
}
