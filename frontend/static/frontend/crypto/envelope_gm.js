// tender-envelope/gm-v1, the 国密 suite (docs/envelope.md, Appendix D), in the browser: byte for
// byte what crypto/envelope.py writes with suite="gm" (crypto/envelope_gm.py for the stanzas).
// The file key is wrapped to the bidder's SM2 key (SM2 encryption, C1C3C2, of file key || SM3 of
// the stanza's context), the chunks are SM4-GCM, and HKDF-SM3 / HMAC-SM3 give the payload key,
// the commitment and the header MAC. Every SM primitive comes through sm.js, the one boundary with
// the library.
//
// Who calls what: the submit page `sealGm(...)` (then the same upload pipeline as v1/v3: the
// Worker rebuilds the sealer with `GmSealer.resume`, through envelope.js's `Sealer.resume`);
// tests and anyone with the file key `parseGmHeader`, `unwrapGmFileKey`, `verifyGmFileKey`,
// `openGmToBytes`. Failures to parse, verify or open throw header.js's InvalidEnvelope, one
// message for every secret-dependent check.
//
// The payload key is 16 bytes that WebCrypto cannot hold (it has no SM4), so a GmSealer's state()
// carries it as bytes. The same IndexedDB record holds the bid's File handles, so whoever can read
// it can read the plaintext anyway; it is deleted with the record when the receipt is in.

import { asBytes, concat, decode, encode, equalConstantTime, toHex, utf8, wipe } from "./b64.js";
import { FAILED, FILE_KEY_SIZE, InvalidEnvelope, MIN_THRESHOLD, NONCE_SIZE, bindingLines, checkId } from "./header.js";
import { ByteReader, ChunkReader, DEFAULT_CHUNK_SIZE, TAG_SIZE, checkChunkSize, chunkCount, chunkNonce, payloadSize }
  from "./stream.js";
import { hkdfSm3, hmacSm3, isSm2Point, sm2Decrypt, sm2Encrypt, sm3, sm4GcmDecrypt, sm4GcmEncrypt, SmError } from "./sm.js";

export const FORMAT_GM = "tender-envelope/gm-v1";
export const GM_SUITE = "sm2";
export const GM_SHARE_SUITE = "sm2-share";
export const GM_BODY_SIZE = 65 + 32 + 64; // C1 || C3 || C2 of file key || SM3(context)
export const MAX_HEADER_SIZE_GM = 8192;
export const MAX_RECIPIENTS_GM = 8;
export const MAX_CUSTODIANS_GM = 10;
const PAYLOAD_KEY_SIZE = 16;
const BODY_LINES = [64, 64, 64, 23];
const MAX_LINE = 128;
const ID = /^[\x21-\x7e]{1,64}$/;
const CHUNK = /^[1-9][0-9]{0,7}$/;
const KEY_ID = /^[0-9a-f]{16}$/;
const SMALL = /^[1-9][0-9]?$/;

/** An SM2 key's id: the first 8 bytes of SM3(point), as 16 lowercase hex digits. */
export function gmKeyId(point) {
  return toHex(sm3(asBytes(point)).subarray(0, 8));
}

/** The bytes a bidder stanza's plaintext binds (v2's HPKE info with the gm-v1 version line). */
export function gmContext(binding, role = "bidder") {
  return utf8(`${FORMAT_GM}\n${bindingLines(binding)}role ${role}`);
}

function derive(fileKey, nonce, purpose, length = 32) {
  return hkdfSm3(fileKey, { salt: nonce, info: utf8(`${FORMAT_GM} ${purpose}`), length });
}

// --- the header ------------------------------------------------------------------------------

function latin1(bytes) {
  return String.fromCharCode.apply(null, bytes);
}

