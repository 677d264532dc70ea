// Bidder keys in the browser: P-256 key encodings, key ids, and the password-protected
// `tender-key/v1` key file (docs/envelope.md, Appendix A) that crypto/keys.py and `sealbid` read
// and write too: PBKDF2-HMAC-SHA-256 wraps an AES-256-GCM key that seals the PKCS#8 DER.
//
// Private keys leave this module as WebCrypto CryptoKeys, non-extractable unless the caller asks
// otherwise; the decrypted PKCS#8 bytes are wiped after import (best effort: see
// docs/browser-crypto.md).

import { asBytes, concat, decode, encode, fromUtf8, toHex, utf8, wipe } from "./b64.js";

export const KEY_FILE_FORMAT = "tender-key/v1";
export const DEFAULT_ITERATIONS = 600000;
export const MIN_ITERATIONS = 100000;
export const MAX_ITERATIONS = 10000000;
export const PUBLIC_KEY_SIZE = 65;
const MAX_KEY_FILE_SIZE = 16 * 1024;
const MEMBERS = ["format", "curve", "key_id", "public_key", "kdf", "iterations", "salt", "nonce", "ct"];
const ECDH = { name: "ECDH", namedCurve: "P-256" };
const subtle = globalThis.crypto.subtle;

/** The key file is not a well-formed tender-key/v1 file. */
export class InvalidKeyFile extends Error {
  constructor(message = "not a valid tender-key/v1 key file") {
    super(message);
    this.name = "InvalidKeyFile";
  }
}

/** The key file did not decrypt: a wrong password (or a damaged file; AES-GCM cannot tell). */
export class WrongPassword extends InvalidKeyFile {
  constructor(message = "wrong password, or the key file is damaged") {
    super(message);
    this.name = "WrongPassword";
  }
}

/** First 8 bytes of SHA-256 of the 65-byte uncompressed point, as 16 lowercase hex digits. */
export async function keyId(publicKey) {
  const raw = await publicKeyBytes(publicKey);
  return toHex(new Uint8Array(await subtle.digest("SHA-256", raw)).subarray(0, 8));
}

/** The 65-byte uncompressed SEC1 point of a public CryptoKey (or a copy of given bytes). */
export async function publicKeyBytes(publicKey) {
  if (publicKey instanceof CryptoKey) return new Uint8Array(await subtle.exportKey("raw", publicKey));
  const raw = asBytes(publicKey);
  if (raw.length !== PUBLIC_KEY_SIZE || raw[0] !== 0x04) {
    throw new RangeError("expected a 65-byte uncompressed P-256 point");
  }
  return raw.slice();
}

/**
 * Import a PKCS#8 P-256 private key for ECDH; returns `{privateKey, publicKey}` with the public
 * key as its 65-byte point (WebCrypto derives it; PKCS#8 need not carry it).
 */
export async function importPkcs8(pkcs8, { extractable = false } = {}) {
  // Import once extractable, only to read the public point from the JWK; the key the caller
  // gets is imported separately with the extractability it asked for.
  const probe = await subtle.importKey("pkcs8", asBytes(pkcs8), ECDH, true, ["deriveBits"]);
  const jwk = await subtle.exportKey("jwk", probe);
  const publicKey = concat(Uint8Array.of(4), decodeJwk(jwk.x), decodeJwk(jwk.y));
  jwk.d = "";
  const privateKey = extractable
    ? probe
    : await subtle.importKey("pkcs8", asBytes(pkcs8), ECDH, false, ["deriveBits"]);
  return { privateKey, publicKey };
}

function decodeJwk(text) {
  return decode(text.replace(/-/g, "+").replace(/_/g, "/"), 32);
}

function passwordBytes(password) {
  if (typeof password !== "string" || password.length === 0) {
    throw new TypeError("the password must be a non-empty string");
  }
  return utf8(password.normalize("NFC"));
}

async function wrapKey(password, salt, iterations, usage) {
  const material = await subtle.importKey("raw", password, "PBKDF2", false, ["deriveKey"]);
  return subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material,
                          { name: "AES-GCM", length: 256 }, false, [usage]);
}

/**
 * Serialise a private key (PKCS#8 DER bytes, or an extractable ECDH CryptoKey) as a
 * tender-key/v1 file: UTF-8 JSON laid out as crypto/keys.py writes it. Salt and nonce are fresh.
 */
