// The tender-envelope sealed-bid format (docs/envelope.md) in the browser, byte-compatible with
// crypto/envelope.py: v1, and v3 for a tender with custodians (the file key also split among them,
// escrow.js); v2 envelopes (sealbid's, Shamir's scheme) are read.
//
// Who calls what:
// - the bidder's page: `seal(file, ...)` then uploads `sealer.pieces({offset})`; at the opening
//   `unwrapFileKey(header, key)` with the key from keystore.js, and sends the 32-byte file key;
// - anyone holding the file key: `verifyFileKey(header, fileKey)`, `openEnvelope(...)`.
//
// Every failure to parse, verify or decrypt an envelope throws the one InvalidEnvelope; messages
// for secret-dependent checks are identical, so an error never says which of them failed. Misuse
// by the caller (bad ids, recipients, chunk size, key types) throws RangeError/TypeError instead.

import { asBytes, concat, encode, equalConstantTime, utf8, wipe } from "./b64.js";
import {
  FAILED, FILE_KEY_SIZE, FORMAT, FORMAT_V3, InvalidEnvelope, MAX_RECIPIENTS, NONCE_SIZE, ROLES, SUITE, VERSIONS,
  bindingLines, checkId, hpkeInfo, parseHeader, readHeader,
} from "./header.js";
import { checkSplit, shareStanzas } from "./escrow.js";
import { SealerCore, asBlob, checkSameSource } from "./sealer_core.js";
import { HpkeError, importPublicKey, openBase, sealBase } from "./hpke.js";
import { keyId, publicKeyBytes } from "./keyfile.js";
import { ByteReader, DEFAULT_CHUNK_SIZE, StreamError, checkChunkSize, decryptChunks, encryptBytes } from "./stream.js";

export {
  FILE_KEY_SIZE, FORMAT, FORMAT_V2, FORMAT_V3, InvalidEnvelope, MAX_HEADER_SIZE, MAX_RECIPIENTS, NONCE_SIZE, ROLES, SUITE, hpkeInfo,
  parseHeader, readHeader,
} from "./header.js";
export { keyId, publicKeyBytes };
const subtle = globalThis.crypto.subtle;

// --- derived keys ------------------------------------------------------------------------------

function hkdfParams(nonce, purpose, version = FORMAT) {
  return { name: "HKDF", hash: "SHA-256", salt: nonce, info: utf8(`${version} ${purpose}`) };
}

async function fileKeyMaterial(fileKey) {
  return subtle.importKey("raw", fileKey, "HKDF", false, ["deriveBits", "deriveKey"]);
}

