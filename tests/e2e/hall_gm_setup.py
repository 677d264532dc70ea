"""Set-up of the gm hall browser test (``test_hall_gm.py``), run inside ``manage.py shell`` on the
demo data: a tender of the 国密 suite opening in an hour, three new bidders (their own companies,
so the demo bidders other tests use keep their certificates) each with an SM2 certificate from the
platform's SM2 CA (alice also with a P-256 one, issued after it: a dual-certificate company, whose
record the hall must sign with the SM2 one) and a gm-v1 bid sealed by Python to it and
uploaded through the API as sealbid does. Prints one JSON line: the lot, session cookies, each
bidder's SM2 key file (``tender-key/sm2-v1``, as ``sealbid keygen --suite gm`` writes it), an API
token and the released key of the two bidders that open with sealbid, and a P-256 key file."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta

BIDS_FEN = {"alice": 1_234_567_89, "bob": 1_198_000_00, "carol": 1_250_000_50}
NAMES = {"alice": "甲", "bob": "乙", "carol": "丙"}
PASSWORD = "国密开标 口令-2026"


def build_gm_hall(iterations: int) -> None:
    from accounts.models import ApiToken, Organisation, User
    from bidding import certificates
    from bidding.models import Lot, Project
    from common import clock
    from common.actor import Actor
    from crypto import ca, envelope, gm, gm_keys, keys, sm2_x509
    from evaluation.testing import session_cookie
    from tests.bidding.conftest import token_client, upload
    from tests.conftest import make_code
    from tests.bidding.test_opening_support import bid_package

    now = clock.now()
    project = Project.objects.get(code="NJSZ-2026-0188")
    n = Lot.objects.filter(project=project, code__startswith="GH").count() + 1
    lot = Lot.objects.create(project=project, code=f"GH{n}", title="国密开标演示标段", cipher_suite="gm",
                             bid_deadline=now + timedelta(hours=1), signin_opens_at=now,
                             status="published", published_at=now, decryption_window_minutes=30)
    host = User.objects.get(username="host")
    out = {"lot": lot.pk, "password": PASSWORD, "bidders": {}, "host_cookie": session_cookie(host)}
    for username, fen in BIDS_FEN.items():
        seq = Organisation.objects.count()
        org = Organisation.objects.create(name=f"国密开标测试{NAMES[username]}公司{n}", kind="bidder",
                                          credit_code=make_code(f"9132GH{seq:04d}"))
        user = User.objects.create(username=f"gh-{username}-{n}", role="bidder", organisation=org)
        key = gm.generate_sm2_key()
        csr = sm2_x509.make_csr(key, organisation=org.name, credit_code=org.credit_code).decode()
        cert = certificates.request_certificate(user, Actor.of(user), csr_pem=csr, now=now)
        certificates.decide_certificate(host, Actor.of(host), cert.pk, approve=True, now=now)
        if username == "alice":  # a dual-certificate company: a P-256 certificate issued after the SM2 one
            p256 = keys.generate_bidder_key()
            csr = ca.make_csr(p256, organisation=org.name, credit_code=org.credit_code).decode()
            cert = certificates.request_certificate(user, Actor.of(user), csr_pem=csr, now=now)
            certificates.decide_certificate(host, Actor.of(host), cert.pk, approve=True, now=now)
            out["alice_p256_key_id"] = keys.key_id(p256.public_key())
        sealed = envelope.seal_bytes(bid_package(lot, org, fen), tender_id=project.code, lot_id=lot.code,
                                     bidder_id=org.credit_code, recipients=[envelope.Recipient("bidder", key.public)],
                                     chunk_size=65536, suite="gm")
        res = upload(token_client(user), lot.pk, sealed)
        assert res.status_code == 201, res.content
        header = envelope.read_header(io.BytesIO(sealed))
        _, secret = ApiToken.issue(user, "gm hall test")
        out["bidders"][username] = {
            "cookie": session_cookie(user), "name": org.name, "key_id": key.key_id, "token": secret,
            "key_file": gm_keys.private_key_to_file(key, PASSWORD.encode(), iterations=iterations).decode(),
            "file_key": base64.b64encode(envelope.unwrap_file_key(header, key)).decode(),
            "commitment": header.commitment_b64}
    out["p256_key_file"] = keys.private_key_to_file(keys.generate_bidder_key(), PASSWORD.encode(),
                                                    iterations=keys.MIN_ITERATIONS).decode()
    print(json.dumps(out, ensure_ascii=False))


def build_sm2_keys_bidder(tag: str) -> None:
    """A new bidder (its own company, no certificate) for the keys page's SM2 key: a session cookie."""
    from accounts.models import Organisation, User
    from evaluation.testing import session_cookie
    from tests.conftest import make_code

    seq = Organisation.objects.count()
    org = Organisation.objects.create(name=f"国密密钥测试公司{seq}", kind="bidder",
                                      credit_code=make_code(f"9132GK{seq:04d}"))
    user = User.objects.create(username=f"gk-{tag}-{seq}", role="bidder", organisation=org)
    print(json.dumps({"cookie": session_cookie(user), "org": org.pk, "name": org.name,
                      "credit_code": org.credit_code}, ensure_ascii=False))


def approve_sm2_request(org_id: int) -> None:
    """The host approves the organisation's pending request; prints what the SM2 CA issued."""
    from accounts.models import User
    from bidding import certificates
    from bidding.models import BidderCertificate
    from common import clock
    from common.actor import Actor
    from crypto import sm2_x509

    host = User.objects.get(username="host")
    pending = BidderCertificate.objects.get(organisation_id=org_id, status="pending")
    cert = certificates.decide_certificate(host, Actor.of(host), pending.pk, approve=True, now=clock.now())
    info = sm2_x509.load_certificate(cert.certificate_pem, certificates.sm2_ca_certificate_pem().encode())
    print(json.dumps({"suite": cert.suite, "key_id": cert.key_id, "status": cert.status,
                      "point": info.public_key.point.hex(), "credit_code": info.credit_code}))


def give_sm2_certificate(username: str) -> None:
    """The user's organisation also gets an SM2 certificate, issued now (after its P-256 one): a
    dual-certificate company. Prints the SM2 key id."""
    from accounts.models import User
    from bidding import certificates
    from common import clock
    from common.actor import Actor
    from crypto import gm, sm2_x509

    user, host, now = User.objects.get(username=username), User.objects.get(username="host"), clock.now()
    key = gm.generate_sm2_key()
    org = user.organisation
    csr = sm2_x509.make_csr(key, organisation=org.name, credit_code=org.credit_code).decode()
    cert = certificates.request_certificate(user, Actor.of(user), csr_pem=csr, now=now)
    certificates.decide_certificate(host, Actor.of(host), cert.pk, approve=True, now=now)
    print(json.dumps({"key_id": key.key_id}))
