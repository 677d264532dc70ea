// The tender-envelope/v1 and /v2 header (docs/envelope.md, "Header" and Appendix B): constants,
// the one error, and the strict parser that the platform's submission check also applies
// (crypto/envelope_header.py read_header). Parsing needs no secret and does not verify the MAC.
// v2 adds the custodians' share stanzas; this module reads them (a bidder opens its own v2 bid
// here) but the browser does not write v2 (docs/browser-crypto.md, "Backup decryption").

import { concat, decode, encode, utf8 } from "./b64.js";
import { importPublicKey } from "./hpke.js";
import { ByteReader, checkChunkSize } from "./stream.js";

export const FORMAT = "tender-envelope/v1";
export const FORMAT_V2 = "tender-envelope/v2";
export const SUITE = "hpke-p256"; // DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
export const SHARE_SUITE = "hpke-p256-share";
export const ROLES = Object.freeze(["bidder", "escrow"]);
const ROLES_BY_VERSION = { [FORMAT]: ROLES, [FORMAT_V2]: Object.freeze(["bidder"]) };
export const MIN_THRESHOLD = 2;
export const MAX_CUSTODIANS = 10;
const SMALL = /^[1-9][0-9]?$/;
export const FILE_KEY_SIZE = 32;
export const NONCE_SIZE = 16;
export const MAX_RECIPIENTS = 8;
export const MAX_HEADER_SIZE = 4096;
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

/** HPKE `info`: the first four header lines, then `role <role>` (no final LF). */
export function hpkeInfo(binding, role, version = FORMAT) {
  return utf8(`${version}\n${bindingLines(binding)}role ${role}`);
}

function latin1(bytes) {
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

  async function line() {
    const text = await reader.readLine(Math.min(MAX_LINE, MAX_HEADER_SIZE - rawSize));
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
  if (version !== FORMAT && version !== FORMAT_V2) {
    throw new InvalidEnvelope(`not a ${FORMAT} or ${FORMAT_V2} envelope`);
  }
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
    if (version === FORMAT_V2 && text.startsWith(`-> ${SHARE_SUITE} `)) {
      shares.push(await parseShare(text, line));
      if (shares.length > MAX_CUSTODIANS) throw new InvalidEnvelope("too many share stanzas");
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
  if (version === FORMAT_V2) checkShareSet(shares);
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

function checkShareSet(shares) {
  if (!shares.length) throw new InvalidEnvelope("a v2 envelope carries its share stanzas");
  const { threshold: k, count: n } = shares[0];
  if (!(MIN_THRESHOLD <= k && k <= n && n <= MAX_CUSTODIANS) || shares.length !== n) {
    throw new InvalidEnvelope("the share stanzas' threshold and count are out of range");
  }
  if (!shares.every((s, i) => s.index === i + 1 && s.threshold === k && s.count === n)) {
    throw new InvalidEnvelope("the share stanzas are not shares 1..n of one split");
  }
}

async function parseShare(text, line) {
  const parts = text.split(" ");
  if (parts.length !== 6 || !parts.slice(2, 5).every((p) => SMALL.test(p)) || !KEY_ID.test(parts[5])) {
    throw new InvalidEnvelope("malformed share stanza");
  }
  const [index, threshold, count] = parts.slice(2, 5).map(Number);
  return Object.freeze({ index, threshold, count, keyId: parts[5], body: await stanzaBody(line) });
}

async function parseStanza(text, line, roles = ROLES) {
  const parts = text.split(" ");
  if (parts.length !== 4 || parts[0] !== "->" || parts[1] !== SUITE || !roles.includes(parts[2])
      || !KEY_ID.test(parts[3])) {
    throw new InvalidEnvelope("malformed recipient stanza");
  }
  return Object.freeze({ role: parts[2], keyId: parts[3], body: await stanzaBody(line) });
}

async function stanzaBody(line) {
  const bodyLines = [];
  for (const _ of BODY_LINES) bodyLines.push(await line());
  if (!bodyLines.every((b, i) => b.length === BODY_LINES[i])) {
    throw new InvalidEnvelope("malformed recipient stanza body");
  }
  let body;
  try {
    body = decode(bodyLines.join(""), STANZA_BODY_SIZE);
    await importPublicKey(body.subarray(0, 65)); // enc must be a point on the curve
  } catch {
    throw new InvalidEnvelope("malformed recipient stanza body");
  }
  return body;
}

/** Parse the header at the start of `source` (bytes, a Blob, a stream): reads only the header. */
export async function parseHeader(source) {
  const reader = new ByteReader(source, { readSize: MAX_HEADER_SIZE });
  try {
    return await readHeader(reader);
  } finally {
    await reader.close();
  }
}
