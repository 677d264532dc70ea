"""Backup decryption without a dealer (tender-envelope/v3, and v2 from older sealers): custodians
make their own keys, each bidder's sealer splits its file key among them, shares are released per
bid in the backup window, k releases open that one bid, and the platform alone opens nothing."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEntry
from bidding import escrow_recovery
from bidding.models import EscrowRecovery, EscrowRelease, OpeningBid
from common.actor import Actor
from common.errors import PlatformError
from crypto import envelope, escrow_shares, keys
from realtime.timers import run_due_timers
from tests.bidding.conftest import (certify, register_custodians, seal, tender_custodians, token_client,
                                    upload)
from tests.bidding.test_no_early_reading import database_bytes, encodings
from tests.bidding.test_opening_support import PRICES, bid_package, five  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]
CUSTODIANS = ("admin", "supervisor", "venue_staff")


def _json(client, method, url, body=None):
    return getattr(client, method)(url, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def tender(five, make_lot):
    people = five
    lot = make_lot(escrow_required=True, deadline_in=timedelta(hours=1))
    private = register_custodians(people, CUSTODIANS)
    res = _json(token_client(people["host"]), "post", f"/api/v1/lots/{lot.pk}/escrow",
                {"custodian_user_ids": [people[n].pk for n in CUSTODIANS], "threshold": 2})
    assert res.status_code == 201, res.content
    assert res.json()["scheme"] == "shares" and "public_key" not in res.json()
    custodians, threshold = tender_custodians(token_client(people["alice"]), lot.pk)
    bids = {}
    for name in ("alice", "bob", "carol"):
        key, _ = certify(people[name], people["host"])
        env = seal(lot, people[name].organisation, key, bid_package(lot, people[name].organisation, PRICES[name]),
                   custodians=custodians, threshold=threshold)
        res = upload(token_client(people[name]), lot.pk, env)
        assert res.status_code == 201, res.content
        bids[name] = {"env": env, "key": key, "submission": res.json()["id"]}
    return {"people": people, "lot": lot, "private": private, "bids": bids, "custodians": custodians}


def _decrypting(tender):
    now = tender["lot"].bid_deadline + timedelta(seconds=1)
    run_due_timers(now)
    return now


def _open(tender, name, now, reason="platform_failure"):
    people = tender["people"]
    with time_machine.travel(now, tick=False):
        return _json(token_client(people["host"]), "post",
                     f"/api/v1/lots/{tender['lot'].pk}/opening/backup-recoveries",
                     {"submission": tender["bids"][name]["submission"], "reason": reason, "note": "存储故障"})


def _release(tender, custodian, recovery_id, now, *, padded=False):
    """The custodian's client: fetch the header, check it, unwrap locally, release."""
    from sealbid.custodian import unwrap_for_release

    client = token_client(tender["people"][custodian])
    base = f"/api/v1/lots/{tender['lot'].pk}/opening/backup-recoveries/{recovery_id}"
    with time_machine.travel(now, tick=False):
        res = client.get(f"{base}/share")
        if res.status_code != 200:
            return res
        index, share = unwrap_for_release(res.json(), tender["private"][custodian])
        if padded:
            share = base64.b64encode(keys.b64decode(share)).decode()
        return _json(client, "post", f"{base}/shares", {"index": index, "share": share})


def test_any_k_custodians_recover_their_bid_and_k_minus_one_do_not(tender):
    now = _decrypting(tender)
    pairs = {"alice": ("admin", "supervisor"), "bob": ("supervisor", "venue_staff"),
             "carol": ("venue_staff", "admin")}
    for name, (first, second) in pairs.items():
        res = _open(tender, name, now)
        assert res.status_code == 201, res.content
        rid = res.json()["id"]
        res = _release(tender, first, rid, now)
        assert res.status_code == 200 and res.json()["status"] == "open", res.content
        assert OpeningBid.objects.get(submission_id=tender["bids"][name]["submission"]).status == "pending"
        res = _release(tender, second, rid, now, padded=(name == "bob"))  # padded base64 accepted too
        assert res.status_code == 200 and res.json()["status"] == "recovered", res.content
        ob = OpeningBid.objects.get(submission_id=tender["bids"][name]["submission"])
        assert ob.status == "decrypted" and ob.decrypted_by == "escrow"
        assert ob.values["price"] == PRICES[name]
    # every release audited, shares erased once used, their hashes kept
    assert AuditEntry.objects.filter(action="bidding.escrow.share_released").count() == 6
    assert AuditEntry.objects.filter(action="bidding.escrow.recovered").count() == 3
    assert AuditEntry.objects.filter(action="bidding.escrow.recovery_opened").count() == 3
    assert not [r for r in EscrowRelease.objects.all() if bytes(r.share)]
    opened = json.loads(AuditEntry.objects.filter(action="bidding.escrow.recovery_opened").first().body)
    assert opened["data"]["reason"] == "platform_failure"


