// Byte encodings shared by the crypto modules: canonical unpadded base64 (docs/envelope.md,
// "Conventions"), lowercase hex, UTF-8, and small byte helpers. No dependencies.

const ALPHABET = /^[A-Za-z0-9+/]*$/;
const PIECE = 0x8000; // String.fromCharCode(...) argument limit stays far below the engine's

/** Standard base64 without "=" padding, as crypto.keys.b64encode. */
export function encode(bytes) {
  const data = asBytes(bytes);
  let binary = "";
  for (let i = 0; i < data.length; i += PIECE) {
    binary += String.fromCharCode.apply(null, data.subarray(i, i + PIECE));
  }
  return btoa(binary).replace(/=+$/, "");
}

/**
 * Decode canonical unpadded standard base64, optionally of exactly `size` bytes.
 * Throws a RangeError for padding, characters outside the alphabet, non-zero unused bits or a
 * wrong length: two texts for one value would let a header change without its MAC.
 */
export function decode(text, size) {
  if (typeof text !== "string" || !ALPHABET.test(text) || text.length % 4 === 1) {
    throw new RangeError("invalid unpadded base64");
  }
  const binary = atob(text + "=".repeat((4 - (text.length % 4)) % 4));
  const data = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) data[i] = binary.charCodeAt(i);
  if (encode(data) !== text) throw new RangeError("non-canonical base64");
  if (size !== undefined && data.length !== size) throw new RangeError(`expected ${size} bytes`);
  return data;
}

export function toHex(bytes) {
  return Array.from(asBytes(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  if (typeof text !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(text)) {
    throw new RangeError("invalid hex");
  }
  const data = new Uint8Array(text.length / 2);
  for (let i = 0; i < data.length; i++) data[i] = parseInt(text.substr(i * 2, 2), 16);
  return data;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

export function utf8(text) {
  return encoder.encode(text);
}

/** Decode UTF-8, throwing a TypeError on invalid sequences. */
export function fromUtf8(bytes) {
  return strictDecoder.decode(bytes);
}

/** A Uint8Array view of a Uint8Array, another typed array / DataView, or an ArrayBuffer. */
export function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("expected bytes (Uint8Array or ArrayBuffer)");
}

export function concat(...parts) {
  const arrays = parts.map(asBytes);
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** Compare two byte strings in time that depends only on their lengths. */
export function equalConstantTime(a, b) {
  a = asBytes(a);
  b = asBytes(b);
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Overwrite a secret held in a Uint8Array (best effort: JS may have copied it elsewhere). */
export function wipe(bytes) {
  if (bytes instanceof Uint8Array) bytes.fill(0);
}