async function derivedKeys(fileKey, nonce, version = FORMAT) {
  const material = await fileKeyMaterial(fileKey);
  return {
    commitment: new Uint8Array(await subtle.deriveBits(hkdfParams(nonce, "commitment", version), material, 256)),
    headerKey: await subtle.deriveKey(hkdfParams(nonce, "header", version), material,
                                      { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign", "verify"]),
    // Non-extractable: the payload key never exists as bytes in the page.
    payloadKey: await subtle.deriveKey(hkdfParams(nonce, "payload", version), material,
                                       { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]),
  };
}

// --- file keys -----------------------------------------------------------------------------------

/** Check a file key against the header's commitment and MAC; return the payload key. */
async function payloadKeyFor(header, fileKey) {
  fileKey = asBytes(fileKey);
  if (fileKey.length !== FILE_KEY_SIZE) throw new InvalidEnvelope(FAILED);
  const { commitment, headerKey, payloadKey } = await derivedKeys(fileKey, header.nonce, header.version);
  const macInput = header.raw.subarray(0, header.raw.length - 45); // up to and including "---"
  // Both checks always run: the error must not say which failed. subtle.verify compares the
  // HMAC in constant time.
  const commitOk = equalConstantTime(commitment, header.commitment);
  const macOk = await subtle.verify("HMAC", headerKey, header.mac, macInput);
  if (!(commitOk & macOk)) throw new InvalidEnvelope(FAILED);
  return payloadKey;
}

/**
 * Check a released file key against the header's commitment and MAC, in constant time: the
 * check that makes the envelope key-committing. `header` is a parsed header (or the envelope's
 * bytes or Blob, whose header is parsed first). Throws InvalidEnvelope.
 */
export async function verifyFileKey(header, fileKey) {
  await payloadKeyFor(await asHeader(header), fileKey);
}

/** A parsed header, or the header parsed from the start of an envelope's bytes or Blob. */
async function asHeader(header) {
  return header?.stanzas && header.raw ? header : parseHeader(header);
}

async function recipientKey(key) {
  const privateKey = key?.privateKey;
  if (!(privateKey instanceof CryptoKey) || privateKey.type !== "private"
      || privateKey.algorithm.name !== "ECDH" || privateKey.algorithm.namedCurve !== "P-256") {
    throw new TypeError("expected {privateKey: an ECDH P-256 CryptoKey, publicKey}");
  }
  return { privateKey, publicKey: await publicKeyBytes(key.publicKey) };
}

/**
 * Recover the file key from the stanza addressed to `key` (and `role`, if given): `header` as
 * for verifyFileKey; `key` is `{privateKey: CryptoKey, publicKey: Uint8Array | CryptoKey}`, e.g. a
 * keystore record. The file key is verified against the header before it is returned (32 bytes,
 * to release at the opening).
 * Throws InvalidEnvelope if no stanza is addressed to this key, or it does not unwrap or verify.
 */
export async function unwrapFileKey(header, key, { role } = {}) {
  header = await asHeader(header);
  const recipient = await recipientKey(key);
  if (role !== undefined && !ROLES.includes(role)) throw new RangeError(`role must be one of ${ROLES}`);
  const kid = await keyId(recipient.publicKey);
  const stanza = header.stanzas.find((s) => s.keyId === kid && (role === undefined || s.role === role));
  if (!stanza) throw new InvalidEnvelope(FAILED);
  let fileKey;
  try {
    const info = hpkeInfo(header.binding, stanza.role, header.version);
    fileKey = await openBase(stanza.body.subarray(0, 65), recipient, info,
                             new Uint8Array(0), stanza.body.subarray(65));
  } catch (error) {
    if (error instanceof HpkeError) throw new InvalidEnvelope(FAILED);
    throw error;
  }
  try {
    await verifyFileKey(header, fileKey);
  } catch (error) {
    wipe(fileKey);
    throw error;
  }
  return fileKey;
}

// --- sealing -------------------------------------------------------------------------------------

async function checkRecipients(recipients) {
  if (!Array.isArray(recipients) || recipients.length < 1 || recipients.length > MAX_RECIPIENTS) {
    throw new RangeError(`an envelope has 1 to ${MAX_RECIPIENTS} recipients`);
  }
  const checked = [];
  for (const r of recipients) {
    if (!ROLES.includes(r?.role)) throw new RangeError(`role must be one of ${ROLES}`);
    const publicKey = await publicKeyBytes(r.publicKey);
    try {
      await importPublicKey(publicKey);
    } catch {
      throw new RangeError("a recipient's public key is not a P-256 point");
    }
    checked.push({ role: r.role, publicKey, keyId: await keyId(publicKey) });
  }
  if (!checked.some((r) => r.role === "bidder")) throw new RangeError("an envelope needs at least one bidder recipient");
  if (new Set(checked.map((r) => r.keyId)).size !== checked.length) {
    throw new RangeError("recipients' keys must be distinct");
  }
  return checked;
}

/**
 * Seal `source` (a File, a Blob, or bytes) for the given tender, lot and bidder.
 * `recipients`: one to eight `{role: "bidder" | "escrow", publicKey: 65-byte point | CryptoKey}`,
 * at least one bidder. With `custodians` (the tender's, `[{index, publicKey, keyId?}]` in index
 * order: escrow.custodiansFromEscrow) and `threshold`, the envelope is tender-envelope/v3: the
 * file key is also split k-of-n among them (escrow.js), and recipients are bidder keys only.
 * Draws a fresh file key and nonce, writes the header (wrapping the file key to each recipient)
 * and returns a Sealer that produces the envelope's bytes on demand. The file key is wiped once
 * the header is written; the Sealer keeps only the non-extractable payload key.
 */
export async function seal(source, { tenderId, lotId, bidderId, recipients, chunkSize = DEFAULT_CHUNK_SIZE,
                                     custodians, threshold }) {
  return sealWith(source, { tenderId, lotId, bidderId, recipients, chunkSize, custodians, threshold },
                  crypto.getRandomValues(new Uint8Array(FILE_KEY_SIZE)),
                  crypto.getRandomValues(new Uint8Array(NONCE_SIZE)), []);
}

/** `seal` with the file key, nonce and HPKE ephemeral keys (bidder stanzas, then custodians') and
 *  the split's randomness given: only for the test vectors. */
async function sealWith(source, options, fileKey, nonce, ephemerals, random) {
  const { tenderId, lotId, bidderId, recipients, chunkSize, custodians, threshold } = options;
  const blob = asBlob(source);
  checkId("tenderId", tenderId);
  checkId("lotId", lotId);
  checkId("bidderId", bidderId);
  checkChunkSize(chunkSize);
  const checked = await checkRecipients(recipients);
  const split = await checkSplit(checked, custodians, threshold);
  const version = split ? FORMAT_V3 : FORMAT;
  if (asBytes(fileKey).length !== FILE_KEY_SIZE || asBytes(nonce).length !== NONCE_SIZE) {
    throw new RangeError("file key must be 32 bytes and nonce 16 bytes");
  }
  const binding = { tenderId, lotId, bidderId };
  try {
    const { commitment, headerKey, payloadKey } = await derivedKeys(fileKey, nonce, version);
    let text = `${version}\n${bindingLines(binding)}chunk ${chunkSize}\nnonce ${encode(nonce)}\n`
      + `commit ${encode(commitment)}\n`;
    for (const [i, r] of checked.entries()) {
      const { enc, ct } = await sealBase(r.publicKey, hpkeInfo(binding, r.role, version), new Uint8Array(0), fileKey,
                                         { ephemeral: ephemerals[i] });
      const body = encode(concat(enc, ct));
      text += `-> ${SUITE} ${r.role} ${r.keyId}\n`;
      for (let at = 0; at < body.length; at += 64) text += body.slice(at, at + 64) + "\n";
    }
    if (split) {
      text += await shareStanzas(binding, commitment, fileKey, split, threshold,
                                 { ephemerals: ephemerals.slice(checked.length), random });
    }
    const macInput = utf8(text + "---");
    const mac = new Uint8Array(await subtle.sign("HMAC", headerKey, macInput));
    const raw = concat(macInput, utf8(` ${encode(mac)}\n`));
    const header = await parseHeader(raw); // self-check: what we write, we can read
    return new Sealer(header, payloadKey, blob);
  } finally {
    wipe(fileKey);
  }
}

// The AES-256-GCM suite of SealerCore (sealer_core.js): chunks encrypted with WebCrypto from one
// reader and one reused plaintext buffer: chunk i+1 is read while chunk i is being encrypted
// (WebCrypto took its copy when encrypt was called); up to `ahead` more are in flight, so memory
// stays at about 2 × (`ahead` + 1) chunks.
const AES_GCM_SUITE = Object.freeze({
  async *chunks(payloadKey, reader, { first, count, ahead }) {
    const pending = [];
    let next = first;
    let chain = Promise.resolve();
    const launch = (limit) => {
      while (pending.length < limit && next < count) {
        next++;
        const started = chain.then(async () => {
          const { index, plaintext } = await reader.next();
          return { ct: encryptBytes(payloadKey, plaintext, index, index === count - 1) };
        });
        chain = started;
        const p = started.then(({ ct }) => ct);
        p.catch(() => {}); // awaited in order below; a later chunk's error must not go unhandled
        pending.push(p);
        started.catch(() => {});
      }
    };
    try {
      for (launch(ahead + 1); pending.length; launch(ahead + 1)) {
        const ct = await pending.shift();
        launch(ahead); // keep `ahead` chunks in flight while the consumer holds this one
        yield ct;
      }
    } finally {
      pending.length = 0;
      await chain.catch(() => {});
    }
  },
  exportKey: (payloadKey) => payloadKey, // a non-extractable CryptoKey: structured-cloneable as it is
});

/**
 * Produces the bytes of one sealed v1/v3 envelope (SealerCore: `header`, `envelopeSize`,
 * `commitment`, `pieces({offset, ahead})`, `stream`, `toBlob`, `state()`), its chunks AES-256-GCM
 * under the non-extractable payload key. Memory stays at about two chunks.
 */
export class Sealer extends SealerCore {
  constructor(header, payloadKey, source) {
    super(AES_GCM_SUITE, header, payloadKey, source);
  }

  /**
   * Rebuild a Sealer from `state()` and the same source (checkSameSource). Because the payload
   * key is fixed, every chunk comes out identical to the first time, so an upload can continue at
   * any offset. A gm-v1 state (envelope_gm.js) is handed to GmSealer.resume, so the upload
   * pipeline needs no change.
   */
  static async resume(state, source) {
    if (state?.format === "tender-envelope/gm-v1") { // the 国密 suite's sealer (loaded only when needed)
      const { GmSealer } = await import("./envelope_gm.js");
      return GmSealer.resume(state, source);
    }
    const blob = asBlob(source);
    if (!VERSIONS.includes(state?.format) || !(state.payloadKey instanceof CryptoKey)) throw new TypeError("not a sealer state");
    checkSameSource(state, blob);
    const header = await parseHeader(state.header);
    if (header.version !== state.format) throw new TypeError("not a sealer state");
    return new Sealer(header, state.payloadKey, blob);
  }
}

/** Seal bytes (or a Blob) and return the whole envelope as a Uint8Array. Same options as seal. */
export async function sealToBytes(source, options) {
  const sealer = await seal(source, options);
  return new Uint8Array(await (await sealer.toBlob()).arrayBuffer());
}

// --- opening -------------------------------------------------------------------------------------

function sameBinding(a, b) {
  return a.tenderId === b.tenderId && a.lotId === b.lotId && a.bidderId === b.bidderId;
}

/**
 * Verify and decrypt an envelope from `source` (bytes, a Blob, a ReadableStream or an async
 * iterable of byte pieces), yielding plaintext chunks. Order: parse the header; compare its
 * binding with `expected` ({tenderId, lotId, bidderId}) when given; verify `fileKey`; only then
 * decrypt, each chunk yielded only after it authenticated. Throws InvalidEnvelope on any failure,
 * after which plaintext already yielded MUST be discarded (it is not proven complete).
 */
export async function* openEnvelope(source, { fileKey, expected } = {}) {
  const reader = new ByteReader(source);
  try {
    const header = await readHeader(reader);
    if (expected !== undefined && !sameBinding(header.binding, expected)) {
      throw new InvalidEnvelope("the envelope belongs to another tender, lot or bidder");
    }
    const payloadKey = await payloadKeyFor(header, fileKey);
    try {
      yield* decryptChunks(payloadKey, reader, header.chunkSize);
    } catch (error) {
      if (error instanceof StreamError) throw new InvalidEnvelope(FAILED);
      throw error;
    }
  } finally {
    await reader.close();
  }
}

/** `openEnvelope` into one Uint8Array, returned only if all of it verified. */
export async function openToBytes(source, options) {
  const parts = [];
  for await (const part of openEnvelope(source, options)) parts.push(part);
  return concat(...parts);
}

// Test-only hooks: deterministic sealing for the checked-in vectors.
export const _internals = { sealWith };
