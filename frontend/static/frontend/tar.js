// A small ustar/PAX tar writer that produces the very bytes Python's
// `tarfile.open(mode="w|", format=tarfile.PAX_FORMAT)` writes for regular files with mode 0644,
// uid/gid 0, empty user and group names and mtime 0 (what sealbid/bidpackage.py does):
//
// - a name that is not ASCII, or longer than 100 characters, gets a PAX extended header
//   ("././@PaxHeader", type "x", records "<len> path=<UTF-8 name>\n"), and the ustar header keeps
//   the name with every non-ASCII character replaced by "?" (tarfile's "ascii"/"replace");
// - a size of 8 GiB or more goes into the PAX header ("size"), 0 in the ustar field;
// - the archive ends with two zero blocks, padded to a multiple of 10240 bytes (RECORDSIZE).
//
// The result is a Blob assembled from the headers and the documents' own Blobs: nothing is copied
// into memory, and the sealer reads it slice by slice (a Blob is random-access, so a resumed upload
// re-reads exactly the same bytes).

const BLOCK = 512;
const RECORD = 20 * BLOCK;
const LENGTH_NAME = 100;
const enc = new TextEncoder();

function stn(text, length) {
  // tarfile's stn with "ascii"/"replace": one "?" per non-ASCII character, truncated, NUL-padded.
  const ascii = Array.from(text, (c) => (c.codePointAt(0) < 128 ? c : "?")).join("");
  const out = new Uint8Array(length);
  out.set(enc.encode(ascii).subarray(0, length));
  return out;
}

function itn(n, digits) {
  // ustar numbers: zero-padded octal in digits-1 characters and a NUL.
  const text = n.toString(8).padStart(digits - 1, "0");
  if (text.length > digits - 1) throw new RangeError("number too large for a ustar field");
  const out = new Uint8Array(digits);
  out.set(enc.encode(text));
  return out;
}

function header({ name, mode = 0, size = 0, type = "0" }) {
  const buf = new Uint8Array(BLOCK);
  let at = 0;
  const put = (bytes) => { buf.set(bytes, at); at += bytes.length; };
  put(stn(name, 100));
  put(itn(mode & 0o7777, 8));
  put(itn(0, 8)); // uid
  put(itn(0, 8)); // gid
  put(itn(size, 12));
  put(itn(0, 12)); // mtime
  put(enc.encode("        ")); // checksum, computed below
  put(enc.encode(type));
  put(stn("", 100)); // linkname
  put(enc.encode("ustar\u000000")); // POSIX magic + version
  put(stn("", 32)); // uname
  put(stn("", 32)); // gname
  put(stn("", 8)); // devmajor
  put(stn("", 8)); // devminor
  put(stn("", 155)); // prefix
  let sum = 0;
  for (const b of buf) sum += b;
  buf.set(enc.encode(sum.toString(8).padStart(6, "0") + "\u0000"), 148);
  return buf;
}

function paxRecords(fields) {
  const parts = [];
  for (const [keyword, value] of fields) {
    const kv = enc.encode(`${keyword}=${value}\n`);
    const l = kv.length + 1; // + the space
    let p = 0;
    for (;;) {
      const n = l + String(p).length;
      if (n === p) break;
      p = n;
    }
    parts.push(enc.encode(`${p} `), kv);
  }
  return concatBytes(parts);
}

function concatBytes(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function padding(size) {
  const rest = size % BLOCK;
  return rest ? new Uint8Array(BLOCK - rest) : null;
}

/**
 * The tar of `entries` ({name, data: Blob | Uint8Array}) as a Blob, byte for byte as Python's
 * tarfile in PAX format writes it for regular files.
 */
export function tarBlob(entries) {
  const parts = [];
  let offset = 0;
  const push = (part) => { if (part) { parts.push(part); offset += part.size ?? part.length; } };
  for (const { name, data } of entries) {
    const size = data.size ?? data.length;
    const pax = [];
    const ascii = /^[\x00-\x7f]*$/.test(name);
    if (!ascii || name.length > LENGTH_NAME) pax.push(["path", name]);
    let ustarSize = size;
    if (size >= 8 ** 11) { pax.push(["size", String(size)]); ustarSize = 0; }
    if (pax.length) {
      const records = paxRecords(pax);
      push(header({ name: "././@PaxHeader", mode: 0, size: records.length, type: "x" }));
      push(records);
      push(padding(records.length));
    }
    push(header({ name, mode: 0o644, size: ustarSize, type: "0" }));
    push(data);
    push(padding(size));
  }
  push(new Uint8Array(2 * BLOCK));
  const rest = offset % RECORD;
  if (rest) push(new Uint8Array(RECORD - rest));
  return new Blob(parts, { type: "application/x-tar" });
}