/** Read and check a gm-v1 header from a ByteReader (no secret; the MAC is not checked). */
export async function readGmHeader(reader) {
  const raw = [];
  let rawSize = 0;
  async function line() {
    const text = await reader.readLine(Math.min(MAX_LINE, MAX_HEADER_SIZE_GM - rawSize));
    if (text.length === 0 || text[text.length - 1] !== 0x0a) {
      throw new InvalidEnvelope("header line too long, or the header is truncated");
    }
    raw.push(text);
    rawSize += text.length;
    return latin1(text.subarray(0, text.length - 1));
  }
  async function value(name) {
    const parts = (await line()).split(" ");
    if (parts.length !== 2 || parts[0] !== name) throw new InvalidEnvelope(`expected the ${name} line`);
    return parts[1];
  }
  async function body() {
    const lines = [];
    for (const _ of BODY_LINES) lines.push(await line());
    if (!lines.every((b, i) => b.length === BODY_LINES[i])) throw new InvalidEnvelope("malformed stanza body");
    let bytes;
    try {
      bytes = decode(lines.join(""), GM_BODY_SIZE);
    } catch {
      throw new InvalidEnvelope("malformed stanza body");
    }
    if (!isSm2Point(bytes.subarray(0, 65))) throw new InvalidEnvelope("malformed stanza body"); // C1 on the curve
    return bytes;
  }

  if (await line() !== FORMAT_GM) throw new InvalidEnvelope(`not a ${FORMAT_GM} envelope`);
  const ids = [await value("tender"), await value("lot"), await value("bidder")];
  if (!ids.every((id) => ID.test(id))) throw new InvalidEnvelope("malformed id");
  const binding = Object.freeze({ tenderId: ids[0], lotId: ids[1], bidderId: ids[2] });
  const chunk = await value("chunk");
  if (!CHUNK.test(chunk)) throw new InvalidEnvelope("malformed chunk size");
  const chunkSize = Number(chunk);
  let nonce, commitment;
  try {
    checkChunkSize(chunkSize);
    nonce = decode(await value("nonce"), NONCE_SIZE);
    commitment = decode(await value("commit"), 32);
  } catch (error) {
    if (error instanceof InvalidEnvelope) throw error;
    throw new InvalidEnvelope("malformed chunk size, nonce or commitment");
  }
  const stanzas = [];
  const shares = [];
  let text;
  for (;;) {
    text = await line();
    if (text.startsWith("--- ")) break;
    const parts = text.split(" ");
    if (text.startsWith(`-> ${GM_SHARE_SUITE} `)) {
      if (parts.length !== 6 || !parts.slice(2, 5).every((p) => SMALL.test(p)) || !KEY_ID.test(parts[5])) {
        throw new InvalidEnvelope("malformed share stanza");
      }
      const [index, threshold, count] = parts.slice(2, 5).map(Number);
      shares.push(Object.freeze({ index, threshold, count, keyId: parts[5], body: await body() }));
      if (shares.length > MAX_CUSTODIANS_GM) throw new InvalidEnvelope("too many share stanzas");
      continue;
    }
    if (shares.length) throw new InvalidEnvelope("recipient stanzas come before the share stanzas");
    if (parts.length !== 4 || parts[0] !== "->" || parts[1] !== GM_SUITE || parts[2] !== "bidder"
        || !KEY_ID.test(parts[3])) {
      throw new InvalidEnvelope("malformed recipient stanza");
    }
    stanzas.push(Object.freeze({ role: "bidder", keyId: parts[3], body: await body() }));
    if (stanzas.length > MAX_RECIPIENTS_GM) throw new InvalidEnvelope("too many recipient stanzas");
  }
  let mac;
  try {
    mac = decode(text.slice(4), 32);
  } catch {
    throw new InvalidEnvelope("malformed header MAC");
  }
  if (!stanzas.length) throw new InvalidEnvelope("no bidder recipient");
  const allIds = [...stanzas, ...shares].map((s) => s.keyId);
  if (new Set(allIds).size !== allIds.length) throw new InvalidEnvelope("duplicate recipient key id");
  if (shares.length) { // optional in gm-v1; when present, exactly shares 1..n of one k-of-n split (v2's rules)
    const { threshold: k, count: n } = shares[0];
    if (!(MIN_THRESHOLD <= k && k <= n && n <= MAX_CUSTODIANS_GM) || shares.length !== n
        || !shares.every((s, i) => s.index === i + 1 && s.threshold === k && s.count === n)) {
      throw new InvalidEnvelope("the share stanzas are not shares 1..n of one split");
    }
  }
  const bytes = concat(...raw);
  return Object.freeze({
    version: FORMAT_GM, suite: GM_SUITE, binding, chunkSize, nonce, commitment,
    commitmentB64: encode(commitment), stanzas: Object.freeze(stanzas), shares: Object.freeze(shares),
    threshold: shares.length ? shares[0].threshold : null, mac, raw: bytes, size: bytes.length,
    keyIds() { return stanzas.map((s) => s.keyId); },
  });
}

