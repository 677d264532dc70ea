"""Bidder certificates: CSR with proof of possession, approval by a host or an administrator only,
renewal supersedes, revocation, validity."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bidding.certificates import current_certificate, platform_ca
from bidding.models import BidderCertificate
from common import clock
from crypto import ca, keys
from tests.bidding.conftest import token_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def csr_for(user, key=None):
    key = key or keys.generate_bidder_key()
    return key, ca.make_csr(key, organisation=user.organisation.name,
                            credit_code=user.organisation.credit_code).decode()


def test_a_bidder_requests_and_a_host_issues(people):
    alice, host = token_client(people["alice"]), token_client(people["host"])
    key, csr = csr_for(people["alice"])
    res = post(alice, "/api/v1/certificates", {"csr_pem": csr})
    assert res.status_code == 201 and res.json()["status"] == "pending"
    cert_id = res.json()["id"]
    # Bidders cannot approve, not even their own; bob does not even see alice's request.
    assert post(alice, f"/api/v1/certificates/{cert_id}/approve").status_code == 403
    assert token_client(people["bob"]).get(f"/api/v1/certificates/{cert_id}").status_code == 404
    assert token_client(people["bob"]).get("/api/v1/certificates").json() == []
    res = post(host, f"/api/v1/certificates/{cert_id}/approve")
    assert res.status_code == 200 and res.json()["status"] == "issued"
    info = ca.load_certificate(res.json()["certificate_pem"], platform_ca()[1])
    assert info.credit_code == people["alice"].organisation.credit_code
    assert info.organisation == people["alice"].organisation.name
    assert info.key_id == keys.key_id(key.public_key())
    assert post(host, f"/api/v1/certificates/{cert_id}/approve").json()["error"]["code"] == "invalid_state"


def test_a_csr_for_another_organisation_or_unsigned_is_refused(people):
    alice = token_client(people["alice"])
    _, bobs = csr_for(people["bob"])
    res = post(alice, "/api/v1/certificates", {"csr_pem": bobs})
    assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_csr"
    _, csr = csr_for(people["alice"])
    broken = csr.replace(csr.splitlines()[3], csr.splitlines()[3][::-1])
    assert post(alice, "/api/v1/certificates", {"csr_pem": broken}).json()["error"]["code"] == "invalid_csr"


def test_renewal_supersedes_and_revocation_ends_validity(people):
    alice, host = token_client(people["alice"]), token_client(people["host"])
    org_id = people["alice"].organisation_id
    first = post(alice, "/api/v1/certificates", {"csr_pem": csr_for(people["alice"])[1]}).json()["id"]
    post(host, f"/api/v1/certificates/{first}/approve")
    second = post(alice, "/api/v1/certificates", {"csr_pem": csr_for(people["alice"])[1]}).json()["id"]
    post(host, f"/api/v1/certificates/{second}/approve")
    assert BidderCertificate.objects.get(pk=first).status == "superseded"
    assert current_certificate(org_id, clock.now(), "intl").pk == second
    # Validity is a window of the server's clock.
    cert = BidderCertificate.objects.get(pk=second)
    assert current_certificate(org_id, cert.not_after, "intl") is None
    res = post(alice, f"/api/v1/certificates/{second}/revoke", {"reason": ""})
    assert res.json()["error"]["code"] == "bad_request"
    res = post(alice, f"/api/v1/certificates/{second}/revoke", {"reason": "私钥遗失"})
    assert res.status_code == 200 and res.json()["status"] == "revoked"
    assert current_certificate(org_id, clock.now(), "intl") is None
    assert post(token_client(people["bob"]), f"/api/v1/certificates/{first}/revoke",
                {"reason": "x"}).status_code == 404


def test_a_host_rejects_with_a_reason(people):
    cert_id = post(token_client(people["alice"]), "/api/v1/certificates",
                   {"csr_pem": csr_for(people["alice"])[1]}).json()["id"]
    res = post(token_client(people["admin"]), f"/api/v1/certificates/{cert_id}/reject",
               {"reason": "营业执照不符"})
    assert res.json()["status"] == "rejected" and res.json()["reason"] == "营业执照不符"
    assert current_certificate(people["alice"].organisation_id, clock.now() + timedelta(0), "intl") is None


def test_another_companys_key_is_named_as_such_and_cannot_be_certified_to_us(people):
    """Bob holding alice's key backup: the key page asks whose it is before importing it, and a
    certificate request for it in bob's name is refused even without the page."""
    alice, bob = token_client(people["alice"]), token_client(people["bob"])
    key, csr = csr_for(people["alice"])
    assert post(alice, "/api/v1/certificates", {"csr_pem": csr}).status_code == 201
    kid = keys.key_id(key.public_key())
    assert alice.get(f"/api/v1/certificates/keys/{kid}").json() == {"key_id": kid, "holder": "yours"}
    assert bob.get(f"/api/v1/certificates/keys/{kid}").json() == {"key_id": kid, "holder": "another"}
    assert bob.get(f"/api/v1/certificates/keys/{'0' * 16}").json()["holder"] == "none"
    assert bob.get("/api/v1/certificates/keys/NOT-A-KEY").status_code == 400
    assert token_client(people["host"]).get(f"/api/v1/certificates/keys/{kid}").status_code == 403
    _, bobs = csr_for(people["bob"], key)
    res = post(bob, "/api/v1/certificates", {"csr_pem": bobs})
    assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_csr"
    assert BidderCertificate.objects.filter(key_id=kid).count() == 1
