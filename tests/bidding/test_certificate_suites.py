"""One current certificate per organisation and suite (docs/cryptography.md, "Certificates"): a
company bidding in a gm tender and an intl tender at the same time holds an SM2 and a P-256
certificate at once; each tender's bids, receipts, key checks, opening and record confirmation use
the one of its own suite, a renewal of one suite leaves the other alone, and a signature by the
other suite's key is refused."""

from __future__ import annotations

import base64
import io
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction

from audit.keys import platform_sm2_vkey, platform_vkey
from audit.models import AuditEntry
from bidding import certificates
from bidding.models import BidderCertificate, Opening, OpeningBid
from bidding.opening import actions, record, rules
from bidding.opening.decryption import release_key
from common import clock
from common.actor import Actor
from common.errors import PlatformError
from crypto import envelope, gm
from crypto.receipt import verify_receipt
from realtime.timers import run_due_timers
from tests.bidding.conftest import certify, seal, token_client, upload
from tests.bidding.test_gm_suite import certify_sm2, seal_gm
from tests.bidding.test_key_check import open_check, post
from tests.bidding.test_opening_support import PRICES, bid_package, five  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]
NAMES = ("alice", "bob", "carol")


def issued_entries():
    return [json.loads(b)["data"] for b in AuditEntry.objects.filter(action="bidding.certificate.issued")
            .order_by("index").values_list("body", flat=True)]


def dual(people, names=NAMES) -> dict:
    """Each organisation gets a P-256 and an SM2 certificate (a dual-certificate key)."""
    out = {}
    for name in names:
        p256, intl_cert = certify(people[name], people["host"])
        sm2, gm_cert = certify_sm2(people[name], people["host"])
        out[name] = {"intl": p256, "gm": sm2, "intl_cert": intl_cert, "gm_cert": gm_cert}
    return out


def bid_both(people, lots, held, names=NAMES) -> dict:
    """Each bids in both lots at once; returns {suite: {name: envelope}} and checks each receipt."""
    published = token_client(people["alice"]).get("/api/v1/platform/keys").json()
    out = {"intl": {}, "gm": {}}
    for name in names:
        user, client = people[name], token_client(people[name])
        for suite, lot in lots.items():
            plain = bid_package(lot, user.organisation, PRICES[name])
            env = (seal_gm(lot, user.organisation, held[name]["gm"], plain) if suite == "gm"
                   else seal(lot, user.organisation, held[name]["intl"], plain))
            res = upload(client, lot.pk, env)
            assert res.status_code == 201, res.content
            assert res.json()["key_id"] == held[name][f"{suite}_cert"].key_id
            doc = client.get(f"/api/v1/lots/{lot.pk}/bid/receipt").json()
            assert doc["signature_algorithm"] == ("sm2-sm3" if suite == "gm" else "ed25519")
            verify_receipt(doc, published["vkey"], sm2_vkey=published["sm2_vkey"], envelope=io.BytesIO(env))
            bid = client.get(f"/api/v1/lots/{lot.pk}/bid").json()
            assert bid["sealed_to_current_certificate"] is True
            out[suite][name] = env
    return out


def test_both_suites_current_at_once_and_issuing_one_leaves_the_other(people, make_lot):
    alice = people["alice"]
    org = alice.organisation_id
    p256, intl_cert = certify(alice, people["host"])
    sm2, gm_cert = certify_sm2(alice, people["host"])
    now = clock.now()
    assert certificates.current_certificate(org, now, "intl").pk == intl_cert.pk
    assert certificates.current_certificate(org, now, "gm").pk == gm_cert.pk
    assert [c.suite for c in certificates.current_certificates(org, now)] == ["intl", "gm"]
    assert issued_entries()[-1]["supersedes"] == [] and issued_entries()[-1]["suite"] == "gm"
    # A renewal of the P-256 certificate supersedes the old P-256 one only.
    _, renewed = certify(alice, people["host"])
    states = dict(BidderCertificate.objects.values_list("pk", "status"))
    assert states == {intl_cert.pk: "superseded", gm_cert.pk: "issued", renewed.pk: "issued"}
    assert issued_entries()[-1]["supersedes"] == [intl_cert.pk]
    for bad in ("", "GM", "sm2", None, 7):
        with pytest.raises(PlatformError) as err:
            certificates.current_certificate(org, now, bad)
        assert err.value.code == "invalid_suite"