/** Parse the gm-v1 header at the start of `source` (bytes, a Blob, a stream). */
export async function parseGmHeader(source) {
  if (source?.raw && source.version === FORMAT_GM) return source;
  const reader = new ByteReader(source, { readSize: MAX_HEADER_SIZE_GM });
  try {
    return await readGmHeader(reader);
  } finally {
    await reader.close();
  }
}

// --- file keys -------------------------------------------------------------------------------

function payloadKeyFor(header, fileKey) {
  fileKey = asBytes(fileKey);
  if (fileKey.length !== FILE_KEY_SIZE) throw new InvalidEnvelope(FAILED);
  const commitOk = equalConstantTime(derive(fileKey, header.nonce, "commitment"), header.commitment);
  const headerKey = derive(fileKey, header.nonce, "header");
  const macOk = equalConstantTime(hmacSm3(headerKey, header.raw.subarray(0, header.raw.length - 45)), header.mac);
  wipe(headerKey);
  if (!(commitOk & macOk)) throw new InvalidEnvelope(FAILED);
  return derive(fileKey, header.nonce, "payload", PAYLOAD_KEY_SIZE);
}

/** Check a file key against the header's commitment and HMAC-SM3 MAC. Throws InvalidEnvelope. */
export async function verifyGmFileKey(header, fileKey) {
  wipe(payloadKeyFor(await parseGmHeader(header), fileKey));
}

/**
 * The file key from the stanza addressed to `key` ({scalar: 32 bytes, point: 65 bytes}), checked
 * against the context hash and then the header; InvalidEnvelope if there is none or it fails.
 */
export async function unwrapGmFileKey(header, key) {
  header = await parseGmHeader(header);
  const stanza = header.stanzas.find((s) => s.keyId === gmKeyId(key.point));
  if (!stanza) throw new InvalidEnvelope(FAILED);
  let plaintext;
  try {
    plaintext = sm2Decrypt(key.scalar, stanza.body);
  } catch (error) {
    if (error instanceof SmError) throw new InvalidEnvelope(FAILED);
    throw error;
  }
  const ok = plaintext.length === 2 * FILE_KEY_SIZE
    && equalConstantTime(plaintext.subarray(FILE_KEY_SIZE), sm3(gmContext(header.binding)));
  const fileKey = plaintext.slice(0, FILE_KEY_SIZE);
  wipe(plaintext);
  if (!ok) throw new InvalidEnvelope(FAILED);
  try {
    await verifyGmFileKey(header, fileKey);
  } catch (error) {
    wipe(fileKey);
    throw error;
  }
  return fileKey;
}

// --- sealing ---------------------------------------------------------------------------------

function checkRecipients(recipients) {
  if (!Array.isArray(recipients) || recipients.length < 1 || recipients.length > MAX_RECIPIENTS_GM) {
    throw new RangeError(`an envelope has 1 to ${MAX_RECIPIENTS_GM} recipients`);
  }
  const checked = recipients.map((r) => {
    if (r?.role !== "bidder") throw new RangeError("gm-v1 recipients are bidder keys (backup is by shares)");
    const point = asBytes(r.publicKey);
    if (!isSm2Point(point)) throw new RangeError("a recipient's public key is not an SM2 point");
    return { point, keyId: gmKeyId(point) };
  });
  if (new Set(checked.map((r) => r.keyId)).size !== checked.length) throw new RangeError("recipients' keys must be distinct");
  return checked;
}

/**
 * Seal `source` (a File, a Blob, or bytes) as tender-envelope/gm-v1 to one to eight bidder SM2
 * keys (`recipients: [{role: "bidder", publicKey: 65-byte point}]`). Draws the file key and nonce,
 * writes the header, wipes the file key, and returns a GmSealer (the same interface as Sealer).
 * The platform names no custodians for a gm tender, so the browser writes no share stanzas.
 */
