"""The platform's small X.509 CA for bidder keys.

The bidder generates its P-256 key pair on its own machine (``crypto.keys``) and sends a PKCS#10
certificate signing request signed with that key: the signature proves it holds the private half.
After a host or administrator approves, the CA issues a certificate binding the public key to the
bidder organisation: its name (O) and its 统一社会信用代码 (organizationIdentifier, 2.5.4.97, with the
ETSI EN 319 412-1 prefix ``NTRCN-``, and serialNumber, which Chinese CAs traditionally use).

The CA key is an ECDSA P-256 key; its PEM file is created on first use in embedded mode and
provisioned by the operator in production (the caller decides, as ``audit.keys`` does). Failures to
parse or verify raise ``CertificateError``; nothing here touches Django.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import keys

MAX_CSR_SIZE = 16 * 1024
ORG_ID_PREFIX = "NTRCN-"  # ETSI EN 319 412-1: national trade register, China
DEFAULT_VALIDITY = timedelta(days=365)


class CertificateError(ValueError):
    """A CSR or certificate is malformed, badly signed, or not what it claims."""


@dataclass(frozen=True)
class CsrInfo:
    public_key: keys.PublicKey
    organisation: str
    credit_code: str

    @property
    def key_id(self) -> str:
        return keys.key_id(self.public_key)


@dataclass(frozen=True)
class CertInfo:
    serial: str  # hex
    public_key: keys.PublicKey
    organisation: str
    credit_code: str
    not_before: datetime
    not_after: datetime

    @property
    def key_id(self) -> str:
        return keys.key_id(self.public_key)


def _subject(organisation: str, credit_code: str, common_name: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
             x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, ORG_ID_PREFIX + credit_code),
             x509.NameAttribute(NameOID.SERIAL_NUMBER, credit_code)]
    if common_name:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _one(name: x509.Name, oid) -> str:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str) or not values[0].value:
        raise CertificateError(f"the subject needs exactly one {oid._name}")
    return values[0].value


def make_csr(private_key: keys.PrivateKey, *, organisation: str, credit_code: str) -> bytes:
    """The bidder's PEM CSR for ``private_key``, naming its organisation and credit code."""
    keys.check_private_key(private_key)
    if not organisation or not credit_code:
        raise ValueError("organisation and credit code are required")
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        _subject(organisation, credit_code)).sign(private_key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def load_csr(pem: bytes | str) -> CsrInfo:
    """Parse a PEM CSR, check its self-signature (proof of possession), key type and subject."""
    if isinstance(pem, str):
        pem = pem.encode("utf-8", "replace")
    if len(pem) > MAX_CSR_SIZE:
        raise CertificateError("CSR too large")
    try:
        csr = x509.load_pem_x509_csr(pem)
        ok = csr.is_signature_valid
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CertificateError("not a PEM PKCS#10 certificate request") from None
    if not ok:
        raise CertificateError("the CSR's signature does not verify: no proof of possession")
    try:
        public_key = keys.check_public_key(csr.public_key())
    except (ValueError, UnsupportedAlgorithm):  # another curve (SM2 goes to crypto.sm2_x509)
        raise CertificateError("the CSR's key is not a P-256 key") from None
    credit_code = _one(csr.subject, NameOID.SERIAL_NUMBER)
    org_id = _one(csr.subject, NameOID.ORGANIZATION_IDENTIFIER)
    if org_id != ORG_ID_PREFIX + credit_code:
        raise CertificateError("organizationIdentifier and serialNumber disagree")
    return CsrInfo(public_key=public_key, organisation=_one(csr.subject, NameOID.ORGANIZATION_NAME),
                   credit_code=credit_code)


def generate_ca_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def ca_key_to_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_ca_key_pem(pem: bytes, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"cannot load the CA key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError("the CA key is not an EC key")
    return key


def ca_certificate(ca_key: ec.EllipticCurvePrivateKey, *, name: str) -> bytes:
    """A self-signed CA certificate for ``ca_key``. Deterministic in its subject and validity
    (derived from the key), so every process that loads the same key publishes the same root."""
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    public_key = ca_key.public_key()
    start = datetime(2025, 1, 1)
    serial = int.from_bytes(keys.key_id(public_key).encode(), "big") >> 1
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(public_key).serial_number(serial)
            .not_valid_before(start).not_valid_after(start + timedelta(days=365 * 30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True))  # RFC 6979: same bytes
    return cert.public_bytes(serialization.Encoding.PEM)


def issue_certificate(ca_key: ec.EllipticCurvePrivateKey, ca_cert_pem: bytes, csr: CsrInfo, *,
                      not_before: datetime, not_after: datetime,
                      organisation: str | None = None, credit_code: str | None = None) -> bytes:
    """Issue a bidder certificate for the CSR's key. The subject is the organisation the platform
    knows (``organisation``/``credit_code``), not whatever the CSR claims; the caller compares."""
    if not_after <= not_before:
        raise ValueError("a certificate's validity must not be empty")
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    subject = _subject(organisation or csr.organisation, credit_code or csr.credit_code,
                       common_name=csr.key_id)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(csr.public_key).serial_number(secrets.randbits(127) | 1)
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # The key wraps file keys (HPKE = ECDH: keyAgreement) and signs CSRs.
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=True, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def load_certificate(pem: bytes | str, ca_cert_pem: bytes | None = None) -> CertInfo:
    """Parse a bidder certificate; with ``ca_cert_pem``, check it was issued by that CA."""
    if isinstance(pem, str):
        pem = pem.encode("utf-8", "replace")
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise CertificateError("not a PEM certificate") from None
    if ca_cert_pem is not None:
        ca = x509.load_pem_x509_certificate(ca_cert_pem)
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise CertificateError("the certificate was not issued by this CA") from None
    try:
        public_key = keys.check_public_key(cert.public_key())
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError("the certificate's key is not a P-256 key") from None
    return CertInfo(serial=format(cert.serial_number, "x"), public_key=public_key,
                    organisation=_one(cert.subject, NameOID.ORGANIZATION_NAME),
                    credit_code=_one(cert.subject, NameOID.SERIAL_NUMBER),
                    not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc)
