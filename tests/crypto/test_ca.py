"""The bidder CA: CSRs prove possession, certificates bind the key to name and credit code."""

from datetime import datetime, timedelta, timezone

import pytest

from crypto import ca, keys

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def test_issue_and_read_back():
    ca_key = ca.generate_ca_key()
    root = ca.ca_certificate(ca_key, name="test CA")
    assert ca.ca_certificate(ca_key, name="test CA") == root  # same key, same published root
    key = keys.generate_bidder_key()
    info = ca.load_csr(ca.make_csr(key, organisation="甲公司", credit_code="91320100AL1000000X"))
    assert info.key_id == keys.key_id(key.public_key()) and info.organisation == "甲公司"
    pem = ca.issue_certificate(ca_key, root, info, not_before=NOW, not_after=NOW + timedelta(days=1))
    cert = ca.load_certificate(pem, root)
    assert (cert.organisation, cert.credit_code, cert.key_id) == ("甲公司", "91320100AL1000000X", info.key_id)
    assert cert.not_before == NOW
    other_root = ca.ca_certificate(ca.generate_ca_key(), name="test CA")
    with pytest.raises(ca.CertificateError):
        ca.load_certificate(pem, other_root)


def test_csrs_that_do_not_prove_possession_or_are_malformed_are_refused():
    key = keys.generate_bidder_key()
    pem = ca.make_csr(key, organisation="甲公司", credit_code="91320100AL1000000X")
    # Flip a byte of the signature (near the end of the DER).
    import base64
    lines = pem.decode().splitlines()
    der = bytearray(base64.b64decode("".join(lines[1:-1])))
    der[-3] ^= 1
    body = base64.b64encode(bytes(der)).decode()
    bad = "\n".join([lines[0], *[body[i:i + 64] for i in range(0, len(body), 64)], lines[-1]]) + "\n"
    for candidate in (bad, "not a csr", pem.decode()[:100]):
        with pytest.raises(ca.CertificateError):
            ca.load_csr(candidate)
    from cryptography.hazmat.primitives.asymmetric import ec
    with pytest.raises(ValueError):
        ca.make_csr(ec.generate_private_key(ec.SECP384R1()), organisation="x", credit_code="y")