export async function sealGm(source, { tenderId, lotId, bidderId, recipients, chunkSize = DEFAULT_CHUNK_SIZE,
                                       custodians }) {
  if (custodians?.length) throw new RangeError("custodians of a gm tender are not supported in the browser");
  return sealGmWith(source, { tenderId, lotId, bidderId, recipients, chunkSize },
                    crypto.getRandomValues(new Uint8Array(FILE_KEY_SIZE)),
                    crypto.getRandomValues(new Uint8Array(NONCE_SIZE)));
}

/** `sealGm` with the file key and nonce given, and optionally the stanza bodies (SM2's k is the
 *  library's own, so a vector is reproduced from its bodies): only for tests. */
function sealGmWith(source, { tenderId, lotId, bidderId, recipients, chunkSize }, fileKey, nonce, bodies) {
  const blob = asBlob(source);
  checkId("tenderId", tenderId);
  checkId("lotId", lotId);
  checkId("bidderId", bidderId);
  checkChunkSize(chunkSize);
  const checked = checkRecipients(recipients);
  fileKey = asBytes(fileKey);
  if (fileKey.length !== FILE_KEY_SIZE || asBytes(nonce).length !== NONCE_SIZE) {
    throw new RangeError("file key must be 32 bytes and nonce 16 bytes");
  }
  const binding = { tenderId, lotId, bidderId };
  const headerKey = derive(fileKey, nonce, "header");
  try {
    const context = sm3(gmContext(binding));
    let text = `${FORMAT_GM}\n${bindingLines(binding)}chunk ${chunkSize}\nnonce ${encode(nonce)}\n`
      + `commit ${encode(derive(fileKey, nonce, "commitment"))}\n`;
    for (const [i, r] of checked.entries()) {
      const secret = concat(fileKey, context);
      const body = encode(bodies?.[i] ?? sm2Encrypt(r.point, secret));
      wipe(secret);
      text += `-> ${GM_SUITE} bidder ${r.keyId}\n`;
      for (let at = 0; at < body.length; at += 64) text += body.slice(at, at + 64) + "\n";
    }
    const macInput = utf8(text + "---");
    const raw = concat(macInput, utf8(` ${encode(hmacSm3(headerKey, macInput))}\n`));
    const payloadKey = derive(fileKey, nonce, "payload", PAYLOAD_KEY_SIZE); // before the file key is wiped
    return parseGmHeader(raw).then((header) => new GmSealer(header, payloadKey, blob)); // self-check: we read what we write
  } finally {
    wipe(headerKey);
    wipe(fileKey);
  }
}

function asBlob(source) {
  if (typeof source?.slice === "function" && typeof source?.size === "number" && !ArrayBuffer.isView(source)) {
    return source;
  }
  return new Blob([asBytes(source)]);
}

/** Encrypt one chunk (SM4-GCM under the payload key, the STREAM nonce, no AAD). */
export function encryptGmChunk(payloadKey, plaintext, index, final) {
  return sm4GcmEncrypt(payloadKey, chunkNonce(index, final), plaintext);
}

/**
 * The bytes of one gm-v1 envelope from any offset, as Sealer (envelope.js) gives a v1/v3 one:
 * `header`, `envelopeSize`, `commitment`, `pieces({offset, ahead})`, `toBlob()`, `state()`,
 * `GmSealer.resume(state, source)`. SM4 runs in JavaScript, synchronously: a chunk is read while
 * the consumer holds the one before (`ahead` is accepted and has no further effect).
 */
export class GmSealer {
  #payloadKey;

  constructor(header, payloadKey, source) {
    this.header = header;
    this.#payloadKey = payloadKey;
    this.source = source;
    Object.freeze(this);
  }

  get chunkSize() { return this.header.chunkSize; }
  get plaintextSize() { return this.source.size; }
  get headerSize() { return this.header.size; }
  get envelopeSize() { return this.header.size + payloadSize(this.source.size, this.chunkSize); }
  get commitment() { return this.header.commitmentB64; }

