// The bidder's keys in the browser: generated with WebCrypto, kept in IndexedDB as
// non-extractable CryptoKeys, backed up as a tender-key/v1 file (keyfile.js).
//
// Why the backup is made at generation: a non-extractable private key can never be exported
// again, not even by this code. So `generateKey` creates the pair extractable, writes the
// password-protected backup from it, re-imports the same PKCS#8 as a non-extractable key, and
// stores only that one; the extractable copy and the PKCS#8 bytes are dropped (and the bytes
// wiped) before the function returns. The page MUST make the user save the backup: it is the only
// way to move the key to another browser or to `sealbid`, and the only way back if this browser's
// storage is cleared. ECDH keys must allow "deriveBits" (HPKE's Decap needs it) and nothing else.

import { keyId, importPkcs8, readKeyFile, writeKeyFile, DEFAULT_ITERATIONS } from "./keyfile.js";
import { wipe } from "./b64.js";

const DB_NAME = "kaibiao-crypto";
const DB_VERSION = 1;
const STORE = "keys";
const ECDH = { name: "ECDH", namedCurve: "P-256" };
const subtle = globalThis.crypto.subtle;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

let opening = null;

/** The IndexedDB database (opened once per page). */
export function openDatabase() {
  opening ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(STORE, { keyPath: "keyId" });
    };
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => { db.close(); opening = null; };
      resolve(db);
    };
    req.onerror = () => { opening = null; reject(req.error); };
    req.onblocked = () => { opening = null; reject(new Error("the key database is blocked by another tab")); };
  });
  return opening;
}

async function withStore(mode, action) {
  const db = await openDatabase();
  const tx = db.transaction(STORE, mode);
  const done = new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
  // Both awaited together: a failed request also aborts the transaction, and neither rejection
  // may go unhandled.
  const [result] = await Promise.all([request(action(tx.objectStore(STORE))), done]);
  return result;
}

/**
 * A stored key: `{keyId, publicKey: Uint8Array(65), privateKey: CryptoKey (non-extractable),
 * label, createdAt}` — the shape unwrapFileKey takes.
 */
function record(privateKey, publicKey, id, label) {
  if (privateKey.extractable) throw new TypeError("only non-extractable keys are stored");
  return { keyId: id, publicKey, privateKey, label: String(label ?? ""), createdAt: new Date().toISOString() };
}

/** Store a key record (replacing one with the same key id). */
export async function saveKey(rec) {
  await withStore("readwrite", (store) => store.put(rec));
  return rec;
}

/** The stored key with this key id, or null. */
export async function getKey(id) {
  return (await withStore("readonly", (store) => store.get(id))) ?? null;
}

/** Every stored key, oldest first. */
export async function listKeys() {
  const all = await withStore("readonly", (store) => store.getAll());
  return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function deleteKey(id) {
  await withStore("readwrite", (store) => store.delete(id));
}

/**
 * Generate a bidder key pair, store its private key non-extractable, and return
 * `{key: the stored record, backup: Uint8Array (the tender-key/v1 file)}`. The backup is
 * encrypted under `password` with `iterations` PBKDF2 rounds; nothing is stored if any step fails.
 */
export async function generateKey({ password, label = "", iterations = DEFAULT_ITERATIONS } = {}) {
  const pair = await subtle.generateKey(ECDH, true, ["deriveBits"]);
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
  try {
    const backup = await writeKeyFile(pkcs8, password, { iterations });
    const { privateKey, publicKey } = await importPkcs8(pkcs8, { extractable: false });
    const key = await saveKey(record(privateKey, publicKey, await keyId(publicKey), label));
    return { key, backup };
  } finally {
    wipe(pkcs8);
  }
}

/** Import a tender-key/v1 backup (from sealbid or another browser) and store it non-extractable. */
export async function importKeyFile(data, password, { label = "" } = {}) {
  const { privateKey, publicKey, keyId: id } = await readKeyFile(data, password, { extractable: false });
  return saveKey(record(privateKey, publicKey, id, label));
}

/** Ask the browser not to evict this origin's storage under pressure (true if granted). */
export async function requestPersistence() {
  return (await navigator.storage?.persist?.()) ?? false;
}
