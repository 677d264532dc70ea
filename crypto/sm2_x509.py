"""SM2 keys in the X.509 world: PEM key files, PKCS#10 requests and certificates signed sm2-with-sm3.

The profile is GB/T 20518-2018's (the Chinese profile of RFC 5280): the subject key is
``id-ecPublicKey`` with the named curve SM2 (1.2.156.10197.1.301), the signature algorithm
``SM2-with-SM3`` (1.2.156.10197.1.501, no parameters) computed with the default user ID
``1234567812345678``, the signature value the DER ``SEQUENCE {r, s}``. Certificates name the bidder
organisation as ``crypto.ca`` does (O, organizationIdentifier ``NTRCN-<credit code>``, serialNumber).

``cryptography`` parses these certificates and requests (subject, validity, extensions, the signed
bytes) but cannot use an SM2 key; this module encodes what it cannot (the SubjectPublicKeyInfo, the
TBS structures, with pycryptodome's DER classes) and signs and verifies with ``crypto.gm``. OpenSSL 3
verifies what it writes (tests/crypto/test_sm2_x509.py). Failures raise ``ca.CertificateError``.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from Crypto.Util.asn1 import (DerBitString, DerBoolean, DerInteger, DerObject, DerObjectId, DerOctetString,
                              DerSequence)
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import gm
from .ca import ORG_ID_PREFIX, CertificateError, _one, _subject

SM2_CURVE_OID = "1.2.156.10197.1.301"
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
MAX_PEM_SIZE = 16 * 1024
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


@dataclass(frozen=True)
class Sm2CsrInfo:
    public_key: gm.SM2PublicKey
    organisation: str
    credit_code: str
    suite: str = "gm"

    @property
    def key_id(self) -> str:
        return self.public_key.key_id


@dataclass(frozen=True)
class Sm2CertInfo:
    serial: str
    public_key: gm.SM2PublicKey
    organisation: str
    credit_code: str
    not_before: datetime
    not_after: datetime
    suite: str = "gm"

    @property
    def key_id(self) -> str:
        return self.public_key.key_id


# --- keys ------------------------------------------------------------------------------------------

def spki_der(public_key: gm.SM2PublicKey) -> bytes:
    """SubjectPublicKeyInfo: id-ecPublicKey, namedCurve SM2, the uncompressed point."""
    return _SPKI_PREFIX + public_key.point


def public_key_from_spki(der: bytes) -> gm.SM2PublicKey:
    der = bytes(der)
    if len(der) != len(_SPKI_PREFIX) + gm.PUBLIC_KEY_SIZE or not der.startswith(_SPKI_PREFIX):
        raise CertificateError("the key is not an SM2 public key")
    try:
        return gm.SM2PublicKey(der[len(_SPKI_PREFIX):])
    except gm.SM2Error:
        raise CertificateError("the SM2 public key is not on the curve") from None


def private_key_to_pem(key: gm.SM2PrivateKey) -> bytes:
    """SEC 1 ``ECPrivateKey`` (curve SM2, public key included), PEM ``EC PRIVATE KEY``: OpenSSL reads it."""
    der = DerSequence([
        DerInteger(1), DerOctetString(key.scalar),
        DerObjectId(SM2_CURVE_OID, explicit=0),
        DerBitString(key.public.point, explicit=1),
    ]).encode()
    return _pem("EC PRIVATE KEY", der)


def load_private_key_pem(pem: bytes) -> gm.SM2PrivateKey:
    """Read ``private_key_to_pem``'s form (or OpenSSL's ``-traditional`` one); the pair is checked."""
    try:
        der = _unpem(pem, "EC PRIVATE KEY")
        seq = DerSequence().decode(der, strict=True)
        if len(seq) != 4 or seq[0] != 1:
            raise ValueError
        scalar = DerOctetString().decode(seq[1], strict=True).payload
        curve = DerObjectId(explicit=0).decode(seq[2], strict=True).value
        point = DerBitString(explicit=1).decode(seq[3], strict=True).value
        if curve != SM2_CURVE_OID:
            raise ValueError
        key = gm.SM2PrivateKey(scalar, gm.SM2PublicKey(point))
        return gm.check_pair(key)
    except (ValueError, TypeError, IndexError, EOFError):
        raise CertificateError("not an SM2 private key (SEC 1 PEM with its public key)") from None


# --- requests --------------------------------------------------------------------------------------

def make_csr(private_key: gm.SM2PrivateKey, *, organisation: str, credit_code: str) -> bytes:
    """A PKCS#10 request for an SM2 key, signed sm2-with-sm3 (proof of possession)."""
    if not organisation or not credit_code:
        raise ValueError("organisation and credit code are required")
    info = DerSequence([DerInteger(0), _raw(_subject(organisation, credit_code).public_bytes()),
                        _raw(spki_der(private_key.public)), _raw(b"\xa0\x00")]).encode()
    return _pem("CERTIFICATE REQUEST", _signed(info, private_key))


