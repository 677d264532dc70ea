"""The hall's actions with the verify-action pattern: for every viewer (host, supervisor, each
bidder), the snapshot before + the events emitted = the snapshot after; and what each must not see."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest

from audit.models import AuditCheckpoint, AuditEntry
from bidding import storage
from bidding.lifecycle import Status as LotStatus
from bidding.models import Lot, Opening, OpeningBid
from bidding.opening import actions, record, rules, talk, views
from bidding.opening.decryption import release_key
from bidding.opening.hall import HallRoom
from common.actor import Actor
from common.errors import PlatformError
from realtime.testing import verify_action
from realtime.timers import run_due_timers
from tests.bidding.test_opening_support import (BIDDERS, PRICES, file_key_of, five, hall,  # noqa: F401
                                                submit_bids, viewers)
from tests.conftest import need_tool

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]
KIND = HallRoom()


def act(h, fn):
    return verify_action(KIND, views.room_key(h["lot"].pk), viewers(h["people"]), fn)


def to_deadline(h):
    lot = h["lot"]
    run_due_timers(lot.signin_opens_at + timedelta(seconds=1))
    now = lot.bid_deadline + timedelta(seconds=1)
    return act(h, lambda: run_due_timers(now)), now


def release(h, name, now, key=None):
    user = h["people"][name]
    return release_key(user, Actor.of(user), h["lot"].pk, file_key=key or file_key_of(h["bidders"], name),
                       now=now)


def test_it_hides_other_bidders_before_the_opening(hall):
    people, lot = hall["people"], hall["lot"]
    emitted = act(hall, lambda: run_due_timers(lot.signin_opens_at + timedelta(seconds=1)))
    assert Opening.objects.get(lot=lot).phase == "signin_open"
    snap = views.snapshot(lot.pk, "bidder", people["alice"].organisation_id)
    assert snap["bidders"] is None and snap["bids_on_file"] is None and snap["progress"] is None
    assert snap["mine"] is None
    text = str(snap) + str(emitted)
    for other in ("Bob", "Carol", "Dave", "Erin"):
        assert other not in text
    # A bidder's chat before the deadline reaches the host, never another bidder.
    now = lot.signin_opens_at + timedelta(minutes=1)
    alice = people["alice"]
    act(hall, lambda: talk.chat(alice, Actor.of(alice), lot.pk, role="bidder", text="听得到吗？", now=now))
    assert views.snapshot(lot.pk, "bidder", people["bob"].organisation_id)["chat"] == []
    assert [m["text"] for m in views.snapshot(lot.pk, "host", None)["chat"]] == ["听得到吗？"]
    with pytest.raises(PlatformError) as err:  # objections only from the opening on
        talk.raise_objection(alice, Actor.of(alice), lot.pk, role="bidder", text="异议", now=now)
    assert err.value.code == "invalid_state"


def test_too_few_bids_at_the_deadline_fail_the_opening(five, make_lot, bid_storage):
    lot = make_lot(deadline_in=timedelta(hours=1))
    submit_bids(five, lot, names=("alice", "bob"))
    now = lot.bid_deadline + timedelta(seconds=1)
    verify_action(KIND, views.room_key(lot.pk), viewers(five, ("alice", "bob")), lambda: run_due_timers(now))
    op = Opening.objects.get(lot=lot)
    assert op.phase == "failed" and op.bids_on_file == 2
    assert Lot.objects.get(pk=lot.pk).status == LotStatus.FAILED
    run_due_timers(now + timedelta(hours=1))  # applied exactly once, however often the ticker runs
    assert AuditEntry.objects.filter(action="bidding.opening.failed").count() == 1
    assert Opening.objects.get(lot=lot).phase == "failed"


def test_a_full_opening_decrypts_classifies_announces_and_records(hall):
    people, lot, subs = hall["people"], hall["lot"], hall["submissions"]
    checkpoints = AuditCheckpoint.objects.count()
    emitted, now = to_deadline(hall)
    op = Opening.objects.get(lot=lot)
    assert op.phase == "decrypting" and op.bids_on_file == 5 and len(op.coefficient_commitment) == 64
    assert Lot.objects.get(pk=lot.pk).status == LotStatus.OPENING
    assert AuditCheckpoint.objects.count() >= checkpoints + 2
    alice_v = viewers(people)[2]
    names = {b["name"] for b in views.snapshot(lot.pk, "bidder", alice_v.org_id)["bidders"]}
    assert len(names) == 5 and "Bob 路桥有限公司" in names  # published at the deadline

    # A wrong key: invalid_file_key, recorded, still pending; then the right one.
    now += timedelta(minutes=1)
    wrong = base64.b64encode(b"\x01" * 32).decode()

    def bad():
        with pytest.raises(PlatformError) as err:
            release(hall, "bob", now, key=wrong)
        assert err.value.code == "invalid_file_key"
    act(hall, bad)
    assert OpeningBid.objects.get(submission=subs["bob"]).status == "pending"
    for name in ("alice", "bob", "dave"):
        pushes = act(hall, lambda: release(hall, name, now))
    # Others see counts only during decryption: no names or prices of other bidders.
    carol_pushes = pushes[viewers(people)[4]]
    assert all("98765400" not in str(p) and "Dave" not in str(p) for p in carol_pushes)
    carol_snap = views.snapshot(lot.pk, "bidder", people["carol"].organisation_id)
    assert carol_snap["progress"]["decrypted"] == 3 and carol_snap["announcement"] is None
    assert "statuses" not in carol_snap and "12345" not in str(carol_snap)
    host_snap = views.snapshot(lot.pk, "host", people["host"].organisation_id)
    assert host_snap["statuses"][str(people["alice"].organisation_id)]["status"] == "decrypted"
    assert "123456789" not in str(host_snap)

    # The platform loses erin's stored envelope: its valid key cannot be used → platform fault.
    storage.absolute(subs["erin"].path).unlink()

    def lost():
        with pytest.raises(PlatformError) as err:
            release(hall, "erin", now)
        assert err.value.code == "decryption_failed"
    act(hall, lost)
    # Carol never decrypts. The window closes (ticker): carol revoked, erin withdrawn, announced.
    close = op.decryption_ends_at + timedelta(seconds=1)
    act(hall, lambda: run_due_timers(close))
    status = {n: OpeningBid.objects.get(submission=subs[n]).status for n in BIDDERS}
    assert status == {"alice": "decrypted", "bob": "decrypted", "carol": "revoked", "dave": "decrypted",
                      "erin": "withdrawn"}
    snap = views.snapshot(lot.pk, "bidder", people["carol"].organisation_id)
    assert snap["phase"]["phase"] == "announced"
    alice_entry = next(e for e in snap["announcement"] if e["name"].startswith("Alice"))
    assert alice_entry["fields"][0] == {"key": "price", "label": "投标报价", "value": 123456789,
                                        "shown": "1234567.89", "unit": "元"}
    assert alice_entry["problems"] == []

    # The coefficient: the revealed seed hashes to the commitment and recomputes the value.
    host = people["host"]
    with pytest.raises(PlatformError):  # the record waits for the draw
        record.start_confirmation(lot.pk, Actor.of(host), role="host", now=close)
    act(hall, lambda: actions.draw_coefficient(lot.pk, Actor.of(host), role="host", now=close))
    coef = views.snapshot(lot.pk, "bidder", people["bob"].organisation_id)["coefficient"]
    seed = bytes.fromhex(coef["seed"])
    assert hashlib.sha256(seed).hexdigest() == coef["commitment"]
    h = int.from_bytes(hmac.digest(seed, b"kaibiao/coefficient/v1", hashlib.sha256), "big")
    n = int((Decimal("0") - Decimal("-3")) / Decimal("0.01")) + 1
    assert Decimal(coef["value"]) == Decimal("-3") + (h % n) * Decimal("0.01")

    # The record: generated, signed by alice, objected to by bob, the rest deemed at the close.
    act(hall, lambda: record.start_confirmation(lot.pk, Actor.of(host), role="host", now=close))
    op.refresh_from_db()
    assert op.record_hash == rules.record_hash(op.record) and op.phase == "confirming"
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    message = rules.confirmation_message(op.record_hash)
    good = base64.b64encode(hall["bidders"]["alice"]["key"].sign(message, ec.ECDSA(hashes.SHA256()))).decode()
    forged = base64.b64encode(hall["bidders"]["bob"]["key"].sign(message, ec.ECDSA(hashes.SHA256()))).decode()
    alice, bob = people["alice"], people["bob"]
    with pytest.raises(PlatformError) as err:  # bob's key is not alice's certificate
        record.confirm_record(alice, Actor.of(alice), lot.pk, role="bidder", signature=forged, now=close)
    assert err.value.code == "invalid_signature"
    # docs/protocol.md: the signature is standard base64 *with* its padding; r‖s (64 bytes) or DER.
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s_ = decode_dss_signature(base64.b64decode(good))
    raw = base64.b64encode(r.to_bytes(32, "big") + s_.to_bytes(32, "big")).decode()
    assert raw.endswith("==")
    for text in (raw.rstrip("="), raw.replace("+", "-").replace("/", "_") if ("+" in raw or "/" in raw)
                 else raw[:-2]):
        with pytest.raises(PlatformError) as err:
            record.confirm_record(alice, Actor.of(alice), lot.pk, role="bidder", signature=text, now=close)
        assert err.value.code == "invalid_signature"
    act(hall, lambda: record.confirm_record(alice, Actor.of(alice), lot.pk, role="bidder", signature=good,
                                            now=close))
    act(hall, lambda: talk.raise_objection(bob, Actor.of(bob), lot.pk, role="bidder",
                                           text="我方报价唱错", now=close))
    objection = op.objections.get()
    act(hall, lambda: talk.answer_objection(host, Actor.of(host), lot.pk, role="host",
                                            objection_id=objection.pk, text="已核对，无误", now=close))
    op.refresh_from_db()
    act(hall, lambda: run_due_timers(op.confirmation_ends_at + timedelta(seconds=1)))
    op.refresh_from_db()
    assert op.phase == "closed" and Lot.objects.get(pk=lot.pk).status == LotStatus.EVALUATING
    assert {c.organisation.name[:3]: c.state for c in op.confirmations.select_related("organisation")} == {
        "Ali": "confirmed", "Bob": "objected", "Car": "deemed", "Dav": "deemed", "Eri": "deemed"}
    codes = set(AuditEntry.objects.filter(action__startswith="bidding.opening.").values_list("action", flat=True))
    assert {"bidding.opening.deadline", "bidding.opening.bid_revoked", "bidding.opening.bid_withdrawn",
            "bidding.opening.announced", "bidding.opening.record_confirmed",
            "bidding.opening.record_deemed", "bidding.opening.confirmation_closed"} <= codes

    pdf = record.render_record_pdf(op)
    text = subprocess.run([need_tool("pdftotext"), "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    text = "".join(text.split())  # table cells wrap
    for expected in ("开标记录", "1234567.89", "视为撤销", "视为撤回", "我方报价唱错", "已核对，无误", "视同认可"):
        assert expected in text, expected
    # A legal record: Beijing time with the zone stated, never the UTC machine format.
    from common.beijing import beijing

    assert "".join(beijing(lot.bid_deadline, zone=True).split()) in text and "北京时间" in text
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), "a UTC machine time in the record"

    # The archive: envelopes, receipts, released keys, the record and alice's signature, offline.
    import io

    from audit.archive import export_archive
    from audit.keys import platform_vkey
    from crypto.archive import verify_archive

    buffer = io.BytesIO()
    export_archive(buffer, lot=lot)
    lines = "\n".join(verify_archive(io.BytesIO(buffer.getvalue()), vkey=platform_vkey()).lines)
    assert "keys: 3 released file keys match" in lines  # alice, bob, dave (erin's was never used)
    assert "opening record: hash verified; 1 bidders' confirmation signatures verified" in lines
    assert f"envelopes the platform declared lost: {subs['erin'].pk}" in lines


def test_pause_stops_the_window_and_resume_restores_it(hall):
    lot, host = hall["lot"], hall["people"]["host"]
    _, now = to_deadline(hall)
    op = Opening.objects.get(lot=lot)
    left = op.decryption_ends_at - now
    act(hall, lambda: actions.pause(lot.pk, Actor.of(host), role="host", reason="网络故障", now=now))
    hall_entries = AuditEntry.objects.filter(action__startswith="bidding.opening.").count()
    run_due_timers(now + timedelta(days=1))  # a paused window never closes
    assert AuditEntry.objects.filter(action__startswith="bidding.opening.").count() == hall_entries
    assert Opening.objects.get(lot=lot).phase == "decrypting"
    later = now + timedelta(hours=2)
    bidder = hall["people"]["alice"]
    with pytest.raises(PlatformError):
        release(hall, "alice", later)
    act(hall, lambda: actions.resume(lot.pk, Actor.of(host), role="host", now=later))
    op.refresh_from_db()
    assert op.decryption_ends_at == later + left and not op.paused
    assert release(hall, "alice", later)["status"] == "decrypted" and bidder


def test_the_private_chat_reaches_only_its_bidder_and_the_host(hall):
    people, lot = hall["people"], hall["lot"]
    _, now = to_deadline(hall)
    alice, host = people["alice"], people["host"]
    emitted = act(hall, lambda: talk.chat(alice, Actor.of(alice), lot.pk, role="bidder", text="请问解密窗口多久？",
                                          now=now))
    act(hall, lambda: talk.chat(host, Actor.of(host), lot.pk, role="host", org=alice.organisation_id,
                                text="30 分钟", now=now))
    for v, pushes in emitted.items():
        got = any(p["event"] == "hall.chat" for p in pushes)
        assert got == (v.role in ("host", "supervisor") or v.user_id == alice.pk)
    assert views.snapshot(lot.pk, "bidder", people["bob"].organisation_id)["chat"] == []
    with pytest.raises(PlatformError):
        talk.chat(alice, Actor.of(alice), lot.pk, role="bidder", text="长" * 301, now=now)


def test_sealbid_open_posts_the_key_to_the_decryption_endpoint(hall):
    from tests.bidding.conftest import token_client

    _, now = to_deadline(hall)
    import time_machine

    with time_machine.travel(now + timedelta(seconds=5), tick=False):
        client = token_client(hall["people"]["bob"])
        url = f"/api/v1/lots/{hall['lot'].pk}/decryption"
        res = client.post(url, data={"file_key": base64.b64encode(b"\0" * 32).decode()},
                          content_type="application/json")
        assert res.status_code == 422 and res.json()["error"]["code"] == "invalid_file_key"
        body = {"file_key": file_key_of(hall["bidders"], "bob"),
                "commitment": hall["submissions"]["bob"].commitment}
        res = client.post(url, data=body, content_type="application/json")
        assert res.status_code == 200 and res.json()["status"] == "decrypted", res.content
        # Another bidder's view through the API still shows no price of bob's.
        res = token_client(hall["people"]["carol"]).get(f"/api/v1/lots/{hall['lot'].pk}/opening")
        assert res.status_code == 200 and "98765400" not in res.content.decode()
        res = token_client(hall["people"]["host"]).post(url, data=body, content_type="application/json")
        assert res.status_code == 403


def test_a_failed_key_release_tells_only_its_bidder_and_the_host(hall):
    """#19: the counts (``hall.progress`` to ``all``) do not move when a key fails, so no push tells
    the other bidders that somebody's key failed; the bidder gets its error, the host the state."""
    people = hall["people"]
    _, now = to_deadline(hall)
    wrong = base64.b64encode(b"\x01" * 32).decode()

    def bad():
        with pytest.raises(PlatformError) as err:
            release(hall, "bob", now, key=wrong)
        assert err.value.code == "invalid_file_key"
    pushes = act(hall, bad)
    for viewer, got in pushes.items():
        events = sorted(p["event"] for p in got)
        if viewer.role == "bidder" and viewer.org_id == people["bob"].organisation_id:
            assert events == ["hall.my_bid"] and got[0]["payload"]["mine"]["last_error"] == "invalid_file_key"
        elif viewer.role == "bidder":
            assert events == [], (viewer, got)  # carol, dave... learn nothing
        elif viewer.role == "host":
            assert events == ["hall.bid_status"]
        else:
            assert events == ["hall.bid_status", "hall.my_bid"]  # supervisors see every stream
    # A release that changes the counts still reaches everyone (the key without its base64 padding,
    # which docs/protocol.md allows).
    unpadded = file_key_of(hall["bidders"], "bob").rstrip("=")
    assert len(unpadded) == 43
    pushes = act(hall, lambda: release(hall, "bob", now, key=unpadded))
    carol = next(v for v in pushes if v.org_id == people["carol"].organisation_id)
    assert [p["event"] for p in pushes[carol]] == ["hall.progress"]
    assert pushes[carol][0]["payload"]["progress"]["decrypted"] == 1
