// Verifying a bid receipt (tender-receipt/v1 and tender-receipt/gm-v1, crypto/receipt.py) in the
// browser, with only the platform's verifier keys (GET /api/v1/platform/keys → vkey, and sm2_vkey
// for a gm-v1 receipt). Each check is reported on its own:
//
//   form        the document has exactly the receipt's members (signature_algorithm may be absent
//               only from a v1 document and then means ed25519), the body its fields and a known
//               format, and signature_algorithm is the one of that format
//   signature   over the canonical JSON of the body (sorted keys, no spaces, UTF-8): Ed25519 for
//               tender-receipt/v1; SM2 with SM3 and the default user ID (sm2-sm3, r || s, through
//               crypto/sm.js) for tender-receipt/gm-v1, with the key of sm2_vkey
//   checkpoint  the C2SP signed note is signed by the Ed25519 key (an SM2 line is skipped); its body parses
//   inclusion   the attached audit entry is leaf `audit_index` of the checkpoint's tree (RFC 6962)
//   entry       the entry records this submission (action, hash, size, commitment, cipher suite)
//   envelope    (when the envelope file is at hand) its SHA-256 and size are the receipted ones

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();
// The body's format -> the algorithm that signs it, and the tender's cipher suite.
const ALGORITHMS = { "tender-receipt/v1": "ed25519", "tender-receipt/gm-v1": "sm2-sm3" };
const SUITES = { "tender-receipt/v1": "intl", "tender-receipt/gm-v1": "gm" };
const DOCUMENT_FIELDS = ["audit_entry", "checkpoint", "inclusion_proof", "receipt", "signature"];
const BODY_FIELDS = ["audit_index", "bidder", "commitment", "envelope", "format", "key_id", "lot",
                     "platform", "received_at", "submission", "tender"];
const ED25519_TYPE = Uint8Array.of(0x01);
const SM2_TYPE = Uint8Array.of(0xff, ...enc.encode("sm2-sm3")); // crypto/sm2_note.SM2_NOTE_TYPE
const SM2_POINT_SIZE = 65;

class Check extends Error {}

function b64(text) {
  // Strict, padded: the only accepted spelling is the canonical one (as the Python side).
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Check("malformed base64");
  const bin = atob(text);
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  if (btoa(bin) !== text) throw new Check("non-canonical base64");
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const sha = async (data) => new Uint8Array(await subtle.digest("SHA-256", data));
const hexOf = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False). */
export function canonical(value) {
  const sort = (v) => (Array.isArray(v) ? v.map(sort)
    : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])])) : v);
  return enc.encode(JSON.stringify(sort(value)));
}

/** A vkey `<name>+<8 hex key id>+<base64(type || key)>`, parsed as checkpoint.NoteVerifier.from_vkey:
 *  the name checked, the key of `type` and `size` bytes, the key id the one name and key hash to. */
async function splitVkey(vkey, type, size, what) {
  const parts = typeof vkey === "string" ? vkey.split("+") : [];
  if (parts.length < 3) throw new Check("a vkey is <name>+<key id>+<key>");
  const [name, hexId] = parts;
  // Key names: non-empty, no whitespace, no control characters (checkpoint._check_name).
  if (!name || /[\s\u0000-\u001f]/u.test(name)) throw new Check("invalid key name");
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new Check("the vkey's key id is not 8 lowercase hex digits");
  const raw = b64(parts.slice(2).join("+"));
  if (raw.length !== type.length + size || !same(raw.subarray(0, type.length), type)) {
    throw new Check(`the vkey is not ${what} key`);
  }
  const id = (await sha(concat(enc.encode(name + "\n"), raw))).subarray(0, 4);
  if (hexOf(id) !== hexId) throw new Check("the vkey's key id does not match");
  return { name, keyId: id, raw: raw.subarray(type.length) };
}

/** vkey `<name>+<8 hex key id>+<base64(0x01 || 32-byte key)>` → {name, keyId, key: CryptoKey}. */
export async function parseVkey(vkey) {
  const { name, keyId, raw } = await splitVkey(vkey, ED25519_TYPE, 32, "an Ed25519");
  const key = await subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  return { name, keyId, key };
}

/** sm2_vkey `<name>+<8 hex key id>+<base64(0xff "sm2-sm3" || 65-byte point)>` (crypto/sm2_note.py)
 *  → {name, keyId, point, sm}: the point on the SM2 curve (checked by crypto/sm.js, loaded here). */
export async function parseSm2Vkey(vkey) {
  const { name, keyId, raw } = await splitVkey(vkey, SM2_TYPE, SM2_POINT_SIZE, "an sm2-sm3");
  const sm = await import("./crypto/sm.js");
  if (!sm.isSm2Point(raw)) throw new Check("the vkey's point is not on the SM2 curve");
  return { name, keyId, point: raw, sm };
}

async function ed25519(key, signature, message) {
  return subtle.verify({ name: "Ed25519" }, key, signature, message);
}

/** Verify a C2SP signed note with the verifier; return its body text. */
export async function openNote(note, verifier) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Check("a note has a blank line before its signatures");
  const body = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block.endsWith("\n")) throw new Check("signature lines end with a newline");
  let found = false;
  for (const line of block.slice(0, -1).split("\n")) {
    if (!line.startsWith("\u2014 ")) throw new Check("a signature line starts with an em dash");
    const [name, sig] = line.slice(2).split(" ");
    const raw = b64(sig);
    if (name === verifier.name && same(raw.subarray(0, 4), verifier.keyId)) {
      if (!(await ed25519(verifier.key, raw.subarray(4), enc.encode(body)))) throw new Check("bad signature");
      found = true;
    }
  }
  if (!found) throw new Check("the note is not signed by the platform");
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Check("malformed checkpoint");
  const root = b64(lines[2]);
  if (root.length !== 32) throw new Check("malformed root hash");
  return { origin: lines[0], size: Number(lines[1]), root };
}