def test_a_bidder_fault_a_bidder_and_a_second_recovery_are_refused(tender):
    now = _decrypting(tender)
    assert _open(tender, "alice", now, reason="bidder_lost_key").json()["error"]["code"] == "bad_request"
    with time_machine.travel(now, tick=False):
        res = _json(token_client(tender["people"]["alice"]), "post",
                    f"/api/v1/lots/{tender['lot'].pk}/opening/backup-recoveries",
                    {"submission": tender["bids"]["bob"]["submission"], "reason": "platform_failure"})
    assert res.status_code in (403, 404)
    assert _open(tender, "alice", now).status_code == 201
    assert _open(tender, "alice", now).json()["error"]["code"] == "conflict"
    with time_machine.travel(now, tick=False):  # garbage ids are not found, not a 500
        res = token_client(tender["people"]["admin"]).get(
            f"/api/v1/lots/{tender['lot'].pk}/opening/backup-recoveries/not-a-uuid/share")
    assert res.status_code == 404


def test_shares_cannot_be_fetched_or_released_outside_the_window(tender):
    people, lot = tender["people"], tender["lot"]
    before = lot.bid_deadline - timedelta(minutes=5)
    res = _open(tender, "alice", before)  # before the deadline there is no backup window
    assert res.json()["error"]["code"] in ("escrow_window_closed", "not_found"), res.content
    now = _decrypting(tender)
    rid = _open(tender, "alice", now).json()["id"]
    # the bidder decrypts its own bid after all: the window for that bid is over
    from tests.bidding.test_opening_support import file_key_of

    with time_machine.travel(now, tick=False):
        res = _json(token_client(people["alice"]), "post", f"/api/v1/lots/{lot.pk}/decryption",
                    {"file_key": file_key_of({"alice": {"envelope": tender["bids"]["alice"]["env"],
                                                        "key": tender["bids"]["alice"]["key"]}}, "alice")})
        assert res.status_code == 200, res.content
    for custodian in ("admin", "supervisor"):
        res = _release(tender, custodian, rid, now)
        assert res.status_code == 409 and res.json()["error"]["code"] == "escrow_window_closed"
    # bob's recovery, but the decryption window has closed
    rid = _open(tender, "bob", now).json()["id"]
    op = OpeningBid.objects.get(submission_id=tender["bids"]["bob"]["submission"]).opening
    late = op.decryption_ends_at + timedelta(seconds=1)
    res = _release(tender, "admin", rid, late)
    assert res.json()["error"]["code"] == "escrow_window_closed"
    # and a direct release (skipping the fetch) outside the window is refused the same way
    with pytest.raises(PlatformError) as info:
        escrow_recovery.release_share(people["admin"], Actor.of(people["admin"]), lot.pk, rid, index=1,
                                      share=keys.b64encode(bytes(32)), now=late)
    assert info.value.code == "escrow_window_closed"
    assert not EscrowRelease.objects.filter(recovery_id=rid).exists()
    steps = [json.loads(e.body)["data"].get("step") for e in AuditEntry.objects.filter(action="bidding.escrow.refused")]
    assert steps.count("fetch") == 3 and steps.count("release") == 1


