"""Backup decryption of set-ups made before v2 (scheme "dealer"): the escrow key was split among
custodians at set-up and never stored; k of them still recover a v1 bid's file key after the
deadline, for a cause outside the bidder's control. Their dealt shares are served only in the
backup window."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from audit.models import AuditEntry
from bidding import escrow as escrow_actions
from bidding.models import EscrowShare
from common.actor import Actor
from common.errors import PlatformError
from crypto import envelope, keys, shamir
from tests.bidding.conftest import certify, deal_escrow, register_custodians, seal, token_client, upload
from tests.bidding.test_no_early_reading import database_bytes, encodings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]


@pytest.fixture
def setup(people, make_lot, tmp_path):
    from common import clock

    lot = make_lot(escrow_required=True)
    custodians = register_custodians(people, ("admin", "supervisor", "venue_staff"))
    escrow_public = deal_escrow(lot, custodians, people, 2, clock.now())
    alice_key, _ = certify(people["alice"], people["host"])
    plaintext = b"manifest: price 123456789 fen"
    env = seal(lot, people["alice"].organisation, alice_key, plaintext, escrow_public=escrow_public)
    res = upload(token_client(people["alice"]), lot.pk, env)
    assert res.status_code == 201, res.content
    return {"lot": lot, "custodians": custodians, "env": env, "submission": res.json()["id"],
            "plaintext": plaintext, "alice_key": alice_key}


def opened_shares(people, setup, names):
    """Each custodian opens its dealt share on its own machine (the rows as its tool reads them)."""
    out = []
    for name in names:
        row = EscrowShare.objects.select_related("escrow").get(custodian__user=people[name])
        share = shamir.open_share(bytes(row.sealed), setup["custodians"][name],
                                  tender=f"{setup['lot'].project.code}/{setup['lot'].code}",
                                  escrow_key_id=row.escrow.key_id, index=row.index)
        out.append((people[name].pk, share))
    return out


def recover(people, setup, shares, *, now, reason="platform_failure", who="host"):
    return escrow_actions.recover_file_key_with_escrow(
        people[who], Actor.of(people[who]), setup["submission"], shares=shares, reason=reason, now=now)


def test_k_custodians_recover_after_the_deadline(people, setup):
    after = setup["lot"].bid_deadline + timedelta(minutes=1)
    for pair in (("admin", "supervisor"), ("supervisor", "venue_staff"), ("admin", "venue_staff")):
        file_key = recover(people, setup, opened_shares(people, setup, pair), now=after)
        assert envelope.open_bytes(setup["env"], file_key=file_key) == setup["plaintext"]
    entry = AuditEntry.objects.filter(action="bidding.escrow.recovered").last()
    assert json.loads(entry.body)["data"]["reason"] == "platform_failure"


def test_k_minus_one_before_the_deadline_or_a_bidder_fault_are_refused(people, setup):
    after = setup["lot"].bid_deadline + timedelta(minutes=1)
    two = opened_shares(people, setup, ("admin", "supervisor"))
    cases = [
        (dict(shares=two[:1], now=after), "escrow_threshold_not_met"),
        (dict(shares=two, now=setup["lot"].bid_deadline - timedelta(seconds=1)), "deadline_not_reached"),
        (dict(shares=two, now=after, reason="bidder_lost_key"), "bad_request"),
        (dict(shares=[two[0], (two[1][0], two[0][1])], now=after), "escrow_share_invalid"),
        (dict(shares=[two[0], two[0]], now=after), "escrow_share_invalid"),
        (dict(shares=[two[0], (two[1][0], shamir.Share(two[1][1].index, bytes(32)))], now=after),
         "escrow_share_invalid"),
    ]
    for kwargs, code in cases:
        with pytest.raises(PlatformError) as info:
            recover(people, setup, **kwargs)
        assert info.value.code == code, (kwargs, info.value.code)
    refused = [json.loads(b)["data"]["code"] for b in
               AuditEntry.objects.filter(action="bidding.escrow.refused").values_list("body", flat=True)]
    assert refused == [code for _, code in cases]
    with pytest.raises(PlatformError) as info:  # a bidder cannot run a recovery at all
        recover(people, setup, two, now=after, who="alice")
    assert info.value.code in ("not_found", "forbidden")


def test_the_escrow_private_key_is_stored_nowhere(people, setup, tmp_path):
    shares = [s for _, s in opened_shares(people, setup, ("admin", "supervisor", "venue_staff"))]
    escrow_public = envelope.read_header(io.BytesIO(setup["env"])).stanzas[1]
    assert escrow_public.role == "escrow"
    from bidding.models import EscrowKey

    key = shamir.combine_private_key(shares, 2, keys.load_public_key_bytes(
        bytes(EscrowKey.objects.get().public_key)))
    needles = encodings(keys.private_key_to_scalar(key)) + encodings(keys.private_key_to_pkcs8(key))
    needles += [s.to_bytes() for s in shares] + [bytes(s.value) for s in shares]
    haystacks = [d for _, d in database_bytes()]
    haystacks += [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert EscrowShare.objects.count() == 3
    assert not [n for n in needles for h in haystacks if n in h]


def test_a_bid_without_the_escrow_recipient_is_refused(people, setup):
    env = seal(setup["lot"], people["bob"].organisation, certify(people["bob"], people["host"])[0], b"x")
    res = upload(token_client(people["bob"]), setup["lot"].pk, env)
    assert res.json()["error"]["code"] == "escrow_recipient_mismatch"


def test_a_dealt_share_is_served_only_in_the_backup_window(people, setup):
    url = f"/api/v1/lots/{setup['lot'].pk}/escrow/share"
    res = token_client(people["admin"]).get(url)  # before the deadline: no opening decrypting
    assert res.status_code == 409 and res.json()["error"]["code"] == "escrow_window_closed"
    refused = AuditEntry.objects.filter(action="bidding.escrow.refused").last()
    assert json.loads(refused.body)["data"]["code"] == "escrow_window_closed"


def test_a_bidder_cannot_fetch_shares_and_escrow_needs_its_key(people, setup, make_lot):
    assert token_client(people["alice"]).get(f"/api/v1/lots/{setup['lot'].pk}/escrow/share").status_code == 404
    other = make_lot(escrow_required=True)
    res = token_client(people["alice"]).post(f"/api/v1/lots/{other.pk}/uploads", data=json.dumps({"size": 9}),
                                             content_type="application/json")
    assert res.json()["error"]["code"] == "escrow_not_ready"


def test_the_migration_keeps_set_ups_made_before_v2_dealt(people, setup):
    """0005 adds ``scheme`` with "dealer" for the rows that exist (then "shares" for new ones) and
    gives each existing share row the custodian key its share was sealed to."""
    import importlib

    from django.apps import apps

    from bidding.models import EscrowKey

    migration = importlib.import_module("bidding.migrations.0005_dealerless_escrow")
    ops = migration.Migration.operations
    added = next(o for o in ops if getattr(o, "name", "") == "scheme" and o.__class__.__name__ == "AddField")
    altered = next(o for o in ops if getattr(o, "name", "") == "scheme" and o.__class__.__name__ == "AlterField")
    assert added.field.default == "dealer" and altered.field.default == "shares"
    assert ops.index(added) < ops.index(altered)
    assert EscrowKey._meta.get_field("scheme").default == "shares"
    EscrowShare.objects.update(public_key=b"", key_id="")  # as the rows were before 0005
    migration.keep_dealt_set_ups_readable(apps, None)
    for share in EscrowShare.objects.select_related("custodian"):
        assert share.key_id == share.custodian.key_id and bytes(share.public_key) == bytes(share.custodian.public_key)
    # and the set-up still recovers its v1 bid
    after = setup["lot"].bid_deadline + timedelta(minutes=1)
    file_key = recover(people, setup, opened_shares(people, setup, ("admin", "venue_staff")), now=after)
    assert envelope.open_bytes(setup["env"], file_key=file_key) == setup["plaintext"]
