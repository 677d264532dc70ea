// The hall's 国密 path (docs/browser-crypto.md, "The hall opens gm-v1 bids"): a gm-v1 bid's file
// key is unwrapped with the bidder's SM2 key file (tender-key/sm2-v1, from `sealbid keygen --suite
// gm`), opened here with its password. The key file and the scalar never leave the page; only the
// 32-byte file key is released, as for the other versions. The SM modules are imported when a
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

/**
 * `{fileKey, commitment}` of the gm-v1 header `raw`, unwrapped with the SM2 key in `file` (a File)
 * opened with `password`. Throws KeyFileProblem (with `t`'s message) for no file, no password, a
 * P-256 or malformed key file, another key than the bid's, and a wrong password; the checks that
 * need no password come first, so a wrong file is told at once.
 */
export async function unwrapWithKeyFile(raw, { file, password, t, onProgress }) {
  const problem = (code, fill = {}) => new KeyFileProblem(
    Object.entries(fill).reduce((text, [k, v]) => text.replace(`{${k}}`, v), t[code]), code);
  if (!file) throw problem("gm_choose_file");
  if (!password) throw problem("gm_password_needed");
  const [gm, keyfile, { InvalidKeyFile, WrongPassword }] = await Promise.all([
    import("./crypto/envelope_gm.js"), import("./crypto/gm_keyfile.js"), import("./crypto/keyfile.js")]);
  const data = new Uint8Array(await file.arrayBuffer());
  if (keyfile.keyFileFormat(data) === "tender-key/v1") throw problem("gm_p256_file");
  let declared;
  try {
    declared = keyfile.readGmKeyFilePublic(data);
  } catch (error) {
    if (error instanceof InvalidKeyFile) throw problem("gm_not_key_file");
    throw error;
  }
  const header = await gm.parseGmHeader(raw);
  const ids = header.stanzas.filter((s) => s.role === "bidder").map((s) => s.keyId);
  if (!ids.includes(declared.keyId)) throw problem("gm_other_key", { key: declared.keyId, expected: ids.join(", ") });
  let key;
  try {
    key = await keyfile.readGmKeyFile(data, password, { onProgress });
  } catch (error) {
    if (error instanceof WrongPassword) throw problem("gm_wrong_password");
    if (error instanceof InvalidKeyFile) throw problem("gm_not_key_file");
    throw error;
  } finally {
    data.fill(0);
  }
  try {
    return { fileKey: await gm.unwrapGmFileKey(header, key), commitment: header.commitmentB64 };
  } finally {
    wipe(key.scalar);
  }
}