  async *pieces({ offset = 0, ahead = 0 } = {}) {
    if (!Number.isInteger(offset) || offset < 0 || offset > this.envelopeSize) throw new RangeError("offset out of range");
    if (!Number.isInteger(ahead) || ahead < 0 || ahead > 64) throw new RangeError("ahead is 0 to 64");
    const h = this.header.size;
    if (offset < h) yield this.header.raw.slice(offset);
    if (offset === this.envelopeSize) return;
    const at = Math.max(0, offset - h);
    const step = this.chunkSize + TAG_SIZE;
    let skip = at % step;
    const count = chunkCount(this.source.size, this.chunkSize);
    const reader = new ChunkReader(this.source, this.chunkSize, Math.floor(at / step));
    try {
      let read = reader.next();
      for (let i = Math.floor(at / step); i < count; i++) {
        const { index, plaintext } = await read;
        const ct = encryptGmChunk(this.#payloadKey, plaintext, index, index === count - 1);
        if (i + 1 < count) read = reader.next(); // the next read runs while this chunk is consumed
        yield skip ? ct.subarray(skip) : ct;
        skip = 0;
      }
    } finally {
      await reader.close();
    }
  }

  stream({ offset = 0 } = {}) {
    const iterator = this.pieces({ offset });
    return new ReadableStream({
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel() { await iterator.return(); },
    }, { highWaterMark: 0 });
  }

  async toBlob() {
    const parts = [];
    for await (const piece of this.pieces()) parts.push(piece);
    return new Blob(parts, { type: "application/octet-stream" });
  }

  state() {
    const file = this.source instanceof File
      ? { name: this.source.name, size: this.source.size, lastModified: this.source.lastModified } : null;
    return { format: FORMAT_GM, header: this.header.raw.slice(), payloadKey: this.#payloadKey.slice(),
             plaintextSize: this.source.size, file };
  }

  static async resume(state, source) {
    const blob = asBlob(source);
    if (state?.format !== FORMAT_GM || !(state.payloadKey instanceof Uint8Array)
        || state.payloadKey.length !== PAYLOAD_KEY_SIZE) throw new TypeError("not a sealer state");
    if (blob.size !== state.plaintextSize) throw new RangeError("not the file that was sealed");
    if (state.file && !(blob instanceof File && blob.name === state.file.name
                        && blob.lastModified === state.file.lastModified)) {
      throw new RangeError("not the file that was sealed");
    }
    return new GmSealer(await parseGmHeader(state.header), state.payloadKey.slice(), blob);
  }
}

export async function sealGmToBytes(source, options) {
  const sealer = await sealGm(source, options);
  return new Uint8Array(await (await sealer.toBlob()).arrayBuffer());
}

// --- opening ---------------------------------------------------------------------------------

/**
 * Verify and decrypt a gm-v1 envelope (bytes, a Blob, a stream or pieces), yielding plaintext
 * chunks, each after it authenticated; as envelope.js's openEnvelope (binding, file key, then
 * the STREAM rules: final flag, no empty last chunk after others, nothing appended).
 */
export async function* openGmEnvelope(source, { fileKey, expected } = {}) {
  const reader = new ByteReader(source);
  try {
    const header = await readGmHeader(reader);
    const b = header.binding;
    if (expected !== undefined && !(b.tenderId === expected.tenderId && b.lotId === expected.lotId
                                    && b.bidderId === expected.bidderId)) {
      throw new InvalidEnvelope("the envelope belongs to another tender, lot or bidder");
    }
    const key = payloadKeyFor(header, fileKey);
    const ctSize = header.chunkSize + TAG_SIZE;
    const buf = new Uint8Array(ctSize + 1);
    let have = await reader.fill(buf, 0);
    let counter = 0;
    const open = (final, chunk) => {
      try {
        return sm4GcmDecrypt(key, chunkNonce(counter, final), chunk);
      } catch {
        throw new InvalidEnvelope(FAILED);
      }
    };
    try {
      while (have > ctSize) {
        yield open(false, buf.subarray(0, ctSize));
        counter++;
        buf[0] = buf[ctSize];
        have = await reader.fill(buf, 1);
      }
      if (have < TAG_SIZE || (have === TAG_SIZE && counter > 0)) throw new InvalidEnvelope(FAILED);
      yield open(true, buf.subarray(0, have));
    } finally {
      wipe(key);
    }
  } finally {
    await reader.close();
  }
}

export async function openGmToBytes(source, options) {
  const parts = [];
  for await (const part of openGmEnvelope(source, options)) parts.push(part);
  return concat(...parts);
}

export const _internals = { sealGmWith };
