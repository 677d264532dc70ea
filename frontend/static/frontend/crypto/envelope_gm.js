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
import { asBytes, concat, encode, equalConstantTime, utf8, wipe } from "./b64.js";
import { FAILED, FILE_KEY_SIZE, InvalidEnvelope, NONCE_SIZE, bindingLines, checkId } from "./header.js";
import { ByteReader, DEFAULT_CHUNK_SIZE, TAG_SIZE, checkChunkSize, chunkNonce } from "./stream.js";
import { hmacSm3, isSm2Point, sm2Decrypt, sm2Encrypt, sm3, sm4GcmDecrypt, SmError } from "./sm.js";
import { FORMAT_GM, GM_SUITE, MAX_RECIPIENTS_GM, PAYLOAD_KEY_SIZE, derive, gmContext, gmKeyId, parseGmHeader,
         readGmHeader } from "./gm_header.js";
import { GmSealer, asBlob } from "./gm_sealer.js";

export * from "./gm_header.js";
export { GmSealer, encryptGmChunk, gmWorkers } from "./gm_sealer.js";

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
