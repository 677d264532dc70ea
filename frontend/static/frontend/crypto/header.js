// The tender-envelope/v1, /v2 and /v3 header (docs/envelope.md, "Header" and Appendices B, C):
// constants, the one error, and the strict parser that the platform's submission check also
// applies (crypto/envelope_header.py read_header). Parsing needs no secret and does not verify the
// MAC. v2 and v3 add the custodians' share stanzas (v2: Shamir's scheme, read only here; v3:
// replicated XOR sharing, which escrow.js writes).

import { concat, decode, encode, utf8 } from "./b64.js";
import { importPublicKey } from "./hpke.js";
import { ByteReader, checkChunkSize } from "./stream.js";

export const FORMAT = "tender-envelope/v1";
export const FORMAT_V2 = "tender-envelope/v2";
export const FORMAT_V3 = "tender-envelope/v3";
export const VERSIONS = Object.freeze([FORMAT, FORMAT_V2, FORMAT_V3]);
export const SUITE = "hpke-p256"; // DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
export const SHARE_SUITE = "hpke-p256-share"; // v2: one Shamir share
export const RSS_SUITE = "hpke-p256-rss"; // v3: one custodian's replicated XOR parts
const SHARE_SUITES = { [FORMAT_V2]: SHARE_SUITE, [FORMAT_V3]: RSS_SUITE };
export const ROLES = Object.freeze(["bidder", "escrow"]);
const BIDDER_ONLY = Object.freeze(["bidder"]);
const ROLES_BY_VERSION = { [FORMAT]: ROLES, [FORMAT_V2]: BIDDER_ONLY, [FORMAT_V3]: BIDDER_ONLY };
export const MIN_THRESHOLD = 2;
export const MAX_CUSTODIANS = 10; // v2
export const MAX_CUSTODIANS_V3 = 7; // the share grows as C(n-1, k-1)
const MAX_SHARES = { [FORMAT_V2]: MAX_CUSTODIANS, [FORMAT_V3]: MAX_CUSTODIANS_V3 };
const SMALL = /^[1-9][0-9]?$/;
export const FILE_KEY_SIZE = 32;
export const NONCE_SIZE = 16;
export const MAX_RECIPIENTS = 8;
export const MAX_HEADER_SIZE = 4096; // v1 and v2
export const MAX_HEADER_SIZE_V3 = 16384;
const MAX_LINE = 128; // longer than any valid line (the longest is "bidder " + 64 + LF)
const STANZA_BODY_SIZE = 65 + 48; // enc || HPKE ciphertext of the 32-byte file key
const BODY_LINES = [64, 64, 23];
const ID = /^[\x21-\x7e]{1,64}$/;
const CHUNK = /^[1-9][0-9]{0,7}$/;
const KEY_ID = /^[0-9a-f]{16}$/;
export const FAILED = "the envelope failed verification"; // one message for every secret-dependent check

/** The envelope is malformed, was tampered with, or does not open with the given key. */
export class InvalidEnvelope extends Error {
  constructor(message = FAILED) {
    super(message);
    this.name = "InvalidEnvelope";
  }
}

export function checkId(name, value) {
  if (typeof value !== "string" || !ID.test(value)) {
    throw new RangeError(`${name} must be 1-64 printable ASCII characters, no spaces`);
  }
}

export function bindingLines({ tenderId, lotId, bidderId }) {
  return `tender ${tenderId}\nlot ${lotId}\nbidder ${bidderId}\n`;
}

/** Bytes of one custodian's v3 share: C(n-1, k-1) parts of 32 bytes. */
export function rssShareSize(k, n) {
  let c = 1; // C(n-1, k-1), exact in doubles for n <= 7
  for (let i = 1; i < k; i++) c = (c * (n - i)) / i;
  return c * 32;
}

/** A share stanza's body: enc (65) || the share || the AEAD tag (16). */
export function shareBodySize(version, k, n) {
  return version === FORMAT_V3 ? 65 + rssShareSize(k, n) + 16 : STANZA_BODY_SIZE;
}

/** The line lengths of a stanza body of `size` bytes: unpadded base64 cut at 64 columns. */
export function bodyLineLengths(size) {
  const chars = Math.floor((4 * size + 2) / 3);
  const out = new Array(Math.floor(chars / 64)).fill(64);
  if (chars % 64) out.push(chars % 64);
  return out;
}

/** HPKE `info`: the first four header lines, then `role <role>` (no final LF). */
export function hpkeInfo(binding, role, version = FORMAT) {
  return utf8(`${version}\n${bindingLines(binding)}role ${role}`);
}

/**
 * The lines after the version, the same in every version (gm-v1 too): the binding, the chunk size,
 * the nonce and the commitment, read through ``value(name)`` (the parser's own line reader).
 */
export async function readPreamble(value) {
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
  return { binding, chunkSize, nonce, commitment };
}

export function latin1(bytes) {
  return String.fromCharCode.apply(null, bytes);
}

/**
 * Read and structurally validate a header from a ByteReader, leaving it at the first payload
 * byte. Needs no secret; does NOT verify the MAC (that takes the file key). Throws InvalidEnvelope
 * whose message names the structural problem (nothing an attacker could not see in the header).
 */
