"""The platform's Ed25519 signing key on a PKCS#11 token (SoftHSM2 as the HSM): made on the token,
named by a PKCS#11 URI in a setting, the PIN from the environment; checkpoints and receipts it signs
verify with the published vkey; a wrong PIN or a missing key is a clear configuration error; the
file key stays the fallback when the setting is empty. The token pulled out mid-run (only its
directory) gives signing_unavailable at the API, in a hall command and on a page, one ticker alert,
nothing half-done, and signatures again in the same process once it is back; another token under
the same labels never signs for the platform."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured

from crypto import checkpoint, platform_token, signing, token
from tests.conftest import SOFTHSM_MODULE as MODULE
from tests.bidding.conftest import bid_storage, fast_hashing  # noqa: F401
from tests.bidding.test_opening_support import five, hall  # noqa: F401
from tests.frontend.test_evaluation_setup import world  # noqa: F401
from tests.conftest import SOFTHSM_TOKENS, need_tool

ROOT = Path(__file__).resolve().parents[2]

LABEL = "platform-hsm"
PIN = SOFTHSM_TOKENS[LABEL][0]


@pytest.fixture(scope="module")
def hsm(softhsm_tokens):
    import uuid

    uri = f"pkcs11:token={LABEL};object=platform%20signing%20{uuid.uuid4().hex[:8]}?module-path={MODULE}"
    ref = platform_token.parse_uri(uri, PIN)
    public = platform_token.generate_ed25519(ref)
    return {"uri": uri, "ref": ref, "public": public}


def test_the_token_signs_ed25519_that_cryptography_verifies(hsm):
    key = platform_token.TokenSigningKey(hsm["ref"])
    assert isinstance(key.public_key(), Ed25519PublicKey)
    assert signing.public_key_bytes(key) == signing.public_key_bytes(hsm["public"])
    message = "checkpoint 国密".encode()
    signature = signing.sign(key, message)
    signing.verify(hsm["public"], signature, message)  # RFC 8032, by the library, not the token
    with pytest.raises(signing.SignatureError):
        signing.verify(hsm["public"], signature, message + b"!")
    note = checkpoint.NoteSigner("hsm.example/audit", key).sign(
        checkpoint.Checkpoint("hsm.example/audit", 3, bytes(32)).to_body())
    verifier = checkpoint.NoteVerifier.from_vkey(checkpoint.NoteSigner("hsm.example/audit", key).vkey)
    assert checkpoint.open_checkpoint(note, verifier).size == 3
    # A receipt signed by the token verifies offline with the vkey alone (crypto.receipt).
    from tests.crypto.test_sm2_signatures import ORIGIN
    from crypto import merkle, receipt

    entry = receipt.canonical({"index": 0, "action": receipt.SUBMITTED_ACTION, "data": {
        "submission": "s", "sha256": "0" * 64, "size": 1, "commitment": "c"}}).decode()
    signer = checkpoint.NoteSigner(ORIGIN, key)
    leaf = merkle.leaf_hash(entry.encode())
    body = receipt.make_body(platform=ORIGIN, submission="s", tender="t", lot="l", bidder_name="b", credit_code="c",
                             sha256="0" * 64, size=1, commitment="c", key_id="k", received_at="r", audit_index=0)
    doc = receipt.sign_receipt(body, key, audit_entry=entry, checkpoint=signer.sign(
        checkpoint.Checkpoint(ORIGIN, 1, merkle.root_from_leaf_hashes([leaf])).to_body()),
        proof_index=0, proof_size=1, proof_hashes=[])
    assert receipt.verify_receipt(doc, signer.vkey)["submission"] == "s"


def test_wrong_pin_missing_key_and_bad_uris_are_clear_errors(hsm):
    with pytest.raises(token.TokenError) as err:
        platform_token.TokenSigningKey(platform_token.parse_uri(hsm["uri"], "000000"))
    assert err.value.kind == "wrong_pin"
    with pytest.raises(token.TokenError) as err:
        platform_token.TokenSigningKey(platform_token.parse_uri(hsm["uri"].replace("object=platform%20signing", "object=nope"), PIN))
    assert err.value.kind == "no_key"
    with pytest.raises(token.TokenError) as err:
        platform_token.TokenSigningKey(platform_token.parse_uri(hsm["uri"].replace(LABEL, "absent"), PIN))
    assert err.value.kind == "no_token"
    for bad in ("pkcs11:token=x?module-path=/m", "pkcs11:token=x;object=y;id=1?module-path=/m",
                "pkcs11:token=x;object=y?module-path=/m&pin-value=1", "token=x;object=y?module-path=/m",
                "pkcs11:token=x;token=y;object=z?module-path=/m"):
        with pytest.raises(ValueError):
            platform_token.parse_uri(bad, PIN)
    with pytest.raises(ValueError, match="PIN"):
        platform_token.parse_uri(hsm["uri"], "")


@pytest.mark.django_db
def test_the_setting_moves_checkpoints_and_receipts_onto_the_token(hsm, settings, monkeypatch):
    from audit.checkpoints import issue_checkpoint, verify_stored_checkpoint
    from audit.keys import platform_signing_key, platform_vkey
    from common import clock

    file_vkey = platform_vkey()
    settings.PLATFORM_SIGNING_KEY_PKCS11 = hsm["uri"]
    monkeypatch.setenv("PLATFORM_SIGNING_KEY_PIN", PIN)
    platform_signing_key.cache_clear()
    try:
        assert signing.public_key_bytes(platform_signing_key()) == signing.public_key_bytes(hsm["public"])
        vkey = platform_vkey()
        assert vkey != file_vkey
        record = issue_checkpoint("hsm", now=clock.now())
        assert verify_stored_checkpoint(record).size == record.size
        checkpoint.open_checkpoint(record.note, checkpoint.NoteVerifier.from_vkey(vkey))
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.open_checkpoint(record.note, checkpoint.NoteVerifier.from_vkey(file_vkey))
        monkeypatch.setenv("PLATFORM_SIGNING_KEY_PIN", "000000")
        platform_signing_key.cache_clear()
        with pytest.raises(ImproperlyConfigured, match="wrong PIN"):
            platform_signing_key()
    finally:
        platform_signing_key.cache_clear()
    settings.PLATFORM_SIGNING_KEY_PKCS11 = ""
    assert platform_vkey() == file_vkey  # the file key, the demo's fallback


# --- the token pulled out while the platform signs (issue #14) ----------------------------------
# SoftHSM never sees a token come back in a process that saw it go, until its module is reset
# (``crypto.token.reset``): ``TokenSigningKey.sign`` resets and retries once, then raises
# ``SigningUnavailable``; the edges answer ``signing_unavailable`` (503, temporary).


def _token_dir(tokens: Path, label: str = LABEL) -> Path:
    return next(d for d in tokens.iterdir() if d.is_dir() and label.encode() in (d / "token.object").read_bytes())


@contextmanager
def pulled_out(softhsm_tokens, tmp_path):
    """Only the platform's token directory moved out of SoftHSM's token directory, and back."""
    where = _token_dir(softhsm_tokens["tokens"])
    aside = tmp_path / "pulled-out-platform-hsm"
    shutil.move(str(where), str(aside))
    try:
        yield where
    finally:
        if aside.exists():
            shutil.move(str(aside), str(where))


@pytest.fixture
def on_token(hsm, settings, monkeypatch):
    from audit.keys import platform_signing_key

    settings.PLATFORM_SIGNING_KEY_PKCS11 = hsm["uri"]
    monkeypatch.setenv("PLATFORM_SIGNING_KEY_PIN", PIN)
    platform_signing_key.cache_clear()
    yield hsm
    platform_signing_key.cache_clear()


def _failures(outcome: str) -> float:
    from common import metrics

    return metrics.SIGNING_FAILURES.labels("platform", outcome)._value.get()


def test_a_pulled_token_is_unavailable_and_signs_again_in_the_same_process_once_back(hsm, softhsm_tokens,
                                                                                        tmp_path):
    outcomes = []
    key = platform_token.TokenSigningKey(hsm["ref"], on_failure=outcomes.append)
    signing.verify(hsm["public"], key.sign(b"before"), b"before")
    with pulled_out(softhsm_tokens, tmp_path):
        for _ in range(2):  # every attempt resets and retries, and says so
            with pytest.raises(signing.SigningUnavailable, match="cannot sign"):
                key.sign(b"while out")
        with pytest.raises(token.TokenError) as err:  # a new key object cannot even read its public half
            platform_token.TokenSigningKey(hsm["ref"])
        assert err.value.kind == "no_token"
        assert outcomes == ["unavailable", "unavailable"]
    # Back in: without the reset this process would go on answering no_token.
    signature = key.sign(b"after")
    signing.verify(hsm["public"], signature, b"after")
    assert outcomes == ["unavailable", "unavailable", "recovered"]
    assert signing.public_key_bytes(platform_token.TokenSigningKey(hsm["ref"])) == signing.public_key_bytes(hsm["public"])
    signing.verify(hsm["public"], key.sign(b"again"), b"again")
    assert outcomes[-1] == "recovered"  # the signature after the recovery needed no retry


IMPOSTOR_SCRIPT = """
import sys
from crypto import platform_token
ref = platform_token.parse_uri(sys.argv[1], sys.argv[2])
print(platform_token.generate_ed25519(ref).public_bytes_raw().hex())
"""


def test_another_token_with_another_key_under_the_same_labels_never_signs_for_the_platform(hsm, softhsm_tokens,
                                                                                             tmp_path, monkeypatch):
    from audit.keys import _platform_signing_key

    # An impostor token: the same token label, a key under the same key label, made by another
    # SoftHSM configuration (a fresh process: SoftHSM reads its configuration once).
    base = tmp_path / "impostor"
    (base / "tokens").mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**softhsm_tokens["env"], "SOFTHSM2_CONF": str(conf), "PYTHONPATH": str(ROOT)}
    util = need_tool(softhsm_tokens["util"])
    subprocess.run([util, "--init-token", "--free", "--label", LABEL, "--serial", "impostor0001",
                    "--pin", PIN, "--so-pin", SOFTHSM_TOKENS[LABEL][1]], env=env, check=True, capture_output=True,
                   timeout=30)
    made = subprocess.run([sys.executable, "-c", IMPOSTOR_SCRIPT, hsm["uri"], PIN], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    impostor_public = bytes.fromhex(made.stdout.strip())
    assert impostor_public != signing.public_key_bytes(hsm["public"])

    outcomes = []
    key = platform_token.TokenSigningKey(hsm["ref"], on_failure=outcomes.append)
    impostor = _token_dir(base / "tokens")
    with pulled_out(softhsm_tokens, tmp_path) as where:
        shutil.move(str(impostor), str(where))  # the other token goes in where the platform's was
        try:
            token.reset(hsm["ref"].module)
            # The impostor does answer under the labels (a new key object would read its key)...
            assert signing.public_key_bytes(platform_token.TokenSigningKey(hsm["ref"])) == impostor_public
            # ...but the platform's key object, pinned to its public key, refuses to sign with it.
            with pytest.raises(signing.SigningUnavailable, match="not the platform's"):
                key.sign(b"checkpoint")
            assert outcomes == ["unavailable"]
            # A process that starts now finds the impostor's key under the labels: unpinned, it
            # would take it for the platform's; pinned (PLATFORM_SIGNING_PUBLIC_KEY), it refuses.
            monkeypatch.setenv("PLATFORM_SIGNING_KEY_PIN", PIN)
            pin = signing.public_key_bytes(hsm["public"]).hex()
            _platform_signing_key.cache_clear()
            assert signing.public_key_bytes(_platform_signing_key(hsm["uri"], "", "")) == impostor_public
            with pytest.raises(signing.SigningUnavailable, match="pinned key"):
                _platform_signing_key(hsm["uri"], "", pin)
        finally:
            shutil.move(str(where), str(impostor))
            _platform_signing_key.cache_clear()
    signing.verify(hsm["public"], key.sign(b"checkpoint"), b"checkpoint")  # the right token is back
    token.reset(hsm["ref"].module)
    pinned = _platform_signing_key(hsm["uri"], "", pin)  # nothing was cached: the right one is found
    signing.verify(hsm["public"], pinned.sign(b"after"), b"after")
    _platform_signing_key.cache_clear()


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing")
def test_a_bid_completed_while_the_token_is_out_is_refused_cleanly_and_completes_once_it_is_back(
        on_token, softhsm_tokens, tmp_path, people, make_lot, bid_storage):
    from audit.keys import platform_vkey
    from audit.models import AuditCheckpoint, AuditEntry
    from bidding import storage
    from bidding.models import BidSubmission, BidUpload
    from crypto.receipt import verify_receipt
    from tests.bidding.conftest import certify, package, seal, token_client, upload

    lot = make_lot()
    alice = people["alice"]
    key, _ = certify(alice, people["host"])
    client = token_client(alice)
    env = seal(lot, alice.organisation, key, package(123456789, "ALICE"))
    vkey = platform_vkey()  # read while the token is in (the key object is cached from here on)
    checkpoints, unavailable = AuditCheckpoint.objects.count(), _failures("unavailable")
    with pulled_out(softhsm_tokens, tmp_path):
        res = upload(client, lot.pk, env)
        assert res.status_code == 503, res.content
        assert res.json()["error"] == {"code": "signing_unavailable", "temporary": True,
                                       "message": res.json()["error"]["message"]}
        assert "try again" in res.json()["error"]["message"]
        # Nothing half-done: no bid, no submitted entry, no checkpoint; the upload stays open with
        # every byte on disk, so the same complete can be sent again.
        assert not BidSubmission.objects.exists()
        assert not AuditEntry.objects.filter(action="bidding.bid.submitted").exists()
        assert AuditCheckpoint.objects.count() == checkpoints
        up = BidUpload.objects.get(organisation=alice.organisation)
        assert up.status == BidUpload.Status.OPEN and up.offset == up.size == len(env)
        assert storage.partial_path(up.pk).read_bytes() == env
        assert _failures("unavailable") > unavailable
        # The attempt is evidence: the bidder had every byte in, at this time (a console alert).
        attempt = AuditEntry.objects.get(action="bidding.bid.receipt_failed")
        assert '"code":"signing_unavailable"' in attempt.body and hashlib.sha256(env).hexdigest() in attempt.body
        from audit.alerts import classify

        assert classify(attempt.action).code == "receipt_unsigned"
        again = client.post(f"/api/v1/uploads/{up.pk}/complete")  # still out: the same answer
        assert again.status_code == 503 and again.json()["error"]["code"] == "signing_unavailable"
    res = client.post(f"/api/v1/uploads/{up.pk}/complete")  # back in, same process
    assert res.status_code == 201, res.content
    doc = client.get(f"/api/v1/lots/{lot.pk}/bid/receipt").json()
    body = verify_receipt(doc, vkey, envelope=io.BytesIO(env))
    assert body["submission"] == res.json()["id"]
    assert AuditEntry.objects.filter(action="bidding.bid.submitted").count() == 1
    assert AuditEntry.objects.filter(action="bidding.bid.receipt_failed").count() == 2  # both attempts


@pytest.mark.django_db
def test_a_page_whose_action_cannot_be_signed_is_a_clear_chinese_page_and_nothing_changes(
        on_token, world, softhsm_tokens, tmp_path):
    from evaluation.models import Draw
    from evaluation.testing import contribution
    from tests.frontend.test_evaluation_setup import open_draw, supervisor, url

    lot, host = world["lot"], world["host"]
    assert open_draw(world, **{"320100": 3, "320500": 2}).status_code == 302
    row = Draw.objects.get(lot=lot, state="committing")
    for party, client, path in (("supervisor", supervisor(world), "/evaluation/draws/"), ("host", host, url(lot))):
        _, commitment = contribution(row.pk, party)
        assert client.post(path, {"action": "commit", "target": row.pk, "commitment": commitment}).status_code == 302
    with pulled_out(softhsm_tokens, tmp_path):
        # Publishing the snapshot checkpoints the log: the page says why it failed, in Chinese.
        res = host.post(url(lot), {"action": "snapshot"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
        page = res.content.decode()
        assert res.status_code == 503
        assert "平台签名服务暂不可用" in page and "请稍后重试" in page and "signing_unavailable" in page
        assert "服务器错误" not in page and "Traceback" not in page
        row.refresh_from_db()
        assert row.state == "committing"  # rolled back: the snapshot is not published
    assert host.post(url(lot), {"action": "snapshot"}).status_code == 302  # the token back: it works
    row.refresh_from_db()
    assert row.state != "committing"


def _synchronised_clock():
    from common.clocksync import Reading, use_probe

    use_probe(lambda: Reading("chrony", True, -0.4, "Normal"))


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing", "bid_storage")
def test_the_ticker_raises_one_alert_keeps_ticking_and_checkpoints_once_the_token_is_back(
        on_token, hall, softhsm_tokens, tmp_path, monkeypatch):
    from types import SimpleNamespace

    import time_machine
    from django.core.management import call_command

    from audit.alerts import classify
    from audit.checkpoints import latest_checkpoint, verify_stored_checkpoint
    from audit.keys import platform_signing_key, platform_vkey
    from audit.models import AuditEntry
    from bidding.models import Opening
    from common import clocksync
    from realtime.management.commands import ticker

    lot = hall["lot"]
    platform_signing_key()  # made while the token is in, as in a running platform
    _synchronised_clock()
    token_out = pulled_out(softhsm_tokens, tmp_path)
    token_out.__enter__()
    seen = []

    class Stop(Exception):
        pass

    def between_rounds(_seconds):
        # After each round of the real loop: what it left, then pull or put back the token.
        seen.append({"opening": Opening.objects.filter(lot=lot).values_list("phase", flat=True).first(),
                     "alerts": AuditEntry.objects.filter(action="realtime.signing.unavailable").count(),
                     "restored": AuditEntry.objects.filter(action="realtime.signing.restored").count()})
        if len(seen) == 3:
            token_out.__exit__(None, None, None)  # the token goes back in, the ticker still running
        if len(seen) == 5:
            raise Stop

    monkeypatch.setattr(ticker, "time", SimpleNamespace(sleep=between_rounds, time=__import__("time").time))
    before = _failures("unavailable")
    try:
        with time_machine.travel(lot.bid_deadline + timedelta(seconds=5), tick=False), pytest.raises(Stop):
            call_command("ticker", "--interval", "0")
    finally:
        token_out.__exit__(None, None, None)
        clocksync.use_probe(None)
    # Rounds 1-3 with the token out: the deadline's checkpoint cannot be signed, so the opening
    # does not start; one alert, however many rounds; the loop goes on.
    assert [s["opening"] for s in seen[:3]] == ["scheduled"] * 3  # the hall is open, the bids not yet taken
    assert [s["alerts"] for s in seen] == [1, 1, 1, 1, 1]
    assert _failures("unavailable") >= before + 3
    # Round 4, the token back: the deadline applies (late, once), its checkpoint is signed by the
    # token and verifies with the platform's key; the ticker says signing is back, once.
    assert seen[3]["opening"] == "decrypting" and seen[4]["opening"] == "decrypting"
    assert [s["restored"] for s in seen] == [0, 0, 0, 1, 1]
    alert = AuditEntry.objects.get(action="realtime.signing.unavailable")
    assert classify(alert.action).level == "critical" and "bidding.opening.deadline" in alert.body
    record = latest_checkpoint()
    assert verify_stored_checkpoint(record).size == record.size
    checkpoint.open_checkpoint(record.note, checkpoint.NoteVerifier.from_vkey(platform_vkey()))
    assert signing.public_key_bytes(platform_signing_key()) == signing.public_key_bytes(on_token["public"])


def _open_the_bids(lot):
    """The deadline moved to just past, and applied: the hall is decrypting."""
    from bidding.models import Lot, Opening
    from common import clock
    from realtime.timers import run_due_timers

    now = clock.now()
    Lot.objects.filter(pk=lot.pk).update(signin_opens_at=now - timedelta(minutes=5),
                                         bid_deadline=now - timedelta(seconds=1))
    run_due_timers(now)
    return Opening.objects.get(lot=lot).phase


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fast_hashing", "bid_storage")
async def test_a_hall_command_while_the_token_is_out_gets_the_stable_error_and_works_once_it_is_back(
        on_token, hall, softhsm_tokens, tmp_path, connect):
    from channels.db import database_sync_to_async

    from audit.models import AuditEntry
    from bidding.models import Opening

    lot, people = hall["lot"], hall["people"]
    _synchronised_clock()
    try:
        assert await database_sync_to_async(_open_the_bids)(lot) == "decrypting"
    finally:
        from common.clocksync import use_probe

        use_probe(None)
    room = f"hall:{lot.pk}"
    host = await connect(people["host"])
    assert (await host.join(room))["ok"]

    def paused() -> tuple[bool, int, int]:
        from realtime.models import RoomEvent

        return (Opening.objects.get(lot=lot).paused,
                AuditEntry.objects.filter(action="bidding.opening.pause").count(),
                RoomEvent.objects.filter(room__key=room, event="hall.phase").count())

    _, _, phase_events = await database_sync_to_async(paused)()
    with pulled_out(softhsm_tokens, tmp_path):
        reply = await host.command("hall.pause", room, reason="网络故障")
        assert reply["ok"] is False, reply
        assert reply["error"]["code"] == "signing_unavailable" and reply["error"]["temporary"] is True
        # Rolled back whole: not paused, no entry, no event in the room's log.
        assert await database_sync_to_async(paused)() == (False, 0, phase_events)
    reply = await host.command("hall.pause", room, reason="网络故障")  # the token back, same process
    assert reply["ok"] is True, reply
    assert await database_sync_to_async(paused)() == (True, 1, phase_events + 1)