const leafHash = (data) => sha(concat(Uint8Array.of(0), data));
const nodeHash = (l, r) => sha(concat(Uint8Array.of(1), l, r));

/** RFC 9162 §2.1.3.2, as crypto/merkle.verify_inclusion. */
export async function verifyInclusion(leaf, index, size, proof, root) {
  if (!(index >= 0 && index < size)) throw new Check("the index is not in the tree");
  let r = leaf, fn = index, sn = size - 1;
  for (const p of proof) {
    if (p.length !== 32) throw new Check("a proof hash is not 32 bytes");
    if (sn === 0) throw new Check("the proof is too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn && fn % 2 === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Check("the proof is too short");
  if (!same(r, root)) throw new Check("the proof does not lead to the root");
}

/**
 * Run every check; never throws. Returns `{ok, body, checks: [{name, ok, detail}]}`; a check that
 * could not run because an earlier one failed is `ok: null`. `vkey`: the platform's Ed25519 key;
 * `sm2Vkey`: its SM2 key (needed for a gm-v1 receipt only); `envelope`: an optional Blob/File.
 */
export async function verifyReceipt(doc, vkey, { envelope, sm2Vkey } = {}) {
  const checks = [];
  let body = null, verifier = null, signer = null, algorithm = null, checkpoint = null, entryOk = false;
  const run = async (name, fn, needs = true) => {
    if (!needs) { checks.push({ name, ok: null, detail: "" }); return false; }
    try {
      const detail = await fn();
      checks.push({ name, ok: true, detail: detail || "" });
      return true;
    } catch (err) {
      checks.push({ name, ok: false, detail: err.message });
      return false;
    }
  };
  const form = await run("form", async () => {
    if (typeof doc === "string") doc = JSON.parse(doc);
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Check("not a receipt document");
    const members = Object.keys(doc).filter((k) => k !== "signature_algorithm").sort();
    if (members.join() !== DOCUMENT_FIELDS.join()) throw new Check("the receipt document's members are not a receipt's");
    body = doc.receipt;
    const keys = body && typeof body === "object" && !Array.isArray(body) ? Object.keys(body).sort() : [];
    if (keys.join() !== BODY_FIELDS.join() || !Object.hasOwn(ALGORITHMS, body.format)) {
      throw new Check("not a tender-receipt/v1 or tender-receipt/gm-v1 receipt");
    }
    // Absent only from a v1 document written before the member existed: then ed25519.
    algorithm = Object.hasOwn(doc, "signature_algorithm") ? doc.signature_algorithm : "ed25519";
    if (algorithm !== ALGORITHMS[body.format]) {
      throw new Check(`a ${body.format} receipt is signed ${ALGORITHMS[body.format]}, not ${JSON.stringify(algorithm)}`);
    }
    verifier = await parseVkey(vkey);
    signer = verifier;
    if (algorithm === "sm2-sm3") {
      if (!sm2Vkey) throw new Check("a gm receipt is checked with the platform's SM2 key (sm2_vkey)");
      signer = await parseSm2Vkey(sm2Vkey);
    }
    if (body.platform !== verifier.name || signer.name !== verifier.name) {
      throw new Check("the receipt names another platform");
    }
    return body.submission;
  });
  const signed = await run("signature", async () => {
    const signature = b64(doc.signature), message = canonical(body);
    if (algorithm === "sm2-sm3") {
      // r || s only (no DER spelling), as crypto/sm2_note.Sm2NoteVerifier.check_signature.
      if (signature.length !== 64 || !signer.sm.sm2Verify(signer.point, signature, message)) {
        throw new Check("does not verify");
      }
      return "SM2 (sm2-sm3)";
    }
    if (!(await ed25519(verifier.key, signature, message))) throw new Check("does not verify");
    return "Ed25519";
  }, form);
  const noted = await run("checkpoint", async () => {
    checkpoint = await openNote(doc.checkpoint, verifier);
    return `${checkpoint.origin} #${checkpoint.size}`;
  }, form);
  const included = await run("inclusion", async () => {
    const { index, size, hashes } = doc.inclusion_proof;
    if (typeof doc.audit_entry !== "string" || !Number.isInteger(index) || !Number.isInteger(size)
        || !Array.isArray(hashes)) {
      throw new Check("malformed audit entry or proof");
    }
    if (index !== body.audit_index || size !== checkpoint.size) throw new Check("the proof is not for this entry");
    await verifyInclusion(await leafHash(enc.encode(doc.audit_entry)), index, size, hashes.map(b64), checkpoint.root);
    return `${index} / ${size}`;
  }, noted);
  entryOk = await run("entry", async () => {
    const entry = JSON.parse(doc.audit_entry);
    const d = entry.data || {};
    if (!(entry.index === body.audit_index && entry.action === "bidding.bid.submitted"
          && d.submission === body.submission && d.sha256 === body.envelope.sha256
          && d.size === body.envelope.size && d.commitment === body.commitment
          && (Object.hasOwn(d, "cipher_suite") ? d.cipher_suite : "intl") === SUITES[body.format])) {
      throw new Check("the audit entry does not record this submission");
    }
    return entry.action;
  }, form);
  let enveloped = null;
  if (envelope) {
    enveloped = await run("envelope", async () => {
      const digest = hexOf(await sha(await envelope.arrayBuffer()));
      if (digest !== body.envelope.sha256 || envelope.size !== body.envelope.size) {
        throw new Check("the envelope is not the one receipted");
      }
      return digest;
    }, form);
  }
  const ok = form && signed && noted && included && entryOk && enveloped !== false;
  return { ok, body, checks };
}