def test_a_share_of_another_bid_does_not_open_this_one(tender):
    now = _decrypting(tender)
    people = tender["people"]
    # admin's share of alice's bid, released into bob's recovery, with supervisor's share of bob's
    alice_header = envelope.read_header(io.BytesIO(tender["bids"]["alice"]["env"]))
    alice_share = escrow_shares.unwrap_share(alice_header, tender["private"]["admin"])
    rid = _open(tender, "bob", now).json()["id"]
    with time_machine.travel(now, tick=False):
        res = _json(token_client(people["admin"]), "post",
                    f"/api/v1/lots/{tender['lot'].pk}/opening/backup-recoveries/{rid}/shares",
                    {"index": alice_share.index, "share": keys.b64encode(alice_share.value)})
    assert res.json()["status"] == "open"
    res = _release(tender, "supervisor", rid, now)
    assert res.status_code == 200 and res.json()["problem"] == "escrow_share_invalid", res.content
    assert OpeningBid.objects.get(submission_id=tender["bids"]["bob"]["submission"]).status == "pending"
    # the third custodian's honest share still recovers it (k-subsets are tried)
    res = _release(tender, "venue_staff", rid, now)
    assert res.json()["status"] == "recovered", res.content
    # a custodian cannot release under another's index
    rid = _open(tender, "carol", now).json()["id"]
    with time_machine.travel(now, tick=False):
        res = _json(token_client(people["admin"]), "post",
                    f"/api/v1/lots/{tender['lot'].pk}/opening/backup-recoveries/{rid}/shares",
                    {"index": 3, "share": keys.b64encode(bytes(32))})
    assert res.json()["error"]["code"] == "escrow_share_invalid"
    # nor is a stranger's release accepted
    with time_machine.travel(now, tick=False):
        res = _json(token_client(people["expert"]), "post",
                    f"/api/v1/lots/{tender['lot'].pk}/opening/backup-recoveries/{rid}/shares",
                    {"index": 1, "share": keys.b64encode(bytes(32))})
    assert res.status_code == 404


def test_the_bids_are_v3_and_a_share_of_the_wrong_size_is_refused_and_audited(tender):
    now = _decrypting(tender)
    people, lot = tender["people"], tender["lot"]
    header = envelope.read_header(io.BytesIO(tender["bids"]["alice"]["env"]))
    assert header.version == "tender-envelope/v3" and escrow_shares.share_size(header) == 64  # 2-of-3
    rid = _open(tender, "alice", now).json()["id"]
    base = f"/api/v1/lots/{lot.pk}/opening/backup-recoveries/{rid}/shares"
    with time_machine.travel(now, tick=False):
        for size in (32, 63, 65, 640):  # a v2-sized share, one byte short or over, the largest
            res = _json(token_client(people["admin"]), "post", base,
                        {"index": 1, "share": keys.b64encode(bytes(size))})
            assert res.status_code == 422 and res.json()["error"]["code"] == "escrow_share_invalid", size
            assert res.json()["error"]["details"]["size"] == 64
        res = _json(token_client(people["admin"]), "post", base, {"index": 1, "share": "A" * 857})
        assert res.status_code in (400, 422)
    assert not EscrowRelease.objects.filter(recovery_id=rid).exists()
    refused = [json.loads(e.body)["data"] for e in AuditEntry.objects.filter(action="bidding.escrow.refused")]
    assert [r["code"] for r in refused if r.get("step") == "release"] == ["escrow_share_invalid"] * 4
    assert _release(tender, "admin", rid, now).json()["status"] == "open"  # the right size still goes in


def test_a_v2_bid_from_an_older_sealer_is_accepted_and_recovers(tender):
    """sealbid before v3 wrote v2 (Shamir's scheme) for the same custodians: the platform takes it
    and its custodians recover it through the same operations."""
    people, lot = tender["people"], tender["lot"]
    key, _ = certify(people["dave"], people["host"])
    env = envelope.seal_bytes(bid_package(lot, people["dave"].organisation, PRICES["dave"]),
                              tender_id=lot.project.code, lot_id=lot.code,
                              bidder_id=people["dave"].organisation.credit_code, chunk_size=65536,
                              recipients=[envelope.Recipient("bidder", key.public_key())],
                              custodians=tender["custodians"], threshold=2, version=envelope.FORMAT_V2)
    res = upload(token_client(people["dave"]), lot.pk, env)
    assert res.status_code == 201, res.content
    tender["bids"]["dave"] = {"env": env, "key": key, "submission": res.json()["id"]}
    now = _decrypting(tender)
    rid = _open(tender, "dave", now).json()["id"]
    assert _release(tender, "venue_staff", rid, now).json()["status"] == "open"
    res = _release(tender, "admin", rid, now)
    assert res.json()["status"] == "recovered", res.content
    ob = OpeningBid.objects.get(submission_id=tender["bids"]["dave"]["submission"])
    assert ob.status == "decrypted" and ob.values["price"] == PRICES["dave"]


