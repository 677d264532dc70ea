"""Shared set-up of the opening tests (imported by test_opening*.py and test_hall*.py): a lot with
five bidders on file — alice, bob, carol, dave, erin — each with a certified key and a sealed bid
package whose manifest carries the tender's announced fields."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from datetime import timedelta

import pytest

from accounts.models import Organisation, User
from bidding.models import BidSubmission
from common.roles import Role
from crypto import envelope
from realtime.audience import Viewer
from tests.bidding.conftest import certify, seal, token_client, upload
from tests.conftest import make_code

BIDDERS = ("alice", "bob", "carol", "dave", "erin")
PRICES = {"alice": 123456789, "bob": 98765400, "carol": 100000000, "dave": 111111111, "erin": 99999999}


def bid_package(lot, org, price_fen: int, *, fields=None) -> bytes:
    fields = fields or {"price": price_fen, "duration_days": 180, "quality": "合格"}
    manifest = {"format": "tender-bid/v1", "tender": lot.project.code, "lot": lot.code,
                "bidder": org.credit_code, "fields": fields, "documents": []}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in (("manifest.json", json.dumps(manifest, ensure_ascii=False).encode()),
                           ("documents/技术标.txt", "技术方案\n".encode() * 100)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def package(lot, org, price_fen: int, documents: dict[str, bytes], *, listed: dict[str, bytes] | None = None,
            sealer: dict | None = None) -> bytes:
    """A bid package as sealbid writes it: the manifest first, listing each document's SHA-256
    (``listed`` overrides what the manifest says a document is; ``sealer`` is the manifest's
    sealing-tool entry, docs/sealbid.md)."""
    listed = documents if listed is None else listed
    manifest = {"format": "tender-bid/v1", "tender": lot.project.code, "lot": lot.code, "bidder": org.credit_code,
                "fields": {"price": price_fen, "duration_days": 180, "quality": "合格"},
                "documents": [{"name": "documents/" + n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                              for n, d in listed.items()]}
    if sealer:
        manifest["sealer"] = sealer
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest, ensure_ascii=False).encode()),
                           *(("documents/" + n, d) for n, d in documents.items())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def file_key_of(people_bidders, name) -> str:
    b = people_bidders[name]
    header = envelope.read_header(io.BytesIO(b["envelope"]))
    return base64.b64encode(envelope.unwrap_file_key(header, b["key"], role="bidder")).decode()


def viewers(people, names=BIDDERS):
    out = [Viewer(people["host"].pk, people["host"].organisation_id, "host"),
           Viewer(people["supervisor"].pk, people["supervisor"].organisation_id, "supervisor", sees_all=True)]
    out += [Viewer(people[n].pk, people[n].organisation_id, "bidder") for n in names]
    return out


@pytest.fixture
def five(people, make_lot, orgs):
    """People with carol, dave and erin added, and a lot the five have bid on."""
    for i, name in enumerate(("carol", "dave", "erin")):
        org = Organisation.objects.create(name=f"{name.title()} 工程有限公司", kind="bidder",
                                          credit_code=make_code(f"91320100C{i}X"))
        user = User(username=name, role=Role.BIDDER, organisation=org)
        user.set_password("x")
        user.save()
        people[name] = user
    return people


def submit_bids(people, lot, names=BIDDERS) -> dict:
    bidders = {}
    for name in names:
        user = people[name]
        key, _ = certify(user, people["host"])
        env = seal(lot, user.organisation, key, bid_package(lot, user.organisation, PRICES[name]))
        res = upload(token_client(user), lot.pk, env)
        assert res.status_code == 201, res.content
        bidders[name] = {"key": key, "envelope": env, "submission": res.json()["id"]}
    return bidders


@pytest.fixture
def hall(five, make_lot, bid_storage, settings):
    from evaluation.rules.settings import DEFAULT_EVALUATION_SETTINGS

    lot = make_lot(deadline_in=timedelta(hours=1), evaluation_settings={
        **DEFAULT_EVALUATION_SETTINGS, "price_formula": "construction_mean"})
    bidders = submit_bids(five, lot)
    return {"lot": lot, "bidders": bidders, "people": five,
            "submissions": {n: BidSubmission.objects.get(pk=b["submission"]) for n, b in bidders.items()}}
