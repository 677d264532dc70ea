"""Batched sequencing (PostgreSQL): an entry is queued with the caller's change, and indexed after its
commit by the process's sequencer thread, the ticker (a worker that died), a checkpoint, or an
append that needs its index at once — always one gap-free total order, proofs as before.

The rest of the suite runs in "immediate" mode (pytest-django's transaction never commits, so
``on_commit`` never wakes a sequencer); these tests commit for real (``transaction=True``).
"""

import io
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit import sequencer as seq
from audit.checkpoints import issue_checkpoint, verify_stored_checkpoint
from audit.console import ROOM, feed_console
from audit.log import log_action
from audit.models import AuditEntry, AuditHead, AuditPending, AuditSequencer, ConsoleFeed
from audit.tree import consistency_proof, inclusion_proof
from common import clock
from common.actor import Actor
from crypto import merkle
from tests.bidding.conftest import bid_storage, certify, fast_hashing, package, seal, token_client, upload  # noqa: F401

ACTOR = Actor(username="tester", role="admin", ip="192.0.2.7")


@pytest.fixture
def batched(settings, postgres):
    settings.AUDIT_SEQUENCING = "batched"
    # Transactional tests before this one may have flushed the migrations' timer rows.
    AuditSequencer.objects.get_or_create(pk=1, defaults={"next_check": seq.EPOCH})
    ConsoleFeed.objects.get_or_create(pk=1, defaults={"next_check": seq.EPOCH})
    yield
    seq.sequencer.stop()


@pytest.fixture
def no_sequencer(batched, monkeypatch):
    """The worker dies between its callers' commits and sequencing: nobody is woken."""
    kicks = []
    monkeypatch.setattr(seq.sequencer, "kick", lambda: kicks.append(1))
    return kicks


def append(n, start=0, **kwargs):
    out = []
    for i in range(start, start + n):
        with transaction.atomic():
            out.append(log_action("tests.thing.happened", actor=ACTOR, object_type="tests.thing",
                                  object_id=i, data={"i": i, "amount_fen": 123456}, **kwargs))
    return out


def offline_root(size=None):
    """The root recomputed from the stored bodies alone (as the offline verifier does)."""
    bodies = AuditEntry.objects.order_by("index").values_list("body", flat=True)
    leaves = [merkle.leaf_hash(b.encode()) for b in bodies]
    return merkle.root_from_leaf_hashes(leaves[:size] if size is not None else leaves)


def indices_by_object():
    return dict(AuditEntry.objects.values_list("object_id", "index"))


@pytest.mark.django_db(transaction=True)
def test_entries_are_queued_then_indexed_in_commit_order(batched):
    sequenced_before = seq.sequencer.sequenced
    rows = append(40)
    assert all(isinstance(r, AuditPending) and not hasattr(r, "index") for r in rows)
    assert seq.wait_until_sequenced(timeout=10)
    assert indices_by_object() == {str(i): i for i in range(40)}
    head = AuditHead.objects.get()
    assert head.size == 40 and bytes(head.root) == offline_root()
    assert seq.sequencer.sequenced - sequenced_before == 40  # by this process's thread
    call_command("audit_check", "--stale-after", "0")


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_queues_nothing_and_wakes_nobody(no_sequencer):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=ACTOR)
            assert AuditPending.objects.count() == 1
            raise RuntimeError("the change failed")
    assert not AuditPending.objects.exists() and not AuditEntry.objects.exists()
    assert no_sequencer == []
    append(1)
    assert no_sequencer == [1] and AuditPending.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_entries_left_by_a_dead_worker_are_reported_then_drained_by_the_ticker(no_sequencer, capsys):
    append(5)
    assert AuditPending.objects.count() == 5 and not AuditEntry.objects.exists()
    with pytest.raises(CommandError, match="5 committed entries have waited"):
        call_command("audit_check", "--stale-after", "0")
    call_command("audit_check")  # younger than the default 5 s: not yet a problem
    call_command("ticker", "--once")
    assert not AuditPending.objects.exists()
    assert indices_by_object() == {str(i): i for i in range(5)}
    # The same tick fed the console after sequencing: every entry, once, in index order.
    from realtime.models import RoomEvent

    fed = RoomEvent.objects.filter(room__key=ROOM, event="audit.entry").order_by("seq")
    assert [e.payload["index"] for e in fed] == [0, 1, 2, 3, 4]
    call_command("audit_check", "--stale-after", "0")
    call_command("ticker", "--once")  # nothing pending: the timer is not due
    assert "applied 0" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.django_db(transaction=True)
