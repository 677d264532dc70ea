// The hall's 国密 path (docs/browser-crypto.md, "The hall opens gm-v1 bids"): a gm-v1 bid's file
// key is unwrapped with the bidder's SM2 key file (tender-key/sm2-v1, from `sealbid keygen --suite
// gm`), opened here with its password, and the record is confirmed with an SM2 signature by the same
// key file. The key file and the scalar never leave the page; only the 32-byte file key is released
// (as for the other versions) and the 64-byte signature sent. The SM modules are imported when a
// gm-v1 header is met, so the hall of an intl tender never loads the SM library.

import { wipe } from "./crypto/b64.js";

const GM_FIRST_LINE = "tender-envelope/gm-v1\n";

/** True if the header bytes are a tender-envelope/gm-v1 header (its version line says so). */
export function isGmHeader(raw) {
  const line = new TextDecoder().decode(raw.subarray(0, GM_FIRST_LINE.length));
  return line === GM_FIRST_LINE;
}

/** A refusal to show the bidder as it is (a label from the page's catalogue). */
export class KeyFileProblem extends Error {
  constructor(message, code) {
    super(message);
    this.name = "KeyFileProblem";
    this.code = code;
  }
}

function problemFor(t) {
  return (code, fill = {}) => new KeyFileProblem(
    Object.entries(fill).reduce((text, [k, v]) => text.replace(`{${k}}`, v), t[code]), code);
}

/**
 * The SM2 key in `file` opened with `password`, once `accept(keyId)` has said its key is the one
 * wanted (else `refuse(keyId)` is thrown): the checks that need no password come first, so a wrong
 * file is told at once. `{scalar, point, keyId}`; the caller wipes the scalar.
 */
async function openKeyFile({ file, password, t, onProgress }, accept, refuse) {
  const problem = problemFor(t);
  if (!file) throw problem("gm_choose_file");
  if (!password) throw problem("gm_password_needed");
  const [keyfile, { InvalidKeyFile, WrongPassword }] = await Promise.all([
    import("./crypto/gm_keyfile.js"), import("./crypto/keyfile.js")]);
  const data = new Uint8Array(await file.arrayBuffer());
  try {
    if (keyfile.keyFileFormat(data) === "tender-key/v1") throw problem("gm_p256_file");
    let declared;
    try {
      declared = keyfile.readGmKeyFilePublic(data);
    } catch (error) {
      if (error instanceof InvalidKeyFile) throw problem("gm_not_key_file");
      throw error;
    }
    if (!(await accept(declared.keyId))) throw refuse(declared.keyId);
    try {
      return await keyfile.readGmKeyFile(data, password, { onProgress });
    } catch (error) {
      if (error instanceof WrongPassword) throw problem("gm_wrong_password");
      if (error instanceof InvalidKeyFile) throw problem("gm_not_key_file");
      throw error;
    }
  } finally {
    data.fill(0);
  }
}

/**
 * `{fileKey, commitment}` of the gm-v1 header `raw`, unwrapped with the SM2 key in `file` (a File)
 * opened with `password`. Throws KeyFileProblem (with `t`'s message) for no file, no password, a
 * P-256 or malformed key file, another key than the bid's, and a wrong password; the checks that
 * need no password come first, so a wrong file is told at once.
 */
export async function unwrapWithKeyFile(raw, { file, password, t, onProgress }) {
  const gm = await import("./crypto/envelope_gm.js");
  const header = await gm.parseGmHeader(raw);
  const ids = header.stanzas.filter((s) => s.role === "bidder").map((s) => s.keyId);
  const key = await openKeyFile({ file, password, t, onProgress }, (keyId) => ids.includes(keyId),
                                (keyId) => problemFor(t)("gm_other_key", { key: keyId, expected: ids.join(", ") }));
  try {
    return { fileKey: await gm.unwrapGmFileKey(header, key), commitment: header.commitmentB64 };
  } finally {
    wipe(key.scalar);
  }
}

/**
 * The SM2 signature (r || s, 64 bytes) over `message` (the record's confirmation text) by the key
 * in `file`, which must be the key of the organisation's current SM2 certificate (`certKeyId`: the
 * gm suite's one, hall_page.js lotCert, not a P-256 one it may hold too): a gm tender's record is
 * confirmed with SM2 / SM3 (docs/protocol.md). Throws KeyFileProblem as above.
 */
export async function signWithKeyFile(message, certKeyId, { file, password, t, onProgress }) {
  const key = await openKeyFile({ file, password, t, onProgress }, (keyId) => keyId === certKeyId,
                                (keyId) => problemFor(t)("gm_other_key", { key: keyId, expected: certKeyId || "—" }));
  try {
    const { sm2Sign } = await import("./crypto/sm.js");
    return sm2Sign(key.scalar, key.point, new TextEncoder().encode(message));
  } finally {
    wipe(key.scalar);
  }
}