def test_the_database_holds_one_issued_certificate_per_suite(people):
    alice = people["alice"]
    certify(alice, people["host"])
    certify_sm2(alice, people["host"])
    row = BidderCertificate.objects.get(suite="intl")
    for suite in ("intl", "gm"):  # a second issued one of either suite: refused by the index
        with pytest.raises(IntegrityError), transaction.atomic():
            BidderCertificate.objects.create(organisation=row.organisation, requested_by=alice, csr_pem="x",
                                             key_id="0" * 16, public_key=b"", suite=suite, status="issued",
                                             created_at=clock.now())
    with pytest.raises(IntegrityError), transaction.atomic():  # and no third suite at all
        BidderCertificate.objects.create(organisation=row.organisation, requested_by=alice, csr_pem="x",
                                         key_id="0" * 16, public_key=b"", suite="rsa", status="pending",
                                         created_at=clock.now())


def test_a_new_sm2_certificate_leaves_the_p256_bids_current(people, make_lot):
    lots = {"intl": make_lot(), "gm": make_lot(cipher_suite="gm")}
    held = dual(people, ("alice",))
    bid_both(people, lots, held, ("alice",))
    alice = token_client(people["alice"])
    gm_sub = alice.get(f"/api/v1/lots/{lots['gm'].pk}/bid").json()["id"]
    new_sm2, new_gm = certify_sm2(people["alice"], people["host"])  # a new SM2 key
    entry = issued_entries()[-1]
    assert entry["suite"] == "gm" and entry["supersedes"] == [held["alice"]["gm_cert"].pk]
    assert entry["bids_sealed_to_other_keys"] == [{"submission": gm_sub, "lot": lots["gm"].pk,
                                                   "key_id": held["alice"]["gm_cert"].key_id}]
    assert BidderCertificate.objects.get(pk=held["alice"]["intl_cert"].pk).status == "issued"
    assert alice.get(f"/api/v1/lots/{lots['intl'].pk}/bid").json()["sealed_to_current_certificate"] is True
    assert alice.get(f"/api/v1/lots/{lots['gm'].pk}/bid").json()["sealed_to_current_certificate"] is False
    # The intl lot's key check still names the P-256 key; the gm lot's names the new SM2 key.
    check = post(alice, f"/api/v1/lots/{lots['intl'].pk}/key-checks").json()
    assert check["key_id"] == held["alice"]["intl_cert"].key_id and check["bids_sealed_to_other_keys"] == []
    res = post(alice, f"/api/v1/key-checks/{check['id']}/answer",
               {"file_key": open_check(check, held["alice"]["intl"])}).json()
    assert res["status"] == "passed" and res["certificate_replaced"] is False
    check = post(alice, f"/api/v1/lots/{lots['gm'].pk}/key-checks").json()
    assert check["key_id"] == new_gm.key_id
    # A new bid in the gm lot sealed to the superseded SM2 key is refused; one in the intl lot is not.
    org = people["alice"].organisation
    stale = seal_gm(lots["gm"], org, held["alice"]["gm"], bid_package(lots["gm"], org, 1))
    assert upload(alice, lots["gm"].pk, stale).json()["error"]["code"] == "key_not_current"
    fresh = seal(lots["intl"], org, held["alice"]["intl"], bid_package(lots["intl"], org, 2))
    assert upload(alice, lots["intl"].pk, fresh).status_code == 201
    # Revoking the P-256 certificate: the intl lot now needs one of its suite; the gm lot is unaffected.
    certificates.revoke_certificate(people["alice"], Actor.of(people["alice"]), held["alice"]["intl_cert"].pk,
                                    reason="lost", now=clock.now())
    res = post(alice, f"/api/v1/lots/{lots['intl'].pk}/key-checks")
    assert res.status_code == 409 and res.json()["error"]["code"] == "certificate_suite_mismatch"
    assert post(alice, f"/api/v1/lots/{lots['gm'].pk}/key-checks").json()["key_id"] == new_gm.key_id
    assert new_sm2.public.key_id == new_gm.key_id