def is_sm2_request(pem: bytes | str) -> bool:
    """Does this PEM request carry an SM2 key (so ``load_csr`` here, not ``crypto.ca``'s, reads it)?"""
    try:
        csr = x509.load_pem_x509_csr(_as_bytes(pem))
        return _spki_of_request(csr.tbs_certrequest_bytes).startswith(_SPKI_PREFIX)
    except (ValueError, TypeError, IndexError, EOFError):
        return False


def load_csr(pem: bytes | str) -> Sm2CsrInfo:
    """Parse an SM2 request, verify its signature (proof of possession) and its subject."""
    pem = _as_bytes(pem)
    if len(pem) > MAX_PEM_SIZE:
        raise CertificateError("CSR too large")
    try:
        csr = x509.load_pem_x509_csr(pem)
        algorithm = csr.signature_algorithm_oid.dotted_string
        tbs, signature = csr.tbs_certrequest_bytes, csr.signature
        spki = _spki_of_request(tbs)
    except (ValueError, TypeError, IndexError):
        raise CertificateError("not a PEM PKCS#10 certificate request") from None
    if algorithm != SM2_WITH_SM3_OID:
        raise CertificateError("the request is not signed sm2-with-sm3")
    public_key = public_key_from_spki(spki)
    try:
        gm.sm2_verify(public_key, signature, tbs)
    except gm.SM2Error:
        raise CertificateError("the CSR's signature does not verify: no proof of possession") from None
    credit_code = _one(csr.subject, NameOID.SERIAL_NUMBER)
    if _one(csr.subject, NameOID.ORGANIZATION_IDENTIFIER) != ORG_ID_PREFIX + credit_code:
        raise CertificateError("organizationIdentifier and serialNumber disagree")
    return Sm2CsrInfo(public_key=public_key, organisation=_one(csr.subject, NameOID.ORGANIZATION_NAME),
                      credit_code=credit_code)


# --- certificates ----------------------------------------------------------------------------------

def ca_certificate(ca_key: gm.SM2PrivateKey, *, name: str) -> bytes:
    """A self-signed SM2 root for ``ca_key``. Its subject, serial and validity derive from the key;
    the signature does not (SM2 draws k at random), so the platform keeps the root it made."""
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    key_usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=True,
                              crl_sign=True, encipher_only=False, decipher_only=False)
    extensions = [(x509.BasicConstraints(ca=True, path_length=0), True), (key_usage, True),
                  (x509.SubjectKeyIdentifier(_ski(ca_key.public)), False)]
    serial = int(ca_key.key_id, 16) >> 1 or 1
    return _certificate(ca_key, issuer=subject, subject=subject, public_key=ca_key.public, serial=serial,
                        not_before=start, not_after=start + timedelta(days=365 * 30), extensions=extensions)


