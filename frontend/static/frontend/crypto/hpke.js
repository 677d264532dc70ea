// HPKE (RFC 9180) base mode, single shot, for DHKEM(P-256, HKDF-SHA256) and HKDF-SHA256 with
// AES-128-GCM or AES-256-GCM, built only on WebCrypto's ECDH, HMAC and AES-GCM.
//
// Why not a library: WebCrypto has no HPKE, and the one suite tender-envelope/v1 uses needs
// only this much code. It is checked against RFC 9180 Appendix A.3.1 (P-256 / HKDF-SHA256 /
// AES-128-GCM, the official vector nearest to our suite), and against Python's `cryptography`
// HPKE and the repository's envelope vectors for AES-256-GCM (tests/e2e/test_browser_crypto.py).
//
// The sender may pass its own ephemeral key: the checked-in vectors fix theirs, and reproducing
// them byte for byte is one of the tests. Everything else lets Encap draw a fresh one.

import { asBytes, concat, utf8 } from "./b64.js";

export const KEM_P256_HKDF_SHA256 = 0x0010;
export const KDF_HKDF_SHA256 = 0x0001;
export const AEAD_AES_128_GCM = 0x0001;
export const AEAD_AES_256_GCM = 0x0002;

const MODE_BASE = 0x00;
const N_SECRET = 32; // DHKEM(P-256, HKDF-SHA256)
const N_ENC = 65; // uncompressed P-256 point
const N_NONCE = 12;
const HASH_LEN = 32;
const AEAD_KEY_LENGTH = { [AEAD_AES_128_GCM]: 16, [AEAD_AES_256_GCM]: 32 };
const ECDH = { name: "ECDH", namedCurve: "P-256" };
const subtle = globalThis.crypto.subtle;

/** Any failure to open (or a malformed input to seal). Deliberately says nothing more. */
export class HpkeError extends Error {
  constructor(message = "HPKE operation failed") {
    super(message);
    this.name = "HpkeError";
  }
}

function i2osp(n, w) {
  const out = new Uint8Array(w);
  for (let i = w - 1; i >= 0; i--, n = Math.floor(n / 256)) out[i] = n & 0xff;
  return out;
}

const KEM_SUITE = concat(utf8("KEM"), i2osp(KEM_P256_HKDF_SHA256, 2));

function hpkeSuite(aeadId) {
  if (!(aeadId in AEAD_KEY_LENGTH)) throw new RangeError("unsupported AEAD");
  return concat(utf8("HPKE"), i2osp(KEM_P256_HKDF_SHA256, 2), i2osp(KDF_HKDF_SHA256, 2), i2osp(aeadId, 2));
}

async function hmac(key, data) {
  // WebCrypto refuses an empty HMAC key; HMAC pads a short key with zeros, so an empty key and
  // HashLen zero bytes are the same key (and the latter is HKDF-Extract's default salt).
  const raw = key.length ? key : new Uint8Array(HASH_LEN);
  const k = await subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, data));
}

async function labeledExtract(suite, salt, label, ikm) {
  return hmac(asBytes(salt), concat(utf8("HPKE-v1"), suite, utf8(label), asBytes(ikm)));
}

async function labeledExpand(suite, prk, label, info, length) {
  const labeledInfo = concat(i2osp(length, 2), utf8("HPKE-v1"), suite, utf8(label), asBytes(info));
  // HKDF-Expand (RFC 5869): T(i) = HMAC(prk, T(i-1) || info || i).
  const out = new Uint8Array(length);
  let t = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    t = await hmac(prk, concat(t, labeledInfo, Uint8Array.of(i)));
    out.set(t.subarray(0, length - at), at);
    at += t.length;
  }
  return out;
}

/** Import a 65-byte uncompressed P-256 point; WebCrypto rejects points not on the curve. */
export async function importPublicKey(raw) {
  raw = asBytes(raw);
  if (raw.length !== N_ENC || raw[0] !== 0x04) throw new HpkeError("not an uncompressed P-256 point");
  try {
    return await subtle.importKey("raw", raw, ECDH, true, []);
  } catch {
    throw new HpkeError("not a point on P-256");
  }
}

async function dh(privateKey, publicKey) {
  return new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: publicKey }, privateKey, 256));
}