export async function readHeader(reader) {
  const raw = [];
  let rawSize = 0;
  let limit = MAX_HEADER_SIZE;

  async function line() {
    const text = await reader.readLine(Math.min(MAX_LINE, limit - rawSize));
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

  // The version is checked before anything else is read (docs/envelope.md, "Versioning").
  const version = await line();
  if (!VERSIONS.includes(version)) throw new InvalidEnvelope(`not a ${VERSIONS.join(", ")} envelope`);
  if (version === FORMAT_V3) limit = MAX_HEADER_SIZE_V3;
  const { binding, chunkSize, nonce, commitment } = await readPreamble(value);
  const stanzas = [];
  const shares = [];
  let text;
  for (;;) {
    text = await line();
    if (text.startsWith("--- ")) break;
    const shareSuite = SHARE_SUITES[version];
    if (shareSuite && text.startsWith(`-> ${shareSuite} `)) {
      shares.push(await parseShare(text, line, version));
      if (shares.length > MAX_SHARES[version]) throw new InvalidEnvelope("too many share stanzas");
      continue;
    }
    if (shares.length) throw new InvalidEnvelope("recipient stanzas come before the share stanzas");
    stanzas.push(await parseStanza(text, line, ROLES_BY_VERSION[version]));
    if (stanzas.length > MAX_RECIPIENTS) throw new InvalidEnvelope("too many recipient stanzas");
  }
  let mac;
  try {
    mac = decode(text.slice(4), 32);
  } catch {
    throw new InvalidEnvelope("malformed header MAC");
  }
  if (!stanzas.some((s) => s.role === "bidder")) throw new InvalidEnvelope("no bidder recipient");
  const allIds = [...stanzas, ...shares].map((s) => s.keyId);
  if (new Set(allIds).size !== allIds.length) throw new InvalidEnvelope("duplicate recipient key id");
  if (SHARE_SUITES[version]) checkShareSet(shares, MAX_SHARES[version]);
  const bytes = concat(...raw);
  return Object.freeze({
    version,
    shares: Object.freeze(shares),
    threshold: shares.length ? shares[0].threshold : null,
    suite: SUITE,
    binding,
    chunkSize,
    nonce,
    commitment,
    commitmentB64: encode(commitment), // what a receipt carries
    stanzas: Object.freeze(stanzas),
    mac,
    raw: bytes, // the exact header bytes, MAC line included
    size: bytes.length,
    keyIds(role) {
      return stanzas.filter((s) => role === undefined || s.role === role).map((s) => s.keyId);
    },
  });
}

function checkShareSet(shares, maxCount) {
  if (!shares.length) throw new InvalidEnvelope("a v2 or v3 envelope carries its share stanzas");
  const { threshold: k, count: n } = shares[0];
  if (!(MIN_THRESHOLD <= k && k <= n && n <= maxCount) || shares.length !== n) {
    throw new InvalidEnvelope("the share stanzas' threshold and count are out of range");
  }
  if (!shares.every((s, i) => s.index === i + 1 && s.threshold === k && s.count === n)) {
    throw new InvalidEnvelope("the share stanzas are not shares 1..n of one split");
  }
}

async function parseShare(text, line, version) {
  const parts = text.split(" ");
  if (parts.length !== 6 || !parts.slice(2, 5).every((p) => SMALL.test(p)) || !KEY_ID.test(parts[5])) {
    throw new InvalidEnvelope("malformed share stanza");
  }
  const [index, threshold, count] = parts.slice(2, 5).map(Number);
  // v3: the body's size follows from k and n, so they are checked before it is read
  if (version === FORMAT_V3 && !(MIN_THRESHOLD <= threshold && threshold <= count
                                 && count <= MAX_CUSTODIANS_V3 && index <= count)) {
    throw new InvalidEnvelope("the share stanzas' threshold and count are out of range");
  }
  const body = await stanzaBody(line, shareBodySize(version, threshold, count));
  return Object.freeze({ index, threshold, count, keyId: parts[5], body });
}

async function parseStanza(text, line, roles = ROLES) {
  const parts = text.split(" ");
  if (parts.length !== 4 || parts[0] !== "->" || parts[1] !== SUITE || !roles.includes(parts[2])
      || !KEY_ID.test(parts[3])) {
    throw new InvalidEnvelope("malformed recipient stanza");
  }
  return Object.freeze({ role: parts[2], keyId: parts[3], body: await stanzaBody(line) });
}

async function stanzaBody(line, size = STANZA_BODY_SIZE) {
  const lengths = size === STANZA_BODY_SIZE ? BODY_LINES : bodyLineLengths(size);
  const bodyLines = [];
  for (const _ of lengths) bodyLines.push(await line());
  if (!bodyLines.every((b, i) => b.length === lengths[i])) {
    throw new InvalidEnvelope("malformed recipient stanza body");
  }
  let body;
  try {
    body = decode(bodyLines.join(""), size);
    await importPublicKey(body.subarray(0, 65)); // enc must be a point on the curve
  } catch {
    throw new InvalidEnvelope("malformed recipient stanza body");
  }
  return body;
}

/** Parse the header at the start of `source` (bytes, a Blob, a stream): reads only the header. */
export async function parseHeader(source) {
  const reader = new ByteReader(source, { readSize: MAX_HEADER_SIZE_V3 });
  try {
    return await readHeader(reader);
  } finally {
    await reader.close();
  }
}
