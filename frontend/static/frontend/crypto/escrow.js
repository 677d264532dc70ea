// Backup decryption without a dealer, the bidder's side in the browser (docs/envelope.md,
// Appendix C): the file key split k-of-n among the tender's custodians by replicated XOR sharing,
// each custodian's parts HPKE-wrapped to its own key — the `hpke-p256-rss` share stanzas of
// tender-envelope/v3, byte-compatible with crypto/replicated.py and crypto/escrow_shares.py.
//
// No field arithmetic: only the CSPRNG (crypto.getRandomValues), XOR, and the HPKE of hpke.js
// (WebCrypto's ECDH, HMAC and AES-GCM). For every k-subset T of 1..n (lexicographic order) the file
// key is split k-of-k by XOR among T's members; custodian i's share is its parts of the subsets that
// contain it, in that order (C(n-1, k-1) x 32 bytes). Any k custodians XOR their parts of their own
// subset back into the key; k - 1 miss a part of every subset and learn nothing.

import { asBytes, concat, decode, encode, utf8, wipe } from "./b64.js";
import {
  FILE_KEY_SIZE, FORMAT_V3, MAX_CUSTODIANS_V3, MIN_THRESHOLD, RSS_SUITE, bindingLines, bodyLineLengths,
  rssShareSize, shareBodySize,
} from "./header.js";
import { importPublicKey, sealBase } from "./hpke.js";
import { keyId, publicKeyBytes } from "./keyfile.js";

const PART = 32;

function checkCounts(k, n) {
  if (!Number.isInteger(k) || !Number.isInteger(n) || !(MIN_THRESHOLD <= k && k <= n && n <= MAX_CUSTODIANS_V3)) {
    throw new RangeError(`need ${MIN_THRESHOLD} <= threshold <= custodians <= ${MAX_CUSTODIANS_V3}`);
  }
}

/** The k-subsets of 1..n in lexicographic order. */
export function subsets(k, n) {
  checkCounts(k, n);
  const out = [];
  const walk = (from, chosen) => {
    if (chosen.length === k) { out.push(chosen); return; }
    for (let i = from; i <= n - (k - chosen.length) + 1; i++) walk(i + 1, [...chosen, i]);
  };
  walk(1, []);
  return out;
}

function xorInto(target, part) {
  for (let i = 0; i < PART; i++) target[i] ^= part[i];
}

function csprng(length) {
  return crypto.getRandomValues(new Uint8Array(length));
}

/**
 * The n shares of the 32-byte `fileKey` (element i - 1 is custodian i's). `random(length)` is the
 * CSPRNG; only the test vectors pass another.
 */
export function split(fileKey, k, n, random = csprng) {
  fileKey = asBytes(fileKey);
  if (fileKey.length !== FILE_KEY_SIZE) throw new RangeError("the file key is 32 bytes");
  const parts = Array.from({ length: n }, () => []);
  for (const subset of subsets(k, n)) {
    const last = fileKey.slice();
    for (const member of subset.slice(0, -1)) {
      const part = asBytes(random(PART));
      if (part.length !== PART) throw new RangeError("the random source returned a short value");
      parts[member - 1].push(part);
      xorInto(last, part);
    }
    parts[subset[subset.length - 1] - 1].push(last);
  }
  return parts.map((p) => concat(...p));
}

/** The file key from exactly k shares `{index: Uint8Array}` (a check of `split`; the custodians'
 *  recovery itself runs in Python). Wrong shares give a wrong key: verify it against the header. */
export function combine(shares, k, n) {
  const indices = Object.keys(shares).map(Number).sort((a, b) => a - b);
  const size = rssShareSize(k, n);
  if (indices.length !== k || indices.some((i) => !(1 <= i && i <= n))) throw new RangeError(`exactly ${k} shares are needed`);
  const all = subsets(k, n);
  const subset = all.find((s) => s.every((m, j) => m === indices[j]));
  const key = new Uint8Array(PART);
  for (const i of indices) {
    const share = asBytes(shares[i]);
    if (share.length !== size) throw new RangeError(`a share is ${size} bytes`);
    const at = all.filter((s) => s.includes(i)).indexOf(subset) * PART;
    xorInto(key, share.subarray(at, at + PART));
  }
  return key;
}

