"""Backup decryption for gm (国密) tenders end to end: custodians register SM2 keys, the tender
names them, each bidder's gm-v1 envelope splits its file key among them (sm2-share stanzas), k
custodians' releases open one bid in the backup window and k - 1 do not; P-256 custodian keys are
not used for a gm tender, nor SM2 ones for an intl tender."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

import pytest

from audit.models import AuditEntry
from bidding.models import EscrowShare, OpeningBid
from crypto import envelope, escrow_shares, gm, keys
from realtime.timers import run_due_timers
from tests.bidding.conftest import register_custodians, token_client, upload
from tests.bidding.test_escrow_shares import _json, _open, _release
from tests.bidding.test_gm_suite import certify_sm2
from tests.bidding.test_opening_support import PRICES, bid_package, five  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]
CUSTODIANS = ("admin", "supervisor", "venue_staff")


def register_sm2_custodians(people, names) -> dict:
    out = {}
    for name in names:
        key = gm.generate_sm2_key()
        res = _json(token_client(people[name]), "post", "/api/v1/custodians/me",
                    {"public_key": keys.b64encode(key.public.point), "suite": "gm"})
        assert res.status_code == 200 and res.json() == {"user_id": people[name].pk, "key_id": key.key_id,
                                                         "suite": "gm"}, res.content
        out[name] = key
    return out


def sealbid_custodians(people, lot):
    """The tender's custodians as sealbid reads them (``sealbid.cli._backup``)."""
    from sealbid.cli import _backup

    class Client:
        def json(self, method, url, **_):
            return token_client(people["alice"]).get(f"/api/v1{url}").json()

    lot_json = token_client(people["alice"]).get(f"/api/v1/lots/{lot.pk}").json()
    return _backup(Client(), lot.pk, lot_json, [])


@pytest.fixture
def tender(five, make_lot):
    people = five
    lot = make_lot(cipher_suite="gm", escrow_required=True, deadline_in=timedelta(hours=1))
    register_custodians(people, CUSTODIANS)  # their P-256 keys: kept, and not used for this tender
    private = register_sm2_custodians(people, CUSTODIANS)
    res = _json(token_client(people["host"]), "post", f"/api/v1/lots/{lot.pk}/escrow",
                {"custodian_user_ids": [people[n].pk for n in CUSTODIANS], "threshold": 2})
    assert res.status_code == 201, res.content
    escrow = token_client(people["alice"]).get(f"/api/v1/lots/{lot.pk}/escrow").json()
    assert escrow["envelope"] == "tender-envelope/gm-v1" and escrow["suite"] == "gm"
    assert [c["key_id"] for c in escrow["custodians"]] == [private[n].key_id for n in CUSTODIANS]
    custodians, threshold = sealbid_custodians(people, lot)
    assert all(isinstance(c.public_key, gm.SM2PublicKey) for c in custodians) and threshold == 2
    bids = {}
    for name in ("alice", "bob", "carol"):
        key, _ = certify_sm2(people[name], people["host"])
        org = people[name].organisation
        env = envelope.seal_bytes(bid_package(lot, org, PRICES[name]), tender_id=lot.project.code, lot_id=lot.code,
                                  bidder_id=org.credit_code, recipients=[envelope.Recipient("bidder", key.public)],
                                  chunk_size=65536, suite="gm", custodians=custodians, threshold=threshold)
        res = upload(token_client(people[name]), lot.pk, env)
        assert res.status_code == 201, res.content
        bids[name] = {"env": env, "key": key, "submission": res.json()["id"]}
    return {"people": people, "lot": lot, "private": private, "bids": bids, "custodians": custodians}


def test_k_sm2_custodians_recover_a_gm_bid_and_k_minus_one_do_not(tender):
    now = tender["lot"].bid_deadline + timedelta(seconds=1)
    run_due_timers(now)
    for name, (first, second) in {"alice": ("admin", "supervisor"), "bob": ("venue_staff", "admin")}.items():
        res = _open(tender, name, now)
        assert res.status_code == 201, res.content
        rid = res.json()["id"]
        res = _release(tender, first, rid, now)  # sealbid's unwrap with the custodian's SM2 key
        assert res.status_code == 200 and res.json()["status"] == "open", res.content
        assert OpeningBid.objects.get(submission_id=tender["bids"][name]["submission"]).status == "pending"
        res = _release(tender, second, rid, now)
        assert res.status_code == 200 and res.json()["status"] == "recovered", res.content
        ob = OpeningBid.objects.get(submission_id=tender["bids"][name]["submission"])
        assert ob.status == "decrypted" and ob.decrypted_by == "escrow" and ob.values["price"] == PRICES[name]
    assert AuditEntry.objects.filter(action="bidding.escrow.recovered").count() == 2
    provisioned = json.loads(AuditEntry.objects.get(action="bidding.escrow.provisioned").body)
    assert provisioned["data"]["suite"] == "gm"
    assert {s.key_id for s in EscrowShare.objects.all()} == {k.key_id for k in tender["private"].values()}


