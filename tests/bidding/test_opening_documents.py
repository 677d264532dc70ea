"""A document of a decrypted bid package, as 清标 reads it (bidding/opening/documents.py,
evaluation/bill_intake.py): only what the bidder sealed — the kept package must be the one whose hash
the decryption audited, and the document must be the one its manifest lists."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client

from bidding.models import OpeningBid
from bidding.opening.documents import read_document
from common.actor import Actor
from common.errors import PlatformError
from evaluation.bill_intake import bills_from_packages, store_tender_bill
from evaluation.models import BidBill
from evaluation.rules.settings import DEFAULT_EVALUATION_SETTINGS
from evaluation.testing_bills import LAYOUT, priced, tender_bill, to_xlsx
from tests.bidding.conftest import certify, seal, token_client, upload
from tests.bidding.test_opening_actions import release, to_deadline
from tests.bidding.test_opening_support import PRICES, five, package  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]
BILL = "工程量清单.xlsx"
NAMES = ("alice", "bob", "carol", "dave", "erin")


@pytest.fixture
def opened(five, make_lot):
    """Five bids with priced bills; alice's and bob's decrypted, carol's not (yet). bob's manifest
    lists another bill than the one in his package; dave's package has no bill."""
    lot = make_lot(deadline_in=timedelta(hours=1), evaluation_settings={
        **DEFAULT_EVALUATION_SETTINGS, "price_formula": "construction_mean", "bill_layout": {**LAYOUT, "document": BILL}})
    tender = tender_bill(30, sections=2, seed=3)
    bills = {n: to_xlsx(priced(tender, seed=i)) for i, n in enumerate(NAMES)}
    bidders = {}
    for name in NAMES:
        user = five[name]
        key, _ = certify(user, five["host"])
        docs = {} if name == "dave" else {BILL: bills[name], "技术标.txt": "技术方案".encode()}
        listed = {**docs, BILL: bills["alice"]} if name == "bob" else None
        env = seal(lot, user.organisation, key, package(lot, user.organisation, PRICES[name], docs, listed=listed))
        res = upload(token_client(user), lot.pk, env)
        assert res.status_code == 201, res.content
        bidders[name] = {"key": key, "envelope": env, "submission": res.json()["id"]}
    h = {"lot": lot, "bidders": bidders, "people": five}
    _, now = to_deadline(h)
    for name in ("alice", "bob", "dave", "erin"):
        release(h, name, now + timedelta(minutes=1))
    h["bills"] = bills
    return h


def org(h, name):
    return h["people"][name].organisation_id


def test_the_sealed_bill_is_read_from_the_decrypted_package(opened):
    doc = read_document(opened["lot"].pk, org(opened, "alice"), BILL, max_bytes=1 << 20)
    assert doc.problem == "" and doc.data == opened["bills"]["alice"]
    assert doc.sha256 == hashlib.sha256(opened["bills"]["alice"]).hexdigest()


def test_what_cannot_be_proved_sealed_is_refused_by_reason(opened):
    lot = opened["lot"].pk
    assert read_document(lot, org(opened, "carol"), BILL, max_bytes=1 << 20).problem == "not_decrypted"
    assert read_document(lot, org(opened, "dave"), BILL, max_bytes=1 << 20).problem == "not_in_package"
    assert read_document(lot, org(opened, "alice"), "其他.xlsx", max_bytes=1 << 20).problem == "not_in_package"
    # bob's manifest lists another file than the one in his package: the bidder's inconsistency.
    assert read_document(lot, org(opened, "bob"), BILL, max_bytes=1 << 20).problem == "hash_mismatch"
    assert read_document(lot, org(opened, "alice"), BILL, max_bytes=1000).problem == "too_large"


def test_an_insider_who_rewrites_a_kept_package_consistently_is_caught(opened, settings):
    """Bill and manifest replaced together, so the manifest check alone would pass: the package's
    hash no longer is the one the decryption audited."""
    lot, people = opened["lot"], opened["people"]
    ob = OpeningBid.objects.get(opening__lot=lot, organisation_id=org(opened, "erin"))
    forged = package(lot, people["erin"].organisation, PRICES["erin"], {BILL: opened["bills"]["alice"]})
    (Path(settings.STORAGE_DIR) / ob.plaintext_path).write_bytes(forged)
    assert read_document(lot.pk, org(opened, "erin"), BILL, max_bytes=1 << 20).problem == "package_changed"


def test_the_bill_check_files_each_bills_row_from_its_package_and_names_the_rest(opened):
    lot = opened["lot"]
    orgs = [org(opened, n) for n in NAMES]
    problems = bills_from_packages(lot.pk, orgs, BILL)
    assert problems == {org(opened, "bob"): "hash_mismatch", org(opened, "carol"): "not_decrypted",
                        org(opened, "dave"): "not_in_package"}
    rows = {b.bidder_org_id: b for b in BidBill.objects.filter(lot=lot)}
    assert set(rows) == {org(opened, "alice"), org(opened, "erin")}
    assert bytes(rows[org(opened, "erin")].data) == opened["bills"]["erin"]
    assert bills_from_packages(lot.pk, orgs, BILL) == problems  # a second run changes nothing
    assert BidBill.objects.filter(lot=lot).count() == 2


def test_the_host_files_the_tenders_bill_while_a_draft_only(people, make_lot):
    host = people["host"]
    lot = make_lot(status="draft", evaluation_settings={**DEFAULT_EVALUATION_SETTINGS, "bill_layout": LAYOUT})
    tender = to_xlsx(tender_bill(20, sections=2, seed=1), with_prices=False)
    client = Client()
    client.force_login(host)
    url = f"/api/v1/lots/{lot.pk}/tender-bill"
    ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    res = client.put(url, tender, content_type=ctype)
    assert res.status_code == 200, res.content
    assert res.json() == {"sha256": hashlib.sha256(tender).hexdigest(), "items": 20, "bytes": len(tender)}
    bad = client.put(url, b"not a workbook", content_type=ctype)
    assert bad.status_code == 400 and bad.json()["error"]["details"]["code"] == "bill_unreadable"
    other = Client()
    other.force_login(people["alice"])
    assert other.put(url, tender, content_type=ctype).status_code in (403, 404)
    lot.status = "published"
    lot.save(update_fields=["status"])
    with pytest.raises(PlatformError) as err:
        store_tender_bill(host, Actor.of(host), lot.pk, tender, now=lot.bid_deadline - timedelta(days=1))
    assert err.value.code == "invalid_state"
    from audit.models import AuditEntry
    entry = AuditEntry.objects.filter(action="evaluation.tender_bill.stored").get()
    assert json.loads(entry.body)["data"]["old"] == {"sha256": None}
