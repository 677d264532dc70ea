"""Backup decryption in the hall of a set-up made before v2 (a dealt escrow key, v1 envelopes): k
custodians' opened shares, entered by the host while decrypting, open a bid whose owner could not
release its key; fewer shares are refused and audited; the share field takes padded or unpadded
base64."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from audit.models import AuditEntry
from bidding.models import OpeningBid
from crypto import keys, shamir
from realtime.timers import run_due_timers
from tests.bidding.conftest import certify, deal_escrow, register_custodians, seal, token_client, upload
from tests.bidding.test_opening_support import PRICES, bid_package, five  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]


def test_custodians_shares_open_a_bid_the_platform_kept_from_its_owner(five, make_lot):
    import time_machine

    people = five
    lot = make_lot(escrow_required=True, deadline_in=timedelta(hours=1))
    custodians = register_custodians(people, ("admin", "supervisor", "venue_staff"))
    escrow_public = deal_escrow(lot, custodians, people, 2, lot.bid_deadline - timedelta(minutes=50))
    subs = {}
    for name in ("alice", "bob", "carol"):
        key, _ = certify(people[name], people["host"])
        env = seal(lot, people[name].organisation, key, bid_package(lot, people[name].organisation, PRICES[name]),
                   escrow_public=escrow_public)
        res = upload(token_client(people[name]), lot.pk, env)
        assert res.status_code == 201, res.content
        subs[name] = res.json()["id"]
    now = lot.bid_deadline + timedelta(seconds=1)
    run_due_timers(now)
    shares = []
    for name in ("admin", "venue_staff"):
        with time_machine.travel(now, tick=False):
            ctx = token_client(people[name]).get(f"/api/v1/lots/{lot.pk}/escrow/share").json()
        share = shamir.open_share(keys.b64decode(ctx["sealed"]), custodians[name], tender=ctx["tender"],
                                  escrow_key_id=ctx["escrow_key_id"], index=ctx["index"])
        shares.append({"custodian": people[name].pk, "index": share.index,
                       "share": base64.b64encode(share.value).decode()})
    shares[1]["share"] = shares[1]["share"].rstrip("=")  # unpadded, as the platform writes base64
    url = f"/api/v1/lots/{lot.pk}/opening/backup-decryption"
    host = token_client(people["host"])
    with time_machine.travel(now + timedelta(minutes=1), tick=False):
        body = {"submission": subs["carol"], "reason": "platform_failure", "shares": shares[:1]}
        res = host.post(url, data=json.dumps(body), content_type="application/json")
        assert res.json()["error"]["code"] == "escrow_threshold_not_met"
        res = token_client(people["alice"]).post(url, data=json.dumps(body), content_type="application/json")
        assert res.status_code == 403
        body["shares"] = shares
        res = host.post(url, data=json.dumps(body), content_type="application/json")
        assert res.status_code == 200 and res.json()["status"] == "decrypted", res.content
    ob = OpeningBid.objects.get(submission_id=subs["carol"])
    assert ob.decrypted_by == "escrow" and ob.values["price"] == PRICES["carol"]
    assert AuditEntry.objects.filter(action="bidding.escrow.recovered").count() == 1
    assert AuditEntry.objects.filter(action="bidding.opening.bid_decrypted").count() == 1
