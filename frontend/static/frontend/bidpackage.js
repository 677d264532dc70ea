// The bid package, as sealbid/bidpackage.py makes it: a tar (tar.js) holding manifest.json
// (`tender-bid/v1`: tender, lot, bidder, the announced fields, each document's name, size and
// SHA-256; JSON with sorted keys and two-space indentation, UTF-8) and the documents under
// "documents/". Announced values are converted exactly: money in 元 → integer fen with string
// arithmetic (util.yuanToFen), never through a float.

import { tarBlob } from "./tar.js";
import { yuanToFen } from "./util.js";

export const MANIFEST_FORMAT = "tender-bid/v1";

export class FieldError extends Error {
  constructor(key, problem) {
    super(`${key}: ${problem}`);
    this.key = key;
    this.problem = problem;
  }
}

/** Check and convert the form's text values against the tender's announced field definitions. */
export function announcedValues(definitions, given) {
  const values = {};
  for (const d of definitions) {
    const text = (given[d.key] ?? "").trim();
    if (!text) {
      if (d.required !== false) throw new FieldError(d.key, "required");
      continue;
    }
    if (d.type === "money_fen") {
      const fen = yuanToFen(text);
      if (fen === null) throw new FieldError(d.key, "money");
      // JSON integers: exact up to 2^53 fen (90 trillion 元), far above any bid.
      if (fen.length > 15) throw new FieldError(d.key, "money");
      values[d.key] = Number(fen);
    } else if (d.type === "integer") {
      if (!/^-?\d+$/.test(text) || text.replace("-", "").length > 15) throw new FieldError(d.key, "integer");
      values[d.key] = Number(text);
    } else if (d.type === "decimal") {
      if (!/^-?\d+(\.\d+)?$/.test(text)) throw new FieldError(d.key, "decimal");
      values[d.key] = text;
    } else if (d.type === "choice") {
      if (!(d.choices || []).includes(text)) throw new FieldError(d.key, "choice");
      values[d.key] = text;
    } else {
      values[d.key] = text;
    }
  }
  return values;
}

function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sorted(value[k])]));
  }
  return value;
}

/** json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True).encode() */
export function pythonJson(doc) {
  return new TextEncoder().encode(JSON.stringify(sorted(doc), null, 2));
}

/**
 * The package for `files` (File objects) whose SHA-256s are `hashes` (hex, in order; the caller
 * computes them in constant memory, sealing.js): `{manifest, blob}`. The tar is a Blob of
 * references to the files: nothing is read here.
 */
export function buildPackage({ tender, lot, bidder, fields, files, hashes, sealer }) {
  const names = documentNames(files);
  if (hashes.length !== files.length) throw new RangeError("one SHA-256 per document");
  const documents = files.map((file, i) => ({ name: names[i], size: file.size, sha256: hashes[i] }));
  // `sealer`: the program that wrote the package ({tool, version}, docs/sealbid.md). A browser
  // has no machine identity to hash (and must not read one): it records none.
  const doc = { format: MANIFEST_FORMAT, tender, lot, bidder, fields, documents };
  if (sealer) doc.sealer = { tool: String(sealer.tool), version: String(sealer.version) };
  const manifest = pythonJson(doc);
  return { manifest, blob: packageBlob(manifest, files) };
}

/** The documents' names in the package; refuses two with the same name. */
export function documentNames(files) {
  const names = files.map((f) => `documents/${f.name}`);
  if (new Set(names).size !== names.length) throw new FieldError("documents", "duplicate");
  return names;
}

/** The package's bytes from its manifest and the same files: the same Blob buildPackage made. */
export function packageBlob(manifest, files) {
  const names = documentNames(files);
  return tarBlob([{ name: "manifest.json", data: manifest },
                  ...files.map((file, i) => ({ name: names[i], data: file }))]);
}