export async function writeKeyFile(privateKey, password, { iterations = DEFAULT_ITERATIONS } = {}) {
  const pw = passwordBytes(password);
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new RangeError(`iterations must be in [${MIN_ITERATIONS}, ${MAX_ITERATIONS}]`);
  }
  const pkcs8 = privateKey instanceof CryptoKey
    ? new Uint8Array(await subtle.exportKey("pkcs8", privateKey))
    : asBytes(privateKey).slice();
  try {
    const { publicKey } = await importPkcs8(pkcs8); // also checks it is a P-256 key
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const ct = await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: utf8(KEY_FILE_FORMAT) },
                                    await wrapKey(pw, salt, iterations, "encrypt"), pkcs8);
    const document = {
      format: KEY_FILE_FORMAT,
      curve: "P-256",
      key_id: await keyId(publicKey),
      public_key: encode(publicKey),
      kdf: "pbkdf2-sha256",
      iterations,
      salt: encode(salt),
      nonce: encode(nonce),
      ct: encode(new Uint8Array(ct)),
    };
    return utf8(JSON.stringify(document, null, 2) + "\n");
  } finally {
    wipe(pkcs8);
    wipe(pw);
  }
}

function parse(data) {
  data = asBytes(data);
  if (data.length > MAX_KEY_FILE_SIZE) throw new InvalidKeyFile("key file too large");
  let doc;
  try {
    doc = JSON.parse(fromUtf8(data));
  } catch {
    throw new InvalidKeyFile("key file is not JSON");
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)
      || Object.keys(doc).length !== MEMBERS.length || !MEMBERS.every((m) => Object.hasOwn(doc, m))) {
    throw new InvalidKeyFile("key file members are not those of tender-key/v1");
  }
  if (doc.format !== KEY_FILE_FORMAT) throw new InvalidKeyFile(`unsupported key file format ${JSON.stringify(doc.format)}`);
  if (doc.curve !== "P-256" || doc.kdf !== "pbkdf2-sha256") throw new InvalidKeyFile("unsupported curve or kdf");
  const iterations = doc.iterations;
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new InvalidKeyFile("iterations out of range");
  }
  try {
    const fields = {
      salt: decode(asString(doc.salt), 16),
      nonce: decode(asString(doc.nonce), 12),
      ct: decode(asString(doc.ct)),
      publicKey: decode(asString(doc.public_key), PUBLIC_KEY_SIZE),
    };
    if (fields.publicKey[0] !== 0x04) throw new RangeError("not an uncompressed point");
    return { ...fields, iterations, keyId: doc.key_id };
  } catch {
    throw new InvalidKeyFile("malformed key file field");
  }
}

function asString(value) {
  if (typeof value !== "string") throw new TypeError("expected a string");
  return value;
}

/** The key id and public key a key file declares, without the password; checks consistency. */
export async function readKeyFilePublic(data) {
  const doc = parse(data);
  try {
    await subtle.importKey("raw", doc.publicKey, ECDH, true, []); // on the curve
  } catch {
    throw new InvalidKeyFile("malformed key file field");
  }
  if (doc.keyId !== await keyId(doc.publicKey)) throw new InvalidKeyFile("key id does not match the public key");
  return { keyId: doc.keyId, publicKey: doc.publicKey };
}

/**
 * Decrypt a tender-key/v1 file. Returns `{privateKey, publicKey, keyId}`, the private key an ECDH
 * CryptoKey for "deriveBits", non-extractable unless `extractable` is set.
 * Throws WrongPassword or InvalidKeyFile.
 */
export async function readKeyFile(data, password, { extractable = false } = {}) {
  const { keyId: id, publicKey } = await readKeyFilePublic(data);
  const doc = parse(data);
  const pw = passwordBytes(password);
  let pkcs8;
  try {
    pkcs8 = new Uint8Array(await subtle.decrypt(
      { name: "AES-GCM", iv: doc.nonce, additionalData: utf8(KEY_FILE_FORMAT) },
      await wrapKey(pw, doc.salt, doc.iterations, "decrypt"), doc.ct));
  } catch {
    throw new WrongPassword();
  } finally {
    wipe(pw);
  }
  try {
    let key;
    try {
      key = await importPkcs8(pkcs8, { extractable });
    } catch {
      throw new InvalidKeyFile("the key file does not hold a P-256 private key");
    }
    if (encode(key.publicKey) !== encode(publicKey)) {
      throw new InvalidKeyFile("the key file's public key does not match its private key");
    }
    return { privateKey: key.privateKey, publicKey, keyId: id };
  } finally {
    wipe(pkcs8);
  }
}
