"""The 国密 suite on the platform: SM2 certificates from the SM2 CA, a tender's cipher suite, and the
refusals when the suites are mixed (docs/envelope.md, Appendix D; docs/sealbid.md)."""

from __future__ import annotations

import io
import json

import pytest

from audit.keys import platform_sm2_vkey, platform_vkey
from audit.models import AuditEntry
from bidding import certificates
from bidding.models import BidSubmission
from common import clock
from common.actor import Actor
from crypto import envelope, gm, keys, sm2_x509
from crypto.receipt import verify_receipt
from tests.bidding.conftest import certify, package, seal, token_client, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def certify_sm2(user, approver, key=None):
    key = key or gm.generate_sm2_key()
    now = clock.now()
    csr = sm2_x509.make_csr(key, organisation=user.organisation.name,
                            credit_code=user.organisation.credit_code).decode()
    cert = certificates.request_certificate(user, Actor.of(user), csr_pem=csr, now=now)
    cert = certificates.decide_certificate(approver, Actor.of(approver), cert.pk, approve=True, now=now)
    return key, cert


def seal_gm(lot, org, key, plaintext: bytes) -> bytes:
    return envelope.seal_bytes(plaintext, tender_id=lot.project.code, lot_id=lot.code, bidder_id=org.credit_code,
                               recipients=[envelope.Recipient("bidder", key.public)], chunk_size=65536,
                               suite="gm")


def refusal_codes():
    return [json.loads(b)["data"]["code"] for b in
            AuditEntry.objects.filter(action="bidding.bid.refused").values_list("body", flat=True)]


def test_an_sm2_request_is_issued_by_the_sm2_ca_through_the_api(people):
    alice, host = token_client(people["alice"]), token_client(people["host"])
    key = gm.generate_sm2_key()
    org = people["alice"].organisation
    csr = sm2_x509.make_csr(key, organisation=org.name, credit_code=org.credit_code).decode()
    res = post(alice, "/api/v1/certificates", {"csr_pem": csr})
    assert res.status_code == 201, res.content
    assert res.json()["suite"] == "gm" and res.json()["key_id"] == key.key_id
    res = post(host, f"/api/v1/certificates/{res.json()['id']}/approve")
    assert res.status_code == 200 and res.json()["status"] == "issued", res.content
    client_keys = token_client(people["alice"]).get("/api/v1/platform/keys").json()
    sm2_root = client_keys["sm2_ca_certificate"].encode()
    info = sm2_x509.load_certificate(res.json()["certificate_pem"], sm2_root)
    assert info.public_key == key.public and info.credit_code == org.credit_code
    with pytest.raises(Exception):  # not under the P-256 root
        sm2_x509.load_certificate(res.json()["certificate_pem"], client_keys["ca_certificate"].encode())
    issued = [json.loads(b)["data"] for b in
              AuditEntry.objects.filter(action="bidding.certificate.issued").values_list("body", flat=True)]
    assert issued[-1]["suite"] == "gm" and issued[-1]["key_id"] == key.key_id


def test_an_sm2_request_with_another_key_inside_is_refused(people):
    key, other = gm.generate_sm2_key(), gm.generate_sm2_key()
    org = people["alice"].organisation
    from cryptography import x509
    pem = sm2_x509.make_csr(key, organisation=org.name, credit_code=org.credit_code)
    tbs = x509.load_pem_x509_csr(pem).tbs_certrequest_bytes.replace(key.public.point, other.public.point)
    forged = sm2_x509._pem("CERTIFICATE REQUEST", sm2_x509._signed(tbs, key)).decode()
    res = post(token_client(people["alice"]), "/api/v1/certificates", {"csr_pem": forged})
    assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_csr"


def test_a_gm_tender_takes_a_gm_bid_and_its_receipt_verifies(people, make_lot):
    lot = make_lot(cipher_suite="gm")
    key, cert = certify_sm2(people["alice"], people["host"])
    assert cert.suite == "gm"
    org = people["alice"].organisation
    env = seal_gm(lot, org, key, package(123456789, "ALICE"))
    res = upload(token_client(people["alice"]), lot.pk, env)
    assert res.status_code == 201, res.content
    doc = token_client(people["alice"]).get(f"/api/v1/lots/{lot.pk}/bid/receipt").json()
    body = verify_receipt(doc, platform_vkey(), sm2_vkey=platform_sm2_vkey(), envelope=io.BytesIO(env))
    header = envelope.read_header(io.BytesIO(env))
    assert body["key_id"] == key.key_id and body["commitment"] == header.commitment_b64
    # What the opening does with the released key: verify it against the stored header, decrypt.
    file_key = envelope.unwrap_file_key(header, key)
    stored = BidSubmission.objects.get(lot=lot)
    assert stored.sha256 == body["envelope"]["sha256"]
    assert envelope.open_bytes(env, file_key=file_key) == package(123456789, "ALICE")


def test_a_p256_certificate_is_refused_for_a_gm_tender_and_an_sm2_one_for_an_intl_tender(people, make_lot):
    gm_lot, intl_lot = make_lot(cipher_suite="gm"), make_lot()
    p256_key, _ = certify(people["alice"], people["host"])
    sm2_key, _ = certify_sm2(people["bob"], people["host"])
    alice, bob = token_client(people["alice"]), token_client(people["bob"])
    env = seal(gm_lot, people["alice"].organisation, p256_key, b"x" * 100)
    res = upload(alice, gm_lot.pk, env)
    assert res.status_code == 409 and res.json()["error"]["code"] == "certificate_suite_mismatch"
    assert res.json()["error"]["details"] == {"expected": "gm", "certificate": "intl"}
    res = upload(bob, intl_lot.pk, seal_gm(intl_lot, people["bob"].organisation, sm2_key, b"x" * 100))
    assert res.status_code == 409 and res.json()["error"]["code"] == "certificate_suite_mismatch"
    assert refusal_codes().count("certificate_suite_mismatch") == 2
    assert not BidSubmission.objects.exists()