def issue_certificate(ca_key: gm.SM2PrivateKey, ca_cert_pem: bytes, csr: Sm2CsrInfo, *,
                      not_before: datetime, not_after: datetime, organisation: str | None = None,
                      credit_code: str | None = None) -> bytes:
    """The bidder's SM2 certificate, issued by the SM2 root; like ``crypto.ca.issue_certificate``."""
    if not_after <= not_before:
        raise ValueError("a certificate's validity must not be empty")
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    subject = _subject(organisation or csr.organisation, credit_code or csr.credit_code,
                       common_name=csr.key_id)
    # The key encrypts file keys (SM2 encryption: keyEncipherment, GB/T 20518's 加密) and signs.
    key_usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False,
                              crl_sign=False, encipher_only=False, decipher_only=False)
    extensions = [(x509.BasicConstraints(ca=False, path_length=None), True), (key_usage, True),
                  (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
                  (x509.SubjectKeyIdentifier(_ski(csr.public_key)), False),
                  (x509.AuthorityKeyIdentifier(_ski(ca_key.public), None, None), False)]
    return _certificate(ca_key, issuer=ca_cert.subject, subject=subject, public_key=csr.public_key,
                        serial=secrets.randbits(127) | 1, not_before=not_before, not_after=not_after,
                        extensions=extensions)


def load_certificate(pem: bytes | str, ca_cert_pem: bytes | None = None) -> Sm2CertInfo:
    """Parse an SM2 bidder certificate; with ``ca_cert_pem`` (the SM2 root), check its signature."""
    try:
        cert = x509.load_pem_x509_certificate(_as_bytes(pem))
        public_key = public_key_from_spki(_spki_of_certificate(cert.tbs_certificate_bytes))
    except (ValueError, TypeError, IndexError):
        raise CertificateError("not a PEM SM2 certificate") from None
    if ca_cert_pem is not None:
        verify_issued_by(cert, ca_cert_pem)
    return Sm2CertInfo(serial=format(cert.serial_number, "x"), public_key=public_key,
                       organisation=_one(cert.subject, NameOID.ORGANIZATION_NAME),
                       credit_code=_one(cert.subject, NameOID.SERIAL_NUMBER),
                       not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc)


def certificate_public_key(pem: bytes | str) -> gm.SM2PublicKey:
    """The SM2 key of any SM2 certificate (a root too, whose subject names no organisation)."""
    try:
        cert = x509.load_pem_x509_certificate(_as_bytes(pem))
        return public_key_from_spki(_spki_of_certificate(cert.tbs_certificate_bytes))
    except (ValueError, TypeError, IndexError):
        raise CertificateError("not a PEM SM2 certificate") from None


def verify_issued_by(cert: x509.Certificate, ca_cert_pem: bytes) -> None:
    ca = x509.load_pem_x509_certificate(_as_bytes(ca_cert_pem))
    ca_key = public_key_from_spki(_spki_of_certificate(ca.tbs_certificate_bytes))
    if cert.signature_algorithm_oid.dotted_string != SM2_WITH_SM3_OID or cert.issuer != ca.subject:
        raise CertificateError("the certificate was not issued by this CA")
    try:
        gm.sm2_verify(ca_key, cert.signature, cert.tbs_certificate_bytes)
    except gm.SM2Error:
        raise CertificateError("the certificate was not issued by this CA") from None


# --- DER and PEM -----------------------------------------------------------------------------------

def _raw(der: bytes) -> DerObject:
    """An already-encoded element, inserted as it is."""
    class _Raw(DerObject):
        def encode(self):
            return der
    return _Raw()


def _algorithm() -> bytes:
    return DerSequence([DerObjectId(SM2_WITH_SM3_OID)]).encode()


def _signed(tbs: bytes, key: gm.SM2PrivateKey) -> bytes:
    signature = gm.signature_to_der(gm.sm2_sign(key, tbs))
    return DerSequence([_raw(tbs), _raw(_algorithm()), DerBitString(signature)]).encode()


def _time(when: datetime) -> DerObject:
    when = when.astimezone(timezone.utc)
    if 1950 <= when.year < 2050:  # RFC 5280, 4.1.2.5: UTCTime through 2049
        return DerObject(0x17, when.strftime("%y%m%d%H%M%SZ").encode())
    return DerObject(0x18, when.strftime("%Y%m%d%H%M%SZ").encode())


def _certificate(ca_key: gm.SM2PrivateKey, *, issuer: x509.Name, subject: x509.Name,
                 public_key: gm.SM2PublicKey, serial: int, not_before: datetime, not_after: datetime,
                 extensions: list) -> bytes:
    ext_items = []
    for value, critical in extensions:
        items = [DerObjectId(value.oid.dotted_string)]
        if critical:
            items.append(DerBoolean(True))
        items.append(DerOctetString(value.public_bytes()))
        ext_items.append(DerSequence(items))
    tbs = DerSequence([
        DerInteger(2, explicit=0), DerInteger(serial), _raw(_algorithm()), _raw(issuer.public_bytes()),
        DerSequence([_time(not_before), _time(not_after)]), _raw(subject.public_bytes()),
        _raw(spki_der(public_key)), DerSequence(ext_items, explicit=3),
    ]).encode()
    return _pem("CERTIFICATE", _signed(tbs, ca_key))


def _spki_of_request(tbs: bytes) -> bytes:
    seq = DerSequence().decode(tbs, strict=True)  # version, subject, SPKI, attributes
    return seq[2]


def _spki_of_certificate(tbs: bytes) -> bytes:
    seq = DerSequence().decode(tbs, strict=True)  # [0] version, serial, alg, issuer, validity, subject, SPKI
    return seq[6]


def _ski(public_key: gm.SM2PublicKey) -> bytes:
    return gm.sm3(public_key.point)[:20]


def _pem(label: str, der: bytes) -> bytes:
    text = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode("ascii")


def _unpem(pem: bytes, label: str) -> bytes:
    text = _as_bytes(pem).decode("ascii")
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if text.count(begin) != 1 or end not in text:
        raise ValueError("wrong PEM label")
    body = text.split(begin, 1)[1].split(end, 1)[0]
    return base64.b64decode("".join(body.split()), validate=True)


def _as_bytes(pem: bytes | str) -> bytes:
    return pem.encode("utf-8", "replace") if isinstance(pem, str) else bytes(pem)