/**
 * Check the tender's custodians as the sealer receives them: `custodians` in index order 1..n,
 * each `{index, publicKey: 65-byte point | CryptoKey, keyId?}` (a given keyId must be its key's),
 * 2 <= threshold <= n <= 7, keys distinct. Returns `[{index, publicKey, keyId}]`.
 */
export async function checkCustodians(custodians, threshold) {
  if (!Array.isArray(custodians)) throw new RangeError("custodians must be an array");
  checkCounts(threshold, custodians.length);
  const checked = [];
  for (const [at, c] of custodians.entries()) {
    if (c?.index !== at + 1) throw new RangeError("custodians are given in index order 1..n");
    const publicKey = await publicKeyBytes(c.publicKey);
    try {
      await importPublicKey(publicKey);
    } catch {
      throw new RangeError("a custodian's public key is not a P-256 point");
    }
    const kid = await keyId(publicKey);
    if (c.keyId !== undefined && c.keyId !== kid) throw new RangeError("a custodian's key id is not its key's");
    checked.push({ index: c.index, publicKey, keyId: kid });
  }
  if (new Set(checked.map((c) => c.keyId)).size !== checked.length) throw new RangeError("custodians' keys must be distinct");
  return checked;
}

/** seal()'s check: the checked custodians of a v3 seal beside the checked `recipients` (bidder
 *  keys only, none of them a custodian's), or null when there are none (v1). */
export async function checkSplit(recipients, custodians, threshold) {
  if (custodians === undefined && threshold === undefined) return null;
  const checked = await checkCustodians(custodians, threshold);
  if (recipients.some((r) => r.role !== "bidder")) {
    throw new RangeError("a v3 envelope backs up through its custodians' shares, not an escrow key");
  }
  const ids = new Set(checked.map((c) => c.keyId));
  if (recipients.some((r) => ids.has(r.keyId))) throw new RangeError("recipients' and custodians' keys must be distinct");
  return checked;
}

/**
 * What `GET /api/v1/lots/{id}/escrow` says, as seal() takes it: `{custodians, threshold}`. Throws
 * RangeError for a set-up this sealer cannot write (a dealt escrow key is the caller's other case;
 * more than 7 custodians need tender-envelope/v2, which only sealbid writes).
 */
export function custodiansFromEscrow(escrow) {
  if (escrow?.scheme !== "shares" || escrow.envelope !== FORMAT_V3 || !Array.isArray(escrow.custodians)) {
    throw new RangeError("this tender's custodians need a tender-envelope/v3 set-up");
  }
  return {
    threshold: escrow.threshold,
    custodians: escrow.custodians.map((c) => ({ index: c.index, keyId: c.key_id, publicKey: decode(c.public_key, 65) })),
  };
}

/** HPKE `info` of one v3 share stanza (docs/envelope.md, Appendix C). */
export function shareInfo(binding, commitment, { index, threshold, count, keyId: kid }) {
  return utf8(`${FORMAT_V3}\n${bindingLines(binding)}commit ${encode(commitment)}\n`
              + `share ${index} ${threshold} ${count} ${kid}`);
}

/**
 * The header text of the share stanzas: split `fileKey` and wrap custodian i's share to its key.
 * `checked` is checkCustodians' result. Options (test vectors only): `ephemerals` (one HPKE
 * ephemeral key pair per custodian) and `random` (the split's randomness).
 */
export async function shareStanzas(binding, commitment, fileKey, checked, threshold, { ephemerals = [], random } = {}) {
  const n = checked.length;
  const shares = split(fileKey, threshold, n, random);
  const size = shareBodySize(FORMAT_V3, threshold, n);
  let text = "";
  try {
    for (const [at, c] of checked.entries()) {
      const info = shareInfo(binding, commitment, { index: c.index, threshold, count: n, keyId: c.keyId });
      const { enc, ct } = await sealBase(c.publicKey, info, new Uint8Array(0), shares[at], { ephemeral: ephemerals[at] });
      const body = encode(concat(enc, ct));
      if (enc.length + ct.length !== size) throw new RangeError("HPKE wrap produced an unexpected length");
      text += `-> ${RSS_SUITE} ${c.index} ${threshold} ${n} ${c.keyId}\n`;
      let pos = 0;
      for (const length of bodyLineLengths(size)) {
        text += body.slice(pos, pos + length) + "\n";
        pos += length;
      }
    }
  } finally {
    shares.forEach(wipe);
  }
  return text;
}