def test_an_append_that_needs_its_index_comes_after_every_visible_pending_entry(no_sequencer):
    append(3)
    with transaction.atomic():
        entry = log_action("tests.thing.receipted", actor=ACTOR, object_id="r", sequenced=True)
        assert isinstance(entry, AuditEntry) and entry.index == 3
        assert inclusion_proof(3, 4).root == bytes(AuditHead.objects.get().root)
    assert not AuditPending.objects.exists()
    assert indices_by_object() == {"0": 0, "1": 1, "2": 2, "r": 3}
    call_command("audit_check", "--stale-after", "0")


@pytest.mark.django_db(transaction=True)
def test_the_console_feed_sees_entries_indexed_late(no_sequencer):
    append(2)
    assert feed_console(clock.now()) == 0  # queued, not in the tree: nothing to show yet
    with transaction.atomic():
        log_action("tests.thing.receipted", actor=ACTOR, object_id="r", sequenced=True)
    append(1, start=2)
    assert feed_console(clock.now()) == 3
    seq.drain()
    assert feed_console(clock.now()) == 1
    from realtime.models import RoomEvent

    fed = RoomEvent.objects.filter(room__key=ROOM, event="audit.entry").order_by("seq")
    assert [e.payload["index"] for e in fed] == [0, 1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_checkpoints_cover_pending_entries_and_proofs_over_batched_entries_verify(batched, monkeypatch):
    monkeypatch.setattr(seq.sequencer, "kick", lambda: None)
    append(7)
    with transaction.atomic():
        log_action("tests.phase.changed", actor=ACTOR, object_id="p")
        first = issue_checkpoint("phase change")  # covers the entry of its own transaction
    # 7, the phase change, and the checkpoint's record
    assert first.size == 9 and not AuditPending.objects.exists()
    monkeypatch.undo()
    append(29, start=100)
    assert seq.wait_until_sequenced(timeout=10)
    second = issue_checkpoint("later")
    assert second.size == 39
    root = verify_stored_checkpoint(second).root_hash
    assert root == offline_root() and verify_stored_checkpoint(first).root_hash == offline_root(9)
    leaves = [bytes(h) for h in AuditEntry.objects.order_by("index").values_list("leaf_hash", flat=True)]
    for index in range(39):
        merkle.verify_inclusion(leaves[index], index, 39, inclusion_proof(index, 39).hashes, root)
    merkle.verify_consistency(9, 39, consistency_proof(9, 39), bytes(first.root), root)
    call_command("audit_check", "--stale-after", "0")


@pytest.mark.django_db(transaction=True)
def test_raw_sql_edits_of_batched_entries_are_found_and_pending_rows_cannot_be_edited(batched):
    append(12)
    assert seq.wait_until_sequenced(timeout=10)
    issue_checkpoint("before")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_auditentry_append_only")
        cursor.execute("UPDATE audit_auditentry SET body = replace(body, '123456', '999999') "
                       "WHERE \"index\" = 6")
        cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_auditentry_append_only")
    with pytest.raises(CommandError, match="entry 6: its body does not hash to its stored leaf hash"):
        call_command("audit_check")
    # The queue is not the log, but what a transaction queued is what gets hashed.
    seq.sequencer.stop()
    with transaction.atomic():
        log_action("tests.thing.happened", actor=ACTOR, object_id="q")
        with pytest.raises(DatabaseError, match="append-only: UPDATE on audit_auditpending"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("UPDATE audit_auditpending SET prefix = prefix || ' '")
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_bids_in_batched_mode_get_receipts_with_proofs_and_the_archive_verifies(
        batched, people, make_lot, bid_storage, fast_hashing):  # noqa: F811
    from audit.archive import export_archive
    from audit.keys import platform_vkey
    from bidding.models import BidSubmission
    from bidding.receipts import verify_stored_receipt
    from crypto.archive import verify_archive

    lot = make_lot(max_bid_bytes=2**20)
    for who, price in (("alice", 100_000_00), ("bob", 95_000_00)):
        key, _ = certify(people[who], people["host"])
        res = upload(token_client(people[who]), lot.pk, seal(lot, people[who].organisation, key,
                                                              package(price, who)))
        assert res.status_code == 201, res.content
    assert seq.wait_until_sequenced(timeout=10)
    for submission in BidSubmission.objects.filter(lot=lot):
        verify_stored_receipt(submission)
        entry = AuditEntry.objects.get(index=submission.audit_index)
        assert entry.action == "bidding.bid.submitted" and entry.object_id == str(submission.pk)
    result = verify_archive(io.BytesIO(_export(export_archive, lot)), vkey=platform_vkey())
    assert any("2 receipts verified" in line for line in result.lines)
    assert AuditHead.objects.get().size == AuditEntry.objects.count()
    call_command("audit_check", "--stale-after", "0")


def _export(export_archive, lot) -> bytes:
    buffer = io.BytesIO()
    export_archive(buffer, lot=lot)
    return buffer.getvalue()


@pytest.mark.django_db
def test_an_immediate_append_sequences_what_its_transaction_queued_first(settings, postgres):
    settings.AUDIT_SEQUENCING = "batched"
    queued = log_action("tests.thing.happened", actor=ACTOR, object_id="queued")
    assert isinstance(queued, AuditPending)
    settings.AUDIT_SEQUENCING = "immediate"  # e.g. a worker of the other mode, mid-deploy
    entry = log_action("tests.thing.happened", actor=ACTOR, object_id="now")
    assert indices_by_object() == {"queued": 0, "now": 1} and entry.index == 1
    assert not AuditPending.objects.exists()


@pytest.mark.django_db
def test_the_mode_is_checked_and_sqlite_always_appends_immediately(settings):
    settings.AUDIT_SEQUENCING = "sometimes"
    with pytest.raises(ImproperlyConfigured, match="AUDIT_SEQUENCING"):
        log_action("tests.thing.happened", actor=ACTOR)
    settings.AUDIT_SEQUENCING = "batched"
    result = log_action("tests.thing.happened", actor=ACTOR)
    if connection.vendor == "postgresql":
        assert isinstance(result, AuditPending)
    else:
        assert isinstance(result, AuditEntry) and result.index == 0


@pytest.mark.django_db(transaction=True)
def test_the_batch_interval_spaces_the_batches_and_loses_nothing(batched, settings):
    settings.AUDIT_SEQUENCER_INTERVAL_MS = 150
    batches_before = seq.sequencer.batches
    started = time.monotonic()
    append(30)
    assert seq.wait_until_sequenced(timeout=20)
    elapsed = time.monotonic() - started
    assert indices_by_object() == {str(i): i for i in range(30)}
    # Batch starts are at least 150 ms apart: however the commits fall, no more than this many.
    assert 1 <= seq.sequencer.batches - batches_before <= 1 + elapsed / 0.150 + 1


@pytest.mark.parametrize("value", [-1, 1001, 2.5, "10"])
def test_the_batch_interval_is_checked(settings, value):
    settings.AUDIT_SEQUENCER_INTERVAL_MS = value
    with pytest.raises(ImproperlyConfigured, match="AUDIT_SEQUENCER_INTERVAL_MS"):
        seq.min_interval()


@pytest.mark.django_db(transaction=True)
def test_a_wake_up_whose_entries_another_batch_took_runs_no_batch_and_loses_nothing(no_sequencer, monkeypatch):
    """Each worker's sequencer sequences every committed entry it sees. One woken for entries that
    another process's batch already took skips its batch; one with any of its entries still
    pending runs it (and takes the others' too)."""
    calls = []
    real = seq.sequence_pending
    monkeypatch.setattr(seq, "sequence_pending", lambda limit=seq.BATCH: calls.append(limit) or real(limit))
    worker = seq.Sequencer()  # this process's thread stays stopped: we call its drain directly
    mine = append(3)
    for row in mine:
        worker.note(row.pk)
    seq.drain()  # "another process" sequences them first
    calls.clear()
    worker._drain_once()
    assert (worker.skipped, calls) == (1, [])
    mine = append(2, start=3)
    others = append(2, start=5)  # queued by no note of this worker
    worker.note(mine[-1].pk)
    worker._drain_once()
    assert worker.skipped == 1 and calls == [seq.BATCH] and worker.sequenced == 4
    assert AuditPending.objects.count() == 0 and indices_by_object() == {str(i): i for i in range(7)}
    assert others[-1].pk > mine[-1].pk
    fresh = seq.Sequencer()  # nothing noted (e.g. only kicked): never skips
    append(1, start=7)
    fresh._drain_once()
    assert fresh.skipped == 0 and fresh.sequenced == 1
