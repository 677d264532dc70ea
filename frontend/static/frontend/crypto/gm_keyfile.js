// The bidder's SM2 key file, `tender-key/sm2-v1` (docs/envelope.md, Appendix D), in the browser:
// what crypto/gm_keys.py and `sealbid keygen --suite gm` write and read, byte for byte.
// PBKDF2-HMAC-SM3 of the NFC password gives a 16-byte SM4 key; SM4-GCM with the AAD
// "tender-key/sm2-v1" seals the 32-byte private scalar; the point and key id are in clear.
//
// WebCrypto cannot hold an SM2 key, so the scalar leaves this module as bytes ({scalar, point,
// keyId}); the hall uses it once to unwrap the bid's file key and wipes it. Errors are keyfile.js's
// InvalidKeyFile (not such a file, or its private key is not its public key) and WrongPassword
// (the SM4-GCM tag does not verify: a wrong password or a damaged file, which GCM cannot tell apart).

import { asBytes, decode, encode, fromUtf8, utf8, wipe } from "./b64.js";
import { InvalidKeyFile, MAX_ITERATIONS, MIN_ITERATIONS, DEFAULT_ITERATIONS, WrongPassword } from "./keyfile.js";
import { gmKeyId } from "./gm_header.js";
import { SCALAR_SIZE, SM4_KEY_SIZE, TAG_SIZE, isSm2Point, pbkdf2Sm3, sm2PublicKey, sm4GcmDecrypt,
         sm4GcmEncrypt } from "./sm.js";

export const GM_KEY_FILE_FORMAT = "tender-key/sm2-v1";
const MAX_KEY_FILE_SIZE = 16 * 1024;
const MEMBERS = ["format", "curve", "key_id", "public_key", "kdf", "iterations", "salt", "nonce", "ct"];
const AAD = utf8(GM_KEY_FILE_FORMAT);

function passwordBytes(password) {
  if (typeof password !== "string" || password.length === 0) {
    throw new TypeError("the password must be a non-empty string");
  }
  return utf8(password.normalize("NFC"));
}

function parseJson(data) {
  data = asBytes(data);
  if (data.length > MAX_KEY_FILE_SIZE) throw new InvalidKeyFile("key file too large");
  try {
    return JSON.parse(fromUtf8(data));
  } catch {
    throw new InvalidKeyFile("key file is not JSON");
  }
}

/** The `format` a key file names (either suite's), or null if it is not a JSON object. */
export function keyFileFormat(data) {
  try {
    const doc = parseJson(data);
    return doc !== null && typeof doc === "object" && !Array.isArray(doc) && typeof doc.format === "string"
      ? doc.format : null;
  } catch {
    return null;
  }
}

function parse(data) {
  const doc = parseJson(data);
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)
      || Object.keys(doc).length !== MEMBERS.length || !MEMBERS.every((m) => Object.hasOwn(doc, m))
      || doc.format !== GM_KEY_FILE_FORMAT) {
    throw new InvalidKeyFile(`key file members are not those of ${GM_KEY_FILE_FORMAT}`);
  }
  if (doc.curve !== "SM2" || doc.kdf !== "pbkdf2-sm3") throw new InvalidKeyFile("unsupported curve or kdf");
  const iterations = doc.iterations;
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new InvalidKeyFile("iterations out of range");
  }
  let fields;
  try {
    fields = {
      salt: decode(asString(doc.salt), 16),
      nonce: decode(asString(doc.nonce), 12),
      ct: decode(asString(doc.ct), SCALAR_SIZE + TAG_SIZE),
      point: decode(asString(doc.public_key), 65),
    };
  } catch {
    throw new InvalidKeyFile("malformed key file field");
  }
  if (!isSm2Point(fields.point)) throw new InvalidKeyFile("malformed key file field");
  if (doc.key_id !== gmKeyId(fields.point)) throw new InvalidKeyFile("key id does not match the public key");
  return { ...fields, iterations, keyId: doc.key_id };
}

function asString(value) {
  if (typeof value !== "string") throw new TypeError("expected a string");
  return value;
}

/** `{keyId, point}` of a tender-key/sm2-v1 file, without the password; every structural check. */
export function readGmKeyFilePublic(data) {
  const { keyId, point } = parse(data);
  return { keyId, point };
}

/**
 * Decrypt a tender-key/sm2-v1 file: `{scalar, point, keyId}`. The scalar's public key must be the
 * file's. PBKDF2 runs in sm.js's KDF Worker (`onProgress(done, total)` as it goes).
 * Throws WrongPassword or InvalidKeyFile.
 */
export async function readGmKeyFile(data, password, { onProgress } = {}) {
  const doc = parse(data);
  const pw = passwordBytes(password);
  let wrapKey, scalar;
  try {
    wrapKey = await pbkdf2Sm3(pw, doc.salt, doc.iterations, SM4_KEY_SIZE, { onProgress });
    scalar = sm4GcmDecrypt(wrapKey, doc.nonce, doc.ct, AAD);
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw error;
    throw new WrongPassword();
  } finally {
    wipe(pw);
    if (wrapKey) wipe(wrapKey);
  }
  scalar = Uint8Array.from(scalar);
  let point;
  try {
    point = scalar.length === SCALAR_SIZE ? sm2PublicKey(scalar) : null;
  } catch {
    point = null; // zero, or not below the group order
  }
  if (!point || encode(point) !== encode(doc.point)) {
    wipe(scalar);
    throw new InvalidKeyFile("the key file's public key does not match its private key");
  }
  return { scalar, point: doc.point, keyId: doc.keyId };
}

/**
 * Write `{scalar, point}` as a tender-key/sm2-v1 file, laid out as crypto/gm_keys.py writes it
 * (JSON with two-space indent and a final newline); fresh salt and nonce. The pair is checked first.
 */
export async function writeGmKeyFile({ scalar, point }, password, { iterations = DEFAULT_ITERATIONS, onProgress } = {}) {
  const pw = passwordBytes(password);
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new RangeError(`iterations must be in [${MIN_ITERATIONS}, ${MAX_ITERATIONS}]`);
  }
  scalar = asBytes(scalar);
  point = asBytes(point);
  if (scalar.length !== SCALAR_SIZE || !isSm2Point(point) || encode(sm2PublicKey(scalar)) !== encode(point)) {
    throw new RangeError("not an SM2 key pair");
  }
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const wrapKey = await pbkdf2Sm3(pw, salt, iterations, SM4_KEY_SIZE, { onProgress });
  try {
    const document = {
      format: GM_KEY_FILE_FORMAT,
      curve: "SM2",
      key_id: gmKeyId(point),
      public_key: encode(point),
      kdf: "pbkdf2-sm3",
      iterations,
      salt: encode(salt),
      nonce: encode(nonce),
      ct: encode(sm4GcmEncrypt(wrapKey, nonce, scalar, AAD)),
    };
    return utf8(JSON.stringify(document, null, 2) + "\n");
  } finally {
    wipe(wrapKey);
    wipe(pw);
  }
}