def test_the_api_picks_the_current_certificate_by_suite(people):
    alice, bob = token_client(people["alice"]), token_client(people["bob"])
    assert alice.get("/api/v1/certificates/current").json() == []
    held = dual(people, ("alice",))
    both = alice.get("/api/v1/certificates/current").json()
    assert [(c["suite"], c["key_id"]) for c in both] == [("intl", held["alice"]["intl_cert"].key_id),
                                                         ("gm", held["alice"]["gm_cert"].key_id)]
    for suite in ("intl", "gm"):
        one = alice.get(f"/api/v1/certificates/current?suite={suite}").json()
        assert [c["key_id"] for c in one] == [held["alice"][f"{suite}_cert"].key_id]
        listed = alice.get(f"/api/v1/certificates?status=issued&suite={suite}").json()
        assert [c["suite"] for c in listed] == [suite]
    assert bob.get("/api/v1/certificates/current?suite=gm").json() == []  # not alice's
    assert token_client(people["host"]).get("/api/v1/certificates/current").json() == []
    for bad in ("GM", "", "sm2", "intl%00", "%E5%9B%BD%E5%AF%86", "x" * 300):
        for url in (f"/api/v1/certificates/current?suite={bad}", f"/api/v1/certificates?suite={bad}"):
            res = alice.get(url)
            assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_suite", (url, res.content)


def _open_and_record(people, lot, envelopes, held, suite):
    """Deadline, everyone decrypts with its key of ``lot``'s suite, the record is started."""
    run_due_timers(lot.signin_opens_at)
    now = lot.bid_deadline
    run_due_timers(now)
    for name, env in envelopes.items():
        header = envelope.read_header(io.BytesIO(env))
        key = base64.b64encode(envelope.unwrap_file_key(header, held[name][suite], role="bidder")).decode()
        release_key(people[name], Actor.of(people[name]), lot.pk, file_key=key, now=now)
    op = Opening.objects.get(lot=lot)
    assert set(OpeningBid.objects.filter(opening=op).values_list("status", flat=True)) == {"decrypted"}
    close = op.decryption_ends_at
    run_due_timers(close)
    op.refresh_from_db()
    if op.coefficient_commitment:
        actions.draw_coefficient(lot.pk, Actor.of(people["host"]), role="host", now=close)
    record.start_confirmation(lot.pk, Actor.of(people["host"]), role="host", now=close)
    op.refresh_from_db()
    return op, close


def test_a_dual_certificate_bidder_opens_and_confirms_each_tender_with_its_suite(five, make_lot):
    from datetime import timedelta

    people = five
    lots = {"intl": make_lot(deadline_in=timedelta(hours=1)),
            "gm": make_lot(cipher_suite="gm", deadline_in=timedelta(hours=1))}
    held = dual(people)
    envelopes = bid_both(people, lots, held)
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    p256_sign = lambda name, m: b64(held[name]["intl"].sign(m, ec.ECDSA(hashes.SHA256())))  # noqa: E731
    sm2_sign = lambda name, m: b64(gm.sm2_sign(held[name]["gm"], m))  # noqa: E731
    signers = {"intl": p256_sign, "gm": sm2_sign}
    for suite, lot in lots.items():
        op, close = _open_and_record(people, lot, envelopes[suite], held, suite)
        message = rules.confirmation_message(op.record_hash)
        other = "gm" if suite == "intl" else "intl"
        alice = people["alice"]
        # alice's key of the other suite (valid, current, hers) does not confirm this record.
        with pytest.raises(PlatformError) as err:
            record.confirm_record(alice, Actor.of(alice), lot.pk, role="bidder",
                                  signature=signers[other]("alice", message), now=close)
        assert err.value.code == "invalid_signature"
        for name in NAMES:
            record.confirm_record(people[name], Actor.of(people[name]), lot.pk, role="bidder",
                                  signature=signers[suite](name, message), now=close)
        op.refresh_from_db()
        assert op.phase == "closed"
        states = {c.organisation_id: (c.state, c.key_id) for c in op.confirmations.all()}
        assert states == {people[n].organisation_id: ("confirmed", held[n][f"{suite}_cert"].key_id)
                          for n in NAMES}
    confirmed = [json.loads(b)["data"]["algorithm"] for b in AuditEntry.objects.filter(
        action="bidding.opening.record_confirmed").order_by("index").values_list("body", flat=True)]
    assert confirmed == ["ecdsa-p256-sha256"] * 3 + ["sm2-sm3"] * 3
    assert platform_vkey() and platform_sm2_vkey()
