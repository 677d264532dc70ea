"""The pre-opening key check: a test envelope sealed to the current certificate, answered with the
key the bidder will bring to the opening; recorded; and the warning for bids sealed before a
renewal (docs/sealbid.md, "Checking your key before the deadline")."""

from __future__ import annotations

import base64
import io
import json
import os
from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEntry
from bidding.models import KeyCheck
from common import clock
from crypto import envelope, gm, keys
from tests.bidding.conftest import certify, package, seal, token_client, upload
from tests.bidding.test_gm_suite import certify_sm2

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def open_check(res_json, key) -> str:
    data = base64.b64decode(res_json["envelope"])
    header = envelope.read_header(io.BytesIO(data))
    return base64.b64encode(envelope.unwrap_file_key(header, key)).decode()


def entries(action):
    return [json.loads(b)["data"] for b in AuditEntry.objects.filter(action=action).values_list("body", flat=True)]


def test_the_right_key_passes_and_it_is_recorded(people, make_lot):
    lot = make_lot()
    key, cert = certify(people["alice"], people["host"])
    alice = token_client(people["alice"])
    res = post(alice, f"/api/v1/lots/{lot.pk}/key-checks")
    assert res.status_code == 201, res.content
    check = res.json()
    assert check["key_id"] == cert.key_id and check["suite"] == "intl"
    header = envelope.read_header(io.BytesIO(base64.b64decode(check["envelope"])))
    assert header.binding.tender_id == lot.project.code and header.key_ids("bidder") == (cert.key_id,)
    res = post(alice, f"/api/v1/key-checks/{check['id']}/answer", {"file_key": open_check(check, key)})
    assert res.status_code == 200 and res.json()["status"] == "passed", res.content
    assert res.json()["bids_sealed_to_other_keys"] == [] and res.json()["certificate_replaced"] is False
    assert KeyCheck.objects.get().status == "passed"
    assert entries("bidding.key_check.issued")[0]["key_id"] == cert.key_id
    assert entries("bidding.key_check.passed")[0]["key_id"] == cert.key_id
    # Answered once: a second answer is refused.
    res = post(alice, f"/api/v1/key-checks/{check['id']}/answer", {"file_key": open_check(check, key)})
    assert res.status_code == 409 and res.json()["error"]["code"] == "invalid_state"


def test_another_key_cannot_open_it_and_a_guessed_answer_fails(people, make_lot):
    lot = make_lot()
    certify(people["alice"], people["host"])
    alice = token_client(people["alice"])
    check = post(alice, f"/api/v1/lots/{lot.pk}/key-checks").json()
    with pytest.raises(envelope.InvalidEnvelope):  # the key file of yesterday's certificate
        open_check(check, keys.generate_bidder_key())
    res = post(alice, f"/api/v1/key-checks/{check['id']}/answer",
               {"file_key": base64.b64encode(os.urandom(32)).decode()})
    assert res.status_code == 200 and res.json()["status"] == "failed"
    assert entries("bidding.key_check.failed")
    res = post(alice, f"/api/v1/key-checks/{check['id']}/answer", {"file_key": "not base64!"})
    assert res.status_code in (400, 409)


def test_another_bidder_cannot_see_or_answer_a_check(people, make_lot):
    lot = make_lot()
    key, _ = certify(people["alice"], people["host"])
    certify(people["bob"], people["host"])
    check = post(token_client(people["alice"]), f"/api/v1/lots/{lot.pk}/key-checks").json()
    res = post(token_client(people["bob"]), f"/api/v1/key-checks/{check['id']}/answer",
               {"file_key": open_check(check, key)})
    assert res.status_code == 404 and res.json()["error"]["code"] == "not_found"
    res = post(token_client(people["bob"]), "/api/v1/key-checks/not-a-uuid/answer", {"file_key": "AAAA"})
    assert res.status_code in (400, 404)
    assert KeyCheck.objects.get().status == "issued"


def test_no_check_after_the_deadline_and_none_without_a_certificate(people, make_lot):
    lot = make_lot(deadline_in=timedelta(days=1))
    alice = token_client(people["alice"])
    res = post(alice, f"/api/v1/lots/{lot.pk}/key-checks")
    assert res.status_code == 409 and res.json()["error"]["code"] == "no_current_certificate"
    certify(people["alice"], people["host"])
    with time_machine.travel(clock.now() + timedelta(days=2)):
        res = post(alice, f"/api/v1/lots/{lot.pk}/key-checks")
    assert res.status_code == 409 and res.json()["error"]["code"] == "deadline_passed"


def test_a_renewal_after_sealing_is_warned_everywhere(people, make_lot):
    lot = make_lot(max_bid_bytes=4 * 2**20)
    old_key, old_cert = certify(people["alice"], people["host"])
    alice = token_client(people["alice"])
    org = people["alice"].organisation
    res = upload(alice, lot.pk, seal(lot, org, old_key, package(100, "ALICE")))
    assert res.status_code == 201, res.content
    submission = res.json()["id"]
    assert alice.get(f"/api/v1/lots/{lot.pk}/bid").json()["sealed_to_current_certificate"] is True
    new_key, new_cert = certify(people["alice"], people["host"])  # a new CA lock, a new key
    issued = entries("bidding.certificate.issued")[-1]
    assert issued["bids_sealed_to_other_keys"] == [{"submission": submission, "lot": lot.pk,
                                                     "key_id": old_cert.key_id}]
    assert alice.get(f"/api/v1/lots/{lot.pk}/bid").json()["sealed_to_current_certificate"] is False
    check = post(alice, f"/api/v1/lots/{lot.pk}/key-checks").json()
    assert check["key_id"] == new_cert.key_id
    assert [b["key_id"] for b in check["bids_sealed_to_other_keys"]] == [old_cert.key_id]
    res = post(alice, f"/api/v1/key-checks/{check['id']}/answer", {"file_key": open_check(check, new_key)})
    assert res.json()["status"] == "passed"
    assert [b["submission"] for b in res.json()["bids_sealed_to_other_keys"]] == [submission]


def test_a_gm_tender_checks_the_sm2_key(people, make_lot):
    lot = make_lot(cipher_suite="gm")
    key, cert = certify_sm2(people["alice"], people["host"])
    alice = token_client(people["alice"])
    check = post(alice, f"/api/v1/lots/{lot.pk}/key-checks").json()
    assert check["suite"] == "gm"
    assert base64.b64decode(check["envelope"]).startswith(b"tender-envelope/gm-v1\n")
    res = post(alice, f"/api/v1/key-checks/{check['id']}/answer", {"file_key": open_check(check, key)})
    assert res.json()["status"] == "passed"
    with pytest.raises(envelope.InvalidEnvelope):
        open_check(check, gm.generate_sm2_key())
    # A P-256 certificate holder on a gm tender is told which suite it needs.
    certify(people["bob"], people["host"])
    res = post(token_client(people["bob"]), f"/api/v1/lots/{lot.pk}/key-checks")
    assert res.status_code == 409 and res.json()["error"]["code"] == "certificate_suite_mismatch"