def test_the_upload_must_split_to_exactly_the_tenders_custodians(tender):
    people, lot, cs = tender["people"], tender["lot"], tender["custodians"]
    stranger = escrow_shares.Custodian(3, keys.generate_bidder_key().public_key())
    c = escrow_shares.Custodian
    variants = {
        "threshold": (cs, 3),
        "missing custodian": (cs[:2], 2),
        "stranger": ([cs[0], cs[1], stranger], 2),
        "reordered": ([c(1, cs[1].public_key), c(2, cs[0].public_key), cs[2]], 2),
        "no shares (v1)": ((), None),
    }
    key, _ = certify(people["dave"], people["host"])
    for what, (custodians, k) in variants.items():
        env = seal(lot, people["dave"].organisation, key, b"x" * 100, custodians=custodians, threshold=k)
        res = upload(token_client(people["dave"]), lot.pk, env)
        assert res.json()["error"]["code"] == "escrow_recipient_mismatch", what


def test_a_tender_without_backup_refuses_shares(five, make_lot):
    people = five
    lot = make_lot()
    register_custodians(people, CUSTODIANS)
    key, _ = certify(people["alice"], people["host"])
    cs = [escrow_shares.Custodian(i + 1, keys.generate_bidder_key().public_key()) for i in range(3)]
    env = seal(lot, people["alice"].organisation, key, b"x" * 100, custodians=cs, threshold=2)
    assert upload(token_client(people["alice"]), lot.pk, env).json()["error"]["code"] == "escrow_recipient_mismatch"


@pytest.mark.parametrize("role,en,zh", [("bidder", "competitors", "竞争对手"), ("expert", "evaluate", "评标专家")])
def test_a_role_that_may_not_hold_shares_is_told_why(people, role, en, zh):
    user = people["alice" if role == "bidder" else "expert"]
    body = json.dumps({"public_key": keys.b64encode(keys.public_key_to_bytes(keys.generate_bidder_key().public_key()))})
    for language, word in (("en", en), ("zh-hans", zh)):
        res = token_client(user).post("/api/v1/custodians/me", data=body, content_type="application/json",
                                      HTTP_ACCEPT_LANGUAGE=language)
        assert res.status_code == 403
        error = res.json()["error"]
        assert word in error["message"] and "bidders cannot hold" not in error["message"]
        assert error["details"]["role"] == role


def test_a_set_up_needs_a_real_split(people, make_lot):
    lot = make_lot(escrow_required=True, status="draft")
    register_custodians(people, CUSTODIANS)
    host = token_client(people["host"])
    for ids, k in (([people["admin"].pk], 1), ([people["admin"].pk, people["supervisor"].pk], 1),
                   ([people["admin"].pk, people["supervisor"].pk], 3),
                   ([people["admin"].pk, people["admin"].pk], 2), ([people["admin"].pk, people["host"].pk], 2)):
        res = _json(host, "post", f"/api/v1/lots/{lot.pk}/escrow", {"custodian_user_ids": ids, "threshold": k})
        assert res.status_code == 400, (ids, k, res.content)
    # the same key under two names is one custodian, not two
    same = keys.b64encode(keys.public_key_to_bytes(keys.generate_bidder_key().public_key()))
    for name in ("admin", "supervisor"):
        assert _json(token_client(people[name]), "post", "/api/v1/custodians/me", {"public_key": same}).status_code == 200
    res = _json(host, "post", f"/api/v1/lots/{lot.pk}/escrow",
                {"custodian_user_ids": [people["admin"].pk, people["supervisor"].pk], "threshold": 2})
    assert res.status_code == 400 and "same key" in res.json()["error"]["message"]
    # a user whose role changed since it registered (venue staff who became an expert)
    people["venue_staff"].role = "expert"
    people["venue_staff"].save(update_fields=["role"])
    res = _json(host, "post", f"/api/v1/lots/{lot.pk}/escrow",
                {"custodian_user_ids": [people["admin"].pk, people["venue_staff"].pk], "threshold": 2})
    assert res.status_code == 400 and res.json()["error"]["details"]["users"] == [people["venue_staff"].pk]


