// The bidder's key with both of its uses. WebCrypto binds a key to one algorithm: the ECDH handle
// (usage "deriveBits") unwraps file keys; signing the certificate request and the opening record
// needs an ECDSA handle (usage "sign") of the same private key. Both are imported from the same
// PKCS#8, non-extractable, and stored in one keystore record (`kaibiao-crypto`/`keys`):
//
//   {keyId, publicKey, privateKey (ECDH), signKey (ECDSA P-256), label, createdAt}
//
// keystore.js stores whatever record it is given; this module adds `signKey` at generation and at
// import (the only two moments the PKCS#8 exists). A record without `signKey` (stored by an older
// page) can still unwrap, but not sign: re-import the backup file to add it.

import { importPkcs8, keyId, writeKeyFile, readKeyFile, DEFAULT_ITERATIONS } from "./crypto/keyfile.js";
import { saveKey, getKey, listKeys } from "./crypto/keystore.js";
import { wipe } from "./crypto/b64.js";

const subtle = globalThis.crypto.subtle;
const ECDH = { name: "ECDH", namedCurve: "P-256" };
const ECDSA = { name: "ECDSA", namedCurve: "P-256" };

async function store(pkcs8, label) {
  const { privateKey, publicKey } = await importPkcs8(pkcs8, { extractable: false });
  const signKey = await subtle.importKey("pkcs8", pkcs8, ECDSA, false, ["sign"]);
  if (privateKey.extractable || signKey.extractable) throw new TypeError("only non-extractable keys are stored");
  return saveKey({ keyId: await keyId(publicKey), publicKey, privateKey, signKey, label: String(label ?? ""),
                   createdAt: new Date().toISOString() });
}

/**
 * Generate a key pair; store it (both handles, non-extractable); return `{key, backup}` where
 * `backup` is the password-protected tender-key/v1 file — the only copy that can ever leave
 * this browser, so the page makes the user save it before going on.
 */
export async function generateBidderKey({ password, label = "", iterations = DEFAULT_ITERATIONS }) {
  const pair = await subtle.generateKey(ECDH, true, ["deriveBits"]);
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
  try {
    const backup = await writeKeyFile(pkcs8, password, { iterations });
    return { key: await store(pkcs8, label), backup };
  } finally {
    wipe(pkcs8);
  }
}

/** Import a tender-key/v1 file (sealbid keygen, another browser): both handles, stored. */
export async function importBidderKey(data, password, { label = "" } = {}) {
  const { privateKey } = await readKeyFile(data, password, { extractable: true });
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", privateKey));
  try {
    return await store(pkcs8, label);
  } finally {
    wipe(pkcs8);
  }
}

/** ECDSA P-256 / SHA-256 over `message` (bytes or text): the 64-byte r‖s WebCrypto makes. */
export async function signWith(key, message) {
  if (!key?.signKey) throw new TypeError("this key has no signing handle: import its backup file again");
  const data = typeof message === "string" ? new TextEncoder().encode(message) : message;
  return new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.signKey, data));
}

export { getKey, listKeys };