async function extractAndExpand(dhValue, kemContext) {
  const eaePrk = await labeledExtract(KEM_SUITE, new Uint8Array(0), "eae_prk", dhValue);
  return labeledExpand(KEM_SUITE, eaePrk, "shared_secret", kemContext, N_SECRET);
}

async function encap(pkRm, ephemeral) {
  const pkR = await importPublicKey(pkRm);
  const pair = ephemeral ?? await subtle.generateKey(ECDH, false, ["deriveBits"]);
  const enc = pair.publicKey instanceof CryptoKey
    ? new Uint8Array(await subtle.exportKey("raw", pair.publicKey))
    : asBytes(pair.publicKey);
  const dhValue = await dh(pair.privateKey, pkR);
  return { sharedSecret: await extractAndExpand(dhValue, concat(enc, pkRm)), enc };
}

async function decap(enc, skR, pkRm) {
  const pkE = await importPublicKey(enc);
  return extractAndExpand(await dh(skR, pkE), concat(enc, pkRm));
}

async function keySchedule(aeadId, sharedSecret, info) {
  const suite = hpkeSuite(aeadId);
  const empty = new Uint8Array(0);
  const pskIdHash = await labeledExtract(suite, empty, "psk_id_hash", empty);
  const infoHash = await labeledExtract(suite, empty, "info_hash", asBytes(info));
  const context = concat(Uint8Array.of(MODE_BASE), pskIdHash, infoHash);
  const secret = await labeledExtract(suite, sharedSecret, "secret", empty); // psk = ""
  return {
    context,
    secret,
    key: await labeledExpand(suite, secret, "key", context, AEAD_KEY_LENGTH[aeadId]),
    baseNonce: await labeledExpand(suite, secret, "base_nonce", context, N_NONCE),
  };
}

async function aeadKey(raw, usage) {
  return subtle.importKey("raw", raw, { name: "AES-GCM" }, false, [usage]);
}

/**
 * SealBase(pkR, info, aad, pt) with sequence number 0. `recipientPublicKey` is the 65-byte
 * uncompressed point. Options: `aeadId` (default AES-256-GCM); `ephemeral`, a key pair
 * `{privateKey: CryptoKey, publicKey: CryptoKey | Uint8Array}` (tests only).
 * Returns `{enc, ct}` (65 bytes, and the plaintext's length + 16).
 */
export async function sealBase(recipientPublicKey, info, aad, plaintext,
                               { aeadId = AEAD_AES_256_GCM, ephemeral } = {}) {
  const pkRm = asBytes(recipientPublicKey);
  const { sharedSecret, enc } = await encap(pkRm, ephemeral);
  const { key, baseNonce } = await keySchedule(aeadId, sharedSecret, info);
  const ct = await subtle.encrypt({ name: "AES-GCM", iv: baseNonce, additionalData: asBytes(aad) },
                                  await aeadKey(key, "encrypt"), asBytes(plaintext));
  key.fill(0);
  return { enc, ct: new Uint8Array(ct) };
}

/**
 * OpenBase(enc, skR, info, aad, ct) with sequence number 0. The recipient is
 * `{privateKey: CryptoKey (ECDH P-256, "deriveBits"), publicKey: Uint8Array (65 bytes)}`: the
 * DHKEM context needs pkR, and a non-extractable private key cannot give it back.
 * Throws HpkeError on any failure.
 */
export async function openBase(enc, recipient, info, aad, ct, { aeadId = AEAD_AES_256_GCM } = {}) {
  let key;
  try {
    const pkRm = asBytes(recipient.publicKey);
    const sharedSecret = await decap(asBytes(enc), recipient.privateKey, pkRm);
    const schedule = await keySchedule(aeadId, sharedSecret, info);
    key = schedule.key;
    const pt = await subtle.decrypt(
      { name: "AES-GCM", iv: schedule.baseNonce, additionalData: asBytes(aad) },
      await aeadKey(key, "decrypt"), asBytes(ct));
    return new Uint8Array(pt);
  } catch (error) {
    if (error instanceof RangeError) throw error; // caller's misuse (unknown AEAD)
    throw new HpkeError();
  } finally {
    key?.fill(0);
  }
}

// The steps of the construction, for the RFC 9180 test vectors only.
export const _internals = { encap, decap, keySchedule, labeledExtract, labeledExpand };
