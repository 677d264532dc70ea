// A PKCS#10 certificate request (RFC 2986) built in the browser, as crypto/ca.py's `load_csr`
// accepts it: the bidder's P-256 key, signed ECDSA-with-SHA256 by the same key (proof of
// possession), subject C=CN, O=<organisation>, organizationIdentifier=NTRCN-<credit code>,
// serialNumber=<credit code>. DER by hand: a request is five nested SEQUENCEs. `buildSm2Csr` is
// the same request for an SM2 key (the gm suite; crypto/sm2_x509.py's `load_csr`): the key on the
// SM2 curve, signed SM2-with-SM3 with the default user ID (crypto/sm.js).

import { signWith } from "./signkeys.js";

const OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  countryName: "2.5.4.6",
  organizationName: "2.5.4.10",
  organizationIdentifier: "2.5.4.97",
  serialNumber: "2.5.4.5",
  sm2: "1.2.156.10197.1.301", // GB/T 33560 / GM/T 0006: the SM2 curve
  sm2WithSm3: "1.2.156.10197.1.501",
};
export const ORG_ID_PREFIX = "NTRCN-";

function len(n) {
  if (n < 0x80) return [n];
  const bytes = [];
  while (n) { bytes.unshift(n & 0xff); n >>= 8; }
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag, ...content) {
  const body = content.flatMap((c) => Array.from(c));
  return Uint8Array.from([tag, ...len(body.length), ...body]);
}

const seq = (...c) => tlv(0x30, ...c);
const set = (...c) => tlv(0x31, ...c);

function oid(text) {
  const parts = text.split(".").map(Number);
  const out = [40 * parts[0] + parts[1]];
  for (const p of parts.slice(2)) {
    const b = [p & 0x7f];
    for (let v = p >> 7; v; v >>= 7) b.unshift(0x80 | (v & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, out);
}

const utf8String = (s) => tlv(0x0c, new TextEncoder().encode(s));
const printable = (s) => tlv(0x13, new TextEncoder().encode(s));

function integer(bytes) {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = Array.from(bytes.subarray(i));
  if (v[0] & 0x80) v.unshift(0);
  return tlv(0x02, v);
}

/** r‖s (64 bytes) → DER ECDSA-Sig-Value. */
export function derSignature(raw) {
  return seq(integer(raw.subarray(0, 32)), integer(raw.subarray(32)));
}

function rdn(type, value) {
  return set(seq(oid(type), value));
}

export function subject(organisation, creditCode) {
  // serialNumber is a PrintableString in X.520; a credit code is digits and capitals.
  return seq(rdn(OID.countryName, printable("CN")), rdn(OID.organizationName, utf8String(organisation)),
             rdn(OID.organizationIdentifier, utf8String(ORG_ID_PREFIX + creditCode)),
             rdn(OID.serialNumber, printable(creditCode)));
}

function spki(point) {
  return seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1)), tlv(0x03, [0], point));
}

/** The DER request for a stored key record (signKey + publicKey). */
export async function buildCsr(key, { organisation, creditCode }) {
  if (!organisation || !creditCode) throw new RangeError("organisation and credit code are required");
  const info = seq(integer(Uint8Array.of(0)), subject(organisation, creditCode), spki(key.publicKey),
                   Uint8Array.of(0xa0, 0x00)); // attributes [0]: none
  const signature = derSignature(await signWith(key, info));
  return seq(info, seq(oid(OID.ecdsaWithSHA256)), tlv(0x03, [0], signature));
}

export function pem(der, label = "CERTIFICATE REQUEST") {
  let bin = "";
  for (const b of der) bin += String.fromCharCode(b);
  const body = btoa(bin).replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

export async function buildCsrPem(key, subjectInfo) {
  return pem(await buildCsr(key, subjectInfo));
}

/** The DER request for an SM2 key `{scalar, point}` (32 and 65 bytes), signed sm2-with-sm3
 *  (no parameters) over its CertificationRequestInfo, the signature a DER SEQUENCE {r, s}. */
export async function buildSm2Csr(key, { organisation, creditCode }) {
  if (!organisation || !creditCode) throw new RangeError("organisation and credit code are required");
  const sm = await import("./crypto/sm.js");
  if (!sm.isSm2Point(key.point)) throw new RangeError("not an SM2 public key");
  const spkiSm2 = seq(seq(oid(OID.ecPublicKey), oid(OID.sm2)), tlv(0x03, [0], key.point));
  const info = seq(integer(Uint8Array.of(0)), subject(organisation, creditCode), spkiSm2, Uint8Array.of(0xa0, 0x00));
  const signature = derSignature(sm.sm2Sign(key.scalar, key.point, info));
  return seq(info, seq(oid(OID.sm2WithSm3)), tlv(0x03, [0], signature));
}
