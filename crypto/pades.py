"""PDF signatures (PAdES B-B, ETSI EN 319 142-1) with pyHanko, over the platform's Ed25519 key.

A notice PDF carries one CMS signature (``/SubFilter /ETSI.CAdES.detached``) of the platform's key
with its certificate embedded, so any PDF reader that checks signatures (and pyHanko's validator)
sees who signed and that no byte changed since. The certificate is self-issued for that key
(``platform_certificate``): a reader trusts it by its fingerprint, published with the key
(docs/award.md), or a deployment replaces it with one its CA issued for the same key.

No Django here: callers pass the key, the certificate and the bytes."""

from __future__ import annotations

import datetime
import io

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)


class PdfSignatureError(ValueError):
    """The PDF has no signature, or one that does not verify with the expected certificate."""


def platform_certificate(key: Ed25519PrivateKey, *, name: str) -> bytes:
    """A self-issued certificate (PEM) for the platform's key, for document signing only."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, None))
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_public_key(cert_pem: bytes) -> bytes:
    """The raw Ed25519 public key a certificate certifies (``PdfSignatureError`` if it is not one)."""
    try:
        public = x509.load_pem_x509_certificate(cert_pem).public_key()
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    except (ValueError, TypeError) as exc:
        raise PdfSignatureError(f"not an Ed25519 certificate: {exc}") from None


def certificate_fingerprint(cert_pem: bytes) -> str:
    return x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256()).hex()


def _signer(key: Ed25519PrivateKey, cert_pem: bytes):
    from asn1crypto import keys as asn1_keys, x509 as asn1_x509
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER))
    return signers.SimpleSigner(signing_cert=cert, signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
                                cert_registry=SimpleCertificateStore.from_certs([cert]))


def sign_pdf(pdf: bytes, key: Ed25519PrivateKey, cert_pem: bytes, *, reason: str, location: str,
             field: str = "PlatformSignature") -> bytes:
    """``pdf`` with a PAdES B-B signature of ``key`` (an incremental update: the bytes before stay)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(field_name=field, reason=reason, location=location,
                                        subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha512")
    signers.PdfSigner(meta, signer=_signer(key, cert_pem)).sign_pdf(writer, output=out)
    return out.getvalue()


def verify_pdf(pdf: bytes, cert_pem: bytes) -> dict:
    """Validate every signature of ``pdf`` with pyHanko's validator, trusting ``cert_pem`` only.
    Returns what the validator says of the last one; raises ``PdfSignatureError`` if any fails."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    cert = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER))
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - a PDF pyHanko cannot read is not a signed notice
        raise PdfSignatureError(f"not a readable PDF: {exc}") from None
    if not signatures:
        raise PdfSignatureError("the PDF has no signature")
    result = {}
    for sig in signatures:
        status = validate_pdf_signature(sig, ValidationContext(trust_roots=[cert], allow_fetching=False))
        result = {"intact": status.intact, "valid": status.valid, "trusted": status.trusted,
                  "coverage": status.coverage.name, "subfilter": sig.sig_object["/SubFilter"],
                  "signer": status.signing_cert.subject.human_friendly,
                  "fingerprint": status.signing_cert.sha256.hex()}
        if not (status.intact and status.valid and status.trusted and status.bottom_line):
            raise PdfSignatureError(f"the signature does not verify: {status.summary()}")
    return result