def test_an_envelope_of_the_wrong_suite_is_refused_even_to_the_right_key_id(people, make_lot):
    # Bob's certificate is SM2 and the tender gm; an attacker's v1 envelope whose stanza line names
    # Bob's key id (stanza bodies are not checked against keys before opening) is still refused,
    # on its version, before anything else is looked at.
    lot = make_lot(cipher_suite="gm")
    sm2_key, _ = certify_sm2(people["bob"], people["host"])
    org = people["bob"].organisation
    p256 = keys.generate_bidder_key()
    v1 = seal(lot, org, p256, b"x" * 100).replace(keys.key_id(p256.public_key()).encode(),
                                                   sm2_key.key_id.encode(), 1)
    res = upload(token_client(people["bob"]), lot.pk, v1)
    assert res.status_code == 422 and res.json()["error"]["code"] == "envelope_suite_mismatch"
    assert res.json()["error"]["details"]["expected"] == "gm"
    assert "envelope_suite_mismatch" in refusal_codes()


def test_a_tenders_suite_is_set_at_creation_and_shown(people, orgs):
    from datetime import timedelta

    from bidding.models import Lot

    host = token_client(people["host"])
    res = post(host, "/api/v1/projects", {"code": "GM-1", "title": "国密项目",
                                          "tenderee_id": orgs["tenderee"].pk, "agency_id": orgs["agency"].pk})
    assert res.status_code == 201, res.content
    project_id = res.json()["id"]
    deadline = (clock.now() + timedelta(days=30)).isoformat()
    res = post(host, f"/api/v1/projects/{project_id}/lots",
               {"code": "01", "title": "施工", "bid_deadline": deadline, "cipher_suite": "gm"})
    assert res.status_code == 201, res.content
    assert res.json()["cipher_suite"] == "gm" and Lot.objects.get(pk=res.json()["id"]).cipher_suite == "gm"
    created = json.loads(AuditEntry.objects.filter(action="bidding.lot.created").last().body)["data"]
    assert created["cipher_suite"] == "gm"
    res = post(host, f"/api/v1/projects/{project_id}/lots",
               {"code": "02", "title": "施工", "bid_deadline": deadline, "cipher_suite": "sm9"})
    assert res.status_code == 400 and res.json()["error"]["code"] == "bad_request"


def test_provision_keys_makes_the_sm2_ca_once_and_production_without_it_refuses_sm2_requests(
        people, settings, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    settings.PLATFORM_SIGNING_KEY_FILE = tmp_path / "signing.pem"
    settings.PLATFORM_CA_KEY_FILE = tmp_path / "ca.pem"
    settings.PLATFORM_SM2_CA_KEY_FILE = tmp_path / "sm2-ca.pem"
    settings.EXCHANGE_SIGNING_KEY_FILE = tmp_path / "exchange.pem"
    settings.PLATFORM_SM2_SIGNING_KEY_FILE = tmp_path / "sm2-signing.pem"
    out = StringIO()
    call_command("provision_keys", "--sm2-ca", stdout=out)
    first = (tmp_path / "sm2-ca.pem").read_bytes()
    assert "the bidder SM2 CA key: created" in out.getvalue()
    assert "the exchange signing key: created" in out.getvalue() and (tmp_path / "exchange.pem").exists()
    assert "the platform SM2 signing key: created" in out.getvalue()
    assert sm2_x509.load_private_key_pem((tmp_path / "sm2-signing.pem").read_bytes()).key_id
    assert sm2_x509.load_private_key_pem(first).key_id
    call_command("provision_keys", "--sm2-ca", stdout=out)
    assert (tmp_path / "sm2-ca.pem").read_bytes() == first and "exists, kept" in out.getvalue()

    settings.PRODUCTION = True
    settings.PLATFORM_SM2_CA_KEY_FILE = tmp_path / "missing.pem"
    org = people["alice"].organisation
    csr = sm2_x509.make_csr(gm.generate_sm2_key(), organisation=org.name, credit_code=org.credit_code).decode()
    res = post(token_client(people["alice"]), "/api/v1/certificates", {"csr_pem": csr})
    assert res.status_code == 503 and res.json()["error"]["code"] == "unavailable"
    assert not (tmp_path / "missing.pem").exists()


def test_the_suite_cannot_be_amended_once_a_bid_is_stored(people, make_lot):
    lot = make_lot()
    key, _ = certify(people["alice"], people["host"])
    res = upload(token_client(people["alice"]), lot.pk, seal(lot, people["alice"].organisation, key, package(1, "A")))
    assert res.status_code == 201, res.content
    res = post(token_client(people["host"]), f"/api/v1/lots/{lot.pk}/amendments",
               {"reason": "改用国密", "cipher_suite": "gm"})
    assert res.status_code == 409 and res.json()["error"]["code"] == "conflict", res.content
    assert res.json()["error"]["details"]["field"] == "cipher_suite"
    lot.refresh_from_db()
    assert lot.cipher_suite == "intl" and not lot.amendments.exists()