def test_a_custodians_p256_key_does_not_open_its_gm_share(tender):
    from sealbid.custodian import unwrap_for_release
    from sealbid.errors import CliError

    now = tender["lot"].bid_deadline + timedelta(seconds=1)
    run_due_timers(now)
    rid = _open(tender, "carol", now).json()["id"]
    import time_machine

    with time_machine.travel(now, tick=False):
        context = token_client(tender["people"]["admin"]).get(
            f"/api/v1/lots/{tender['lot'].pk}/opening/backup-recoveries/{rid}/share").json()
    with pytest.raises(CliError, match="holds no share"):
        unwrap_for_release(context, gm.generate_sm2_key())  # another SM2 key
    index, share = unwrap_for_release(context, tender["private"]["admin"])
    assert index == 1 and len(keys.b64decode(share)) == 32


def test_a_gm_envelope_must_split_to_exactly_the_tenders_sm2_custodians(tender):
    people, lot = tender["people"], tender["lot"]
    others = [escrow_shares.Custodian(i, gm.generate_sm2_key().public) for i in (1, 2, 3)]
    key, _ = certify_sm2(people["dave"], people["host"])
    org = people["dave"].organisation
    for custodians in (others, tender["custodians"][:2]):
        env = envelope.seal_bytes(b"x" * 200, tender_id=lot.project.code, lot_id=lot.code, bidder_id=org.credit_code,
                                  recipients=[envelope.Recipient("bidder", key.public)], suite="gm",
                                  custodians=custodians, threshold=2)
        res = upload(token_client(people["dave"]), lot.pk, env)
        assert res.status_code == 422 and res.json()["error"]["code"] == "escrow_recipient_mismatch", res.content


def test_custodians_need_a_key_of_the_tenders_suite(five, make_lot):
    people = five
    host = token_client(people["host"])
    gm_lot = make_lot(cipher_suite="gm", escrow_required=True, deadline_in=timedelta(hours=1))
    intl_lot = make_lot(escrow_required=True, deadline_in=timedelta(hours=1))
    register_custodians(people, ("admin",))  # P-256 only
    register_sm2_custodians(people, ("supervisor",))  # SM2 only
    body = {"custodian_user_ids": [people["admin"].pk, people["supervisor"].pk], "threshold": 2}
    res = _json(host, "post", f"/api/v1/lots/{gm_lot.pk}/escrow", body)
    assert res.status_code == 400 and res.json()["error"]["details"]["missing"] == [people["admin"].pk]
    res = _json(host, "post", f"/api/v1/lots/{intl_lot.pk}/escrow", body)
    assert res.status_code == 400 and res.json()["error"]["details"]["missing"] == [people["supervisor"].pk]
    # An SM2 registration of a point off the curve, or a P-256 point as SM2: 400.
    p256 = keys.public_key_to_bytes(keys.generate_bidder_key().public_key())
    for point in (b"\x04" + b"\x01" * 64, p256):
        res = _json(token_client(people["venue_staff"]), "post", "/api/v1/custodians/me",
                    {"public_key": keys.b64encode(point), "suite": "gm"})
        assert res.status_code == 400, res.content


def test_sealbid_custodian_keygen_makes_and_registers_an_sm2_key(five, tmp_path, monkeypatch):
    from sealbid import custodian

    sent = {}

    class Client:
        def json(self, method, url, body=None, **_):
            sent.update(body)
            res = _json(token_client(five["admin"]), "post", f"/api/v1{url}", body)
            assert res.status_code == 200, res.content
            return res.json()

    monkeypatch.setattr(custodian, "make_client", lambda args: Client())
    (tmp_path / "pw").write_text("pw-1234567890\n")
    args = argparse.Namespace(out=str(tmp_path / "c.json"), force=False, register=True, suite="gm",
                              iterations=100000, password_file=str(tmp_path / "pw"), server="x", token="t")
    custodian.cmd_keygen(args)
    assert sent["suite"] == "gm" and len(keys.b64decode(sent["public_key"])) == 65
    from bidding.models import Custodian

    row = Custodian.objects.get(user=five["admin"])
    assert row.sm2_key_id and gm.SM2PublicKey(bytes(row.sm2_public_key)).key_id == row.sm2_key_id
