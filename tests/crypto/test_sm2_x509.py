"""SM2 requests and certificates (sm2-with-sm3, GB/T 20518 profile), the SM2 key PEM and the
``tender-key/sm2-v1`` key file, checked against OpenSSL 3 as an independent reader."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto import ca, gm, gm_keys, keys, sm2_x509
from tests.conftest import need_tool

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def root():
    key = gm.generate_sm2_key()
    return key, sm2_x509.ca_certificate(key, name="test bidder SM2 CA")


def _bidder_cert(root, key=None, org="甲建设有限公司", code="91320000MA1XYZ0001"):
    ca_key, ca_pem = root
    key = key or gm.generate_sm2_key()
    info = sm2_x509.load_csr(sm2_x509.make_csr(key, organisation=org, credit_code=code))
    return key, sm2_x509.issue_certificate(ca_key, ca_pem, info, not_before=NOW, not_after=NOW + timedelta(days=365))


def _openssl(*args, stdin=None, check=True):
    result = subprocess.run([need_tool("openssl"), *args], input=stdin, capture_output=True, timeout=30)
    if check:
        assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


def test_a_request_round_trips_and_proves_possession():
    key = gm.generate_sm2_key()
    pem = sm2_x509.make_csr(key, organisation="甲建设有限公司", credit_code="91320000MA1XYZ0001")
    assert sm2_x509.is_sm2_request(pem) and not sm2_x509.is_sm2_request(
        ca.make_csr(keys.generate_bidder_key(), organisation="x", credit_code="91320000MA1XYZ0001"))
    info = sm2_x509.load_csr(pem)
    assert info.public_key == key.public and info.credit_code == "91320000MA1XYZ0001"
    assert info.organisation == "甲建设有限公司" and info.key_id == key.key_id


def test_a_request_whose_signature_was_made_by_another_key_is_refused():
    # Someone pastes their own SM2 key into a request signed by another: no proof of possession.
    key, other = gm.generate_sm2_key(), gm.generate_sm2_key()
    pem = sm2_x509.make_csr(key, organisation="甲", credit_code="91320000MA1XYZ0001")
    der = x509.load_pem_x509_csr(pem).tbs_certrequest_bytes.replace(key.public.point, other.public.point)
    resigned = sm2_x509._pem("CERTIFICATE REQUEST", sm2_x509._signed(der, key))  # signed by key, names other
    with pytest.raises(ca.CertificateError, match="proof of possession"):
        sm2_x509.load_csr(resigned)


def test_openssl_reads_and_verifies_our_request(tmp_path):
    key = gm.generate_sm2_key()
    path = tmp_path / "req.pem"
    path.write_bytes(sm2_x509.make_csr(key, organisation="甲建设有限公司", credit_code="91320000MA1XYZ0001"))
    out = _openssl("req", "-in", str(path), "-verify", "-noout", "-vfyopt", "distid:1234567812345678")
    assert b"verify OK" in out.stdout + out.stderr


def test_certificates_chain_to_the_sm2_root_and_openssl_agrees(root, tmp_path):
    key, pem = _bidder_cert(root)
    info = sm2_x509.load_certificate(pem, root[1])
    assert info.public_key == key.public and info.credit_code == "91320000MA1XYZ0001"
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.signature_algorithm_oid.dotted_string == sm2_x509.SM2_WITH_SM3_OID
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment and usage.digital_signature and not usage.key_cert_sign
    (tmp_path / "ca.pem").write_bytes(root[1])
    (tmp_path / "cert.pem").write_bytes(pem)
    out = _openssl("verify", "-vfyopt", "distid:1234567812345678", "-CAfile", str(tmp_path / "ca.pem"),
                   str(tmp_path / "cert.pem"))
    assert b"OK" in out.stdout
    text = _openssl("x509", "-in", str(tmp_path / "cert.pem"), "-noout", "-text").stdout
    assert b"SM2-with-SM3" in text or b"1.2.156.10197.1.501" in text


def test_a_certificate_from_another_root_or_altered_is_refused(root):
    other = (gm.generate_sm2_key(), None)
    other = (other[0], sm2_x509.ca_certificate(other[0], name="test bidder SM2 CA"))  # same name, other key
    _, pem = _bidder_cert(other)
    with pytest.raises(ca.CertificateError):
        sm2_x509.load_certificate(pem, root[1])
    _, good = _bidder_cert(root)
    der = x509.load_pem_x509_certificate(good).public_bytes(serialization.Encoding.DER)
    altered = der.replace("91320000MA1XYZ0001".encode(), "91320000MA1XYZ0002".encode())
    with pytest.raises(ca.CertificateError):
        sm2_x509.load_certificate(sm2_x509._pem("CERTIFICATE", altered), root[1])
    # A P-256 certificate is not an SM2 one, and the reverse.
    with pytest.raises(ca.CertificateError):
        ca.load_certificate(good)
    p256_ca = ca.generate_ca_key()
    p256_pem = ca.ca_certificate(p256_ca, name="x")
    with pytest.raises(ca.CertificateError):
        sm2_x509.load_certificate(p256_pem)


def test_the_sm2_key_pem_is_openssls(tmp_path):
    key = gm.generate_sm2_key()
    path = tmp_path / "k.pem"
    path.write_bytes(sm2_x509.private_key_to_pem(key))
    pub = _openssl("pkey", "-in", str(path), "-pubout", "-outform", "DER").stdout
    assert pub == sm2_x509.spki_der(key.public)
    assert sm2_x509.load_private_key_pem(path.read_bytes()) == key
    theirs = tmp_path / "theirs.pem"
    _openssl("genpkey", "-algorithm", "SM2", "-out", str(theirs))
    # OpenSSL 3.0 writes SM2's SEC 1 form as DER only (its PEM writer refuses the type).
    traditional = _openssl("pkey", "-in", str(theirs), "-outform", "DER", "-traditional").stdout
    loaded = sm2_x509.load_private_key_pem(sm2_x509._pem("EC PRIVATE KEY", traditional))
    assert sm2_x509.spki_der(loaded.public) == _openssl("pkey", "-in", str(theirs), "-pubout", "-outform", "DER").stdout
    mismatched = sm2_x509.private_key_to_pem(gm.SM2PrivateKey(key.scalar, gm.generate_sm2_key().public))
    with pytest.raises(ca.CertificateError):
        sm2_x509.load_private_key_pem(mismatched)


def test_the_sm2_key_file_round_trips_and_refuses_a_wrong_password():
    key = gm.generate_sm2_key()
    data = gm_keys.private_key_to_file(key, "口令 password".encode(), iterations=keys.MIN_ITERATIONS)
    assert gm_keys.read_any_key_file_public(data) == (key.key_id, key.public, "gm")
    assert gm_keys.load_any_private_key_file(data, "口令 password".encode()) == key
    with pytest.raises(keys.WrongPassword):
        gm_keys.load_any_private_key_file(data, b"wrong")
    swapped = data.replace(keys.b64encode(key.public.point).encode(),
                           keys.b64encode(gm.generate_sm2_key().public.point).encode())
    with pytest.raises(keys.InvalidKeyFile):
        gm_keys.load_any_private_key_file(swapped, "口令 password".encode())
    p256 = keys.private_key_to_file(keys.generate_bidder_key(), b"pw", iterations=keys.MIN_ITERATIONS)
    assert gm_keys.read_any_key_file_public(p256)[2] == "intl"
