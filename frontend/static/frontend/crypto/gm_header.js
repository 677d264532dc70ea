// The tender-envelope/gm-v1 header (docs/envelope.md, Appendix D) in the browser: its constants,
// key ids, the SM2 stanzas' context, and the strict parser (the checks of
// crypto.envelope_header.read_header for gm-v1). envelope_gm.js re-exports all of it.

import { asBytes, concat, decode, encode, toHex, utf8 } from "./b64.js";
import { InvalidEnvelope, MIN_THRESHOLD, bindingLines, latin1, readPreamble } from "./header.js";
import { ByteReader } from "./stream.js";
import { hkdfSm3, isSm2Point, sm3 } from "./sm.js";

export const FORMAT_GM = "tender-envelope/gm-v1";
export const GM_SUITE = "sm2";
export const GM_SHARE_SUITE = "sm2-share";
export const GM_BODY_SIZE = 65 + 32 + 64; // C1 || C3 || C2 of file key || SM3(context)
export const MAX_HEADER_SIZE_GM = 8192;
export const MAX_RECIPIENTS_GM = 8;
export const MAX_CUSTODIANS_GM = 10;
export const PAYLOAD_KEY_SIZE = 16;
const BODY_LINES = [64, 64, 64, 23];
const MAX_LINE = 128;
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

/** HKDF-SM3 of the file key with a gm-v1 label. */
export function derive(fileKey, nonce, purpose, length = 32) {
  return hkdfSm3(fileKey, { salt: nonce, info: utf8(`${FORMAT_GM} ${purpose}`), length });
}

// --- the header ------------------------------------------------------------------------------

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
  const { binding, chunkSize, nonce, commitment } = await readPreamble(value);
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

