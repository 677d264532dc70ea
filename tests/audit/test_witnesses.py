"""The platform pushes checkpoints to a real witness process and keeps its cosignatures; a log cut
back behind the witness's back can no longer collect one, and the console is told."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction

from audit import witnesses
from audit.checkpoints import issue_checkpoint
from audit.keys import platform_vkey
from audit.log import log_action
from common.actor import Actor
from audit.models import AuditCheckpoint, AuditCosignature, AuditEntry, AuditHead, AuditWitnessFeed
from crypto import signing
from crypto.cosignature import CosignatureVerifier

from .test_tamper import insider, recompute_everything

ROOT = Path(__file__).resolve().parents[2]
ACTOR = Actor(username="t", role="host")


def append(n, tag="x"):
    for i in range(n):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=ACTOR, data={"i": i, "tag": tag})


def start_witness(tmp_path, name="witness.test/w1"):
    key = tmp_path / f"{name.replace('/', '_')}.pem"
    key.write_bytes(signing.signing_key_to_pem(signing.generate_signing_key(), None))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "witness.server", "serve", "--name", name, "--key", str(key),
         "--state", str(tmp_path / f"{name.replace('/', '_')}.json"), "--log", platform_vkey(),
         "--port", "0"], env=env, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    vkey, url = line.split(" ")[1], line.split(" listening on ")[1].strip().rstrip("/")
    return process, vkey, url


@pytest.fixture
def witness(db, tmp_path, settings):
    process, vkey, url = start_witness(tmp_path)
    settings.AUDIT_WITNESSES = [f"{vkey} {url}"]
    settings.AUDIT_WITNESS_QUORUM = 1
    settings.AUDIT_WITNESS_GRACE = 60
    yield vkey
    process.terminate()
    process.wait(10)


def tick(now):
    feed = AuditWitnessFeed.objects.get(pk=1)
    witnesses._on_tick(feed, now)
    return feed


def test_each_checkpoint_gets_a_verified_cosignature_off_the_append_path(witness):
    append(5)
    first = issue_checkpoint("a")
    assert not first.cosignatures.exists()  # issuing only marks the timer due
    assert AuditWitnessFeed.objects.get().next_check is not None
    tick(first.created_at)
    append(4)
    second = issue_checkpoint("b")
    feed = tick(second.created_at)
    assert feed.next_check is None  # nothing left to push
    verifier = CosignatureVerifier.from_vkey(witness)
    for checkpoint in (first, second):
        cosignature = AuditCosignature.objects.get(checkpoint=checkpoint)
        assert verifier.verify(checkpoint.note + cosignature.line) == cosignature.timestamp


def test_a_truncated_log_is_refused_by_the_witness_and_the_console_told(witness):
    append(10)
    issue_checkpoint("a")
    append(5)
    seen = issue_checkpoint("b")
    tick(seen.created_at)
    assert seen.cosignatures.exists()
    # The insider cuts the log back to before checkpoint #2 — entries, rows and all, every hash
    # and the head recomputed, so audit_check finds nothing — and the log goes on from there.
    insider('DELETE FROM audit_auditentry WHERE "index" >= 11')
    insider("DELETE FROM audit_auditcosignature")
    insider("DELETE FROM audit_auditcheckpoint WHERE number >= 2")
    recompute_everything()
    from audit.verify import check_log

    assert check_log().ok and AuditHead.objects.get().size == 11
    append(7, tag="rewritten")
    after = issue_checkpoint("after the cut")
    tick(after.created_at)
    assert not after.cosignatures.exists()
    refusal = AuditEntry.objects.filter(action=witnesses.REFUSED_ACTION).get()
    # It has cosigned 17 entries; the platform's 19 do not extend them.
    assert '"from_size":17' in refusal.body and '"status":422' in refusal.body
    assert "inconsistent with the one it cosigned" in refusal.body
    # And once the grace has passed, the missing quorum is a critical alert too.
    tick(after.created_at + timedelta(seconds=61))
    tick(after.created_at + timedelta(seconds=70))
    assert AuditEntry.objects.filter(action=witnesses.QUORUM_ACTION).count() == 1


def test_a_log_cut_back_below_the_witness_is_named(witness):
    append(10)
    seen = issue_checkpoint("a")
    tick(seen.created_at)
    insider('DELETE FROM audit_auditentry WHERE "index" >= 5')
    insider("DELETE FROM audit_auditcosignature")
    insider("DELETE FROM audit_auditcheckpoint")
    recompute_everything()
    append(2, tag="rewritten")
    after = issue_checkpoint("after the cut")  # size 8, below the 11 the witness holds
    tick(after.created_at)
    refusal = AuditEntry.objects.filter(action=witnesses.REFUSED_ACTION).get()
    assert '"witness_size":11' in refusal.body and "cut back or rewritten" in refusal.body


def test_an_unreachable_witness_means_a_quorum_alert_after_the_grace(db, settings):
    from crypto.cosignature import Cosigner

    settings.AUDIT_WITNESSES = [f"{Cosigner('w.test/down', signing.generate_signing_key()).vkey} "
                                "http://127.0.0.1:9"]
    settings.AUDIT_WITNESS_QUORUM = 1
    append(2)
    checkpoint = issue_checkpoint("x")
    feed = tick(checkpoint.created_at)
    assert feed.next_check is not None  # retried
    assert not AuditEntry.objects.filter(action=witnesses.QUORUM_ACTION).exists()
    tick(checkpoint.created_at + timedelta(seconds=60))
    assert AuditEntry.objects.filter(action=witnesses.QUORUM_ACTION).count() == 1
    assert AuditCheckpoint.objects.count() == 1