def test_the_platforms_database_and_keys_alone_open_no_bid(tender, tmp_path, settings):
    """An insider with every row, every stored file and every server key tries to open each bid:
    every private key the server holds against every stanza, and every 32-byte value it can find
    (raw, hex, base64) as a file key. Nothing opens; the file keys and shares are stored nowhere."""
    from audit.keys import platform_signing_key
    from bidding.certificates import platform_ca

    now = _decrypting(tender)
    rid = _open(tender, "alice", now).json()["id"]
    assert _release(tender, "admin", rid, now).json()["status"] == "open"  # k-1 released: still nothing
    haystacks = [d for _, d in database_bytes()]
    haystacks += [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    server_keys = [platform_ca()[0]]  # the only P-256 private key the platform has
    secrets = [settings.SECRET_KEY.encode(), platform_signing_key().private_bytes_raw()]
    secrets += [p.read_bytes() for p in (settings.PLATFORM_SIGNING_KEY_FILE, settings.PLATFORM_CA_KEY_FILE)
                if p.exists()]
    candidates = set()
    for blob in haystacks + secrets:
        candidates.update(_values_32(blob))
    assert candidates  # the scan sees the stored commitments, hashes, headers
    for name, bid in tender["bids"].items():
        header = envelope.read_header(io.BytesIO(bid["env"]))
        for key in server_keys:
            for unwrap in (lambda k: envelope.unwrap_file_key(header, k),
                           lambda k: escrow_shares.unwrap_share(header, k)):
                with pytest.raises(envelope.InvalidEnvelope):
                    unwrap(key)
        opened = []
        for value in candidates:
            try:
                envelope.verify_file_key(header, value)
                opened.append(value)
            except envelope.InvalidEnvelope:
                pass
        assert not opened, name
        file_key = envelope.unwrap_file_key(header, bid["key"])
        shares = [escrow_shares.unwrap_share(header, k) for k in tender["private"].values()]
        needles = encodings(file_key) + [n for s in shares for n in encodings(bytes(s.value))]
        found = [n for n in needles for h in haystacks if n in h]
        if name == "alice":  # admin's released share of alice's bid is stored, and it alone opens nothing
            assert found == [bytes(shares[0].value)]
        else:
            assert not found, name
    assert EscrowRecovery.objects.count() == 1


def _values_32(blob: bytes) -> set[bytes]:
    """Every 32-byte value in ``blob``: each window of its bytes, and each hex or base64 token."""
    import re

    out = {blob[i:i + 32] for i in range(0, max(len(blob) - 31, 0))}
    for token in re.findall(rb"[A-Za-z0-9+/=_-]{40,}", blob):
        for decode in (lambda t: bytes.fromhex(t.decode()), lambda t: base64.b64decode(t + b"=" * (-len(t) % 4)),
                       lambda t: base64.urlsafe_b64decode(t + b"=" * (-len(t) % 4))):
            try:
                data = decode(token)
            except ValueError:
                continue
            out.update(data[i:i + 32] for i in range(0, max(len(data) - 31, 0)))
    return out


def test_the_browser_seals_for_a_tender_with_custodians_and_only_an_old_large_set_up_needs_sealbid(
        tender, make_lot, people):
    """The submit page of a tender with custodians is open (the browser writes tender-envelope/v3);
    only a set-up made before v3 with more than 7 custodians (which takes v2) is sent to sealbid, in
    both languages. New set-ups cannot name more than 7."""
    from django.test import Client

    from bidding.models import Custodian, EscrowKey, EscrowShare

    client = Client()
    client.force_login(tender["people"]["dave"])
    res = client.get(f"/tenders/{tender['lot'].pk}/bid/", HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 200 and res.context["ctx"]["closed_reason"] == ""
    body = token_client(people["dave"]).get(f"/api/v1/lots/{tender['lot'].pk}/escrow").json()
    assert body["envelope"] == "tender-envelope/v3" and len(body["custodians"]) == 3
    # an old set-up with eight custodians, as its rows were written before v3
    old = make_lot(escrow_required=True, deadline_in=timedelta(hours=1))
    now = old.bid_deadline - timedelta(minutes=30)
    escrow = EscrowKey.objects.create(lot=old, scheme="shares", threshold=5, count=8, created_at=now)
    for i in range(1, 9):
        user = type(people["admin"]).objects.create(username=f"old-custodian-{i}", role="venue_staff")
        public = keys.generate_bidder_key().public_key()
        key = keys.public_key_to_bytes(public)
        custodian = Custodian.objects.create(user=user, public_key=key, key_id=keys.key_id(public), created_at=now)
        EscrowShare.objects.create(escrow=escrow, custodian=custodian, index=i, public_key=key, key_id=custodian.key_id)
    for language, words in (("en", "sealbid seal"), ("zh-hans", "sealbid")):
        with time_machine.travel(now, tick=False):
            res = client.get(f"/tenders/{old.pk}/bid/", HTTP_ACCEPT_LANGUAGE=language)
        assert res.status_code == 200
        assert words in res.context["ctx"]["closed_reason"], res.context["ctx"]["closed_reason"]
    assert token_client(people["dave"]).get(f"/api/v1/lots/{old.pk}/escrow").json()["envelope"] == "tender-envelope/v2"
    # a new set-up may name at most 7
    lot = make_lot(escrow_required=True, status="draft")
    res = _json(token_client(people["host"]), "post", f"/api/v1/lots/{lot.pk}/escrow",
                {"custodian_user_ids": [u.pk for u in type(people["admin"]).objects.filter(
                    username__startswith="old-custodian-")], "threshold": 5})
    assert res.status_code == 400 and res.json()["error"]["details"]["max_custodians"] == 7


def test_a_recovery_is_reached_only_through_its_own_tender_and_bad_bodies_are_4xx(tender, make_lot):
    people = tender["people"]
    other = make_lot(escrow_required=True, status="draft")
    res = _json(token_client(people["host"]), "post", f"/api/v1/lots/{other.pk}/escrow",
                {"custodian_user_ids": [people["admin"].pk, people["supervisor"].pk], "threshold": 2})
    assert res.status_code == 201, res.content
    now = _decrypting(tender)
    rid = _open(tender, "alice", now).json()["id"]
    for who, lot_id in (("venue_staff", other.pk), ("admin", other.pk)):
        with time_machine.travel(now, tick=False):
            res = token_client(people[who]).get(f"/api/v1/lots/{lot_id}/opening/backup-recoveries/{rid}/share")
        assert res.status_code == 404, (who, res.content)
    base = f"/api/v1/lots/{tender['lot'].pk}/opening/backup-recoveries/{rid}/shares"
    with time_machine.travel(now, tick=False):
        for body in ({"index": 1, "share": "A" * 10_000}, {"index": 1, "share": "not base64!"},
                     {"index": 1, "share": keys.b64encode(bytes(31))}, {"index": "x", "share": ""},
                     {"index": 10**9, "share": keys.b64encode(bytes(32))}, {}):
            res = _json(token_client(people["admin"]), "post", base, body)
            assert 400 <= res.status_code < 500 and "error" in res.json(), (body, res.content)
        res = token_client(people["admin"]).post(base, data=b"{" * 100_000, content_type="application/json")
        assert 400 <= res.status_code < 500
    assert not EscrowRelease.objects.filter(recovery_id=rid).exists()


def test_a_recovery_lapses_at_the_end_of_its_window_and_its_shares_are_erased(tender):
    now = _decrypting(tender)
    rid = _open(tender, "carol", now).json()["id"]
    assert _release(tender, "admin", rid, now).json()["status"] == "open"
    assert bytes(EscrowRelease.objects.get(recovery_id=rid).share)
    recovery = EscrowRecovery.objects.get(pk=rid)
    assert recovery.next_check == OpeningBid.objects.get(submission_id=tender["bids"]["carol"]["submission"]
                                                         ).opening.decryption_ends_at
    run_due_timers(now + timedelta(seconds=5))  # before the end: nothing happens to it
    assert EscrowRecovery.objects.get(pk=rid).status == "open"
    late = recovery.next_check + timedelta(seconds=1)
    run_due_timers(late)
    recovery.refresh_from_db()
    assert recovery.status == "lapsed" and recovery.next_check is None
    assert bytes(EscrowRelease.objects.get(recovery_id=rid).share) == b""
    entry = json.loads(AuditEntry.objects.get(action="bidding.escrow.recovery_lapsed").body)["data"]
    assert (entry["old_status"], entry["new_status"], entry["shares_erased"]) == ("open", "lapsed", 1)
    assert _release(tender, "supervisor", rid, late).json()["error"]["code"] == "escrow_window_closed"
    run_due_timers(late + timedelta(minutes=1))  # applied once
    assert AuditEntry.objects.filter(action="bidding.escrow.recovery_lapsed").count() == 1
