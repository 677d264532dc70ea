"""The stored audit log: gap-free, proofs from the database, signed checkpoints, tamper detection."""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from audit.checkpoints import issue_checkpoint, verify_stored_checkpoint
from audit.keys import note_signer
from audit.log import log_action
from audit.models import AuditEntry, AuditHead
from audit.tree import consistency_proof, inclusion_proof
from common.actor import Actor
from crypto import merkle
from crypto.checkpoint import CheckpointError, open_checkpoint

ACTOR = Actor(username="tester", role="admin", ip="192.0.2.7")


def append(n, start=0):
    for i in range(start, start + n):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=ACTOR, object_type="tests.thing", object_id=i,
                       data={"i": i, "amount_fen": 123456})


def stored_leaves():
    return [bytes(h) for h in AuditEntry.objects.order_by("index").values_list("leaf_hash", flat=True)]


@pytest.mark.django_db
def test_entries_are_gap_free_and_the_head_root_is_the_rfc6962_root():
    append(37)
    assert list(AuditEntry.objects.values_list("index", flat=True)) == list(range(37))
    head = AuditHead.objects.get()
    assert head.size == 37
    assert bytes(head.root) == merkle.root_from_leaf_hashes(stored_leaves())
    entry = AuditEntry.objects.get(index=5)
    assert entry.ip == "192.0.2.7" and '"amount_fen":123456' in entry.body


@pytest.mark.django_db
def test_proofs_from_the_database_verify():
    append(37)
    leaves = stored_leaves()
    for size in (1, 2, 3, 8, 13, 37):
        root = merkle.root_from_leaf_hashes(leaves[:size])
        for index in range(size):
            proof = inclusion_proof(index, size)
            assert proof.root == root
            merkle.verify_inclusion(leaves[index], index, size, proof.hashes, root)
        for m in range(1, size + 1):
            merkle.verify_consistency(m, size, consistency_proof(m, size),
                                      merkle.root_from_leaf_hashes(leaves[:m]), root)


@pytest.mark.django_db
def test_an_action_code_must_be_namespaced():
    with pytest.raises(ValueError):
        log_action("happened", actor=ACTOR)


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_entry_and_no_gap():
    append(2)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=ACTOR)
            raise RuntimeError("the change failed")
    append(1, start=2)
    assert list(AuditEntry.objects.values_list("index", flat=True)) == [0, 1, 2]


@pytest.mark.django_db
def test_checkpoints_are_signed_notes_of_the_tree_head():
    append(5)
    record = issue_checkpoint("test")
    checkpoint = verify_stored_checkpoint(record)
    # The tree it signs ends with the checkpoint's own record.
    assert AuditEntry.objects.get(index=5).action == "audit.checkpoint.issued" and record.number == 1
    assert checkpoint.size == 6 and checkpoint.root_hash == merkle.root_from_leaf_hashes(stored_leaves())
    note = record.note
    for i in range(len(note)):
        flipped = note[:i] + chr(ord(note[i]) ^ 1) + note[i + 1:]
        with pytest.raises(CheckpointError):
            open_checkpoint(flipped, note_signer().verifier)


@pytest.mark.django_db
def test_the_check_passes_on_an_untouched_log(capsys):
    append(20)
    issue_checkpoint("a")
    append(9, start=20)
    issue_checkpoint("b")
    call_command("audit_check")
    out = capsys.readouterr().out
    # 29 entries and the two checkpoints' records.
    assert "entries checked: 31" in out and "checkpoints verified: 2 (2 recorded" in out and "OK" in out


def _edit_behind_the_application(sql, params):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_auditentry_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_auditentry_append_only")


@pytest.mark.django_db
@pytest.mark.parametrize("how, first", [
    ("body", 6),      # the hashed text changed
    ("column", 6),    # a filter column changed, the body not
    ("rehash", 6),    # body and leaf hash changed consistently: the checkpoint catches it
])
def test_raw_sql_edits_are_found_and_the_first_bad_entry_named(how, first):
    append(12)
    issue_checkpoint("before")
    entry = AuditEntry.objects.get(index=6)
    if how == "body":
        _edit_behind_the_application("UPDATE audit_auditentry SET body = %s WHERE \"index\" = 6",
                                     [entry.body.replace("123456", "999999")])
    elif how == "column":
        _edit_behind_the_application("UPDATE audit_auditentry SET ip = %s WHERE \"index\" = 6",
                                     ["10.0.0.1"])
    else:
        body = entry.body.replace("123456", "999999")
        _edit_behind_the_application(
            "UPDATE audit_auditentry SET body = %s, leaf_hash = %s WHERE \"index\" = 6",
            [body, merkle.leaf_hash(body.encode())])
    with pytest.raises(CommandError) as info:
        call_command("audit_check")
    message = str(info.value)
    if how == "rehash":
        # The leaf is self-consistent now, but entry 7 carries the old level-1 node over it.
        assert "entry 7: the subtree hashes it carries differ" in message
    else:
        assert f"entry {first}:" in message


@pytest.mark.django_db
def test_a_deleted_entry_is_found():
    append(8)
    _edit_behind_the_application("DELETE FROM audit_auditentry WHERE \"index\" = 3", [])
    with pytest.raises(CommandError, match="entry 3 is missing"):
        call_command("audit_check")


def test_the_database_refuses_updates_and_deletes(postgres):
    from django.db.utils import DatabaseError

    append(2)
    issue_checkpoint("x")
    for sql in ("UPDATE audit_auditentry SET action = 'x'", "DELETE FROM audit_auditentry",
                "UPDATE audit_auditcheckpoint SET size = 0", "DELETE FROM audit_auditcheckpoint"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["immediate", "batched"])
def test_concurrent_writers_get_unique_gap_free_indices(postgres, settings, mode):
    from audit.sequencer import sequencer, wait_until_sequenced

    settings.AUDIT_SEQUENCING = mode
    writers, each = 50, 200
    errors = []

    def work(w):
        try:
            for i in range(each):
                with transaction.atomic():
                    log_action("tests.thing.happened", actor=ACTOR, object_id=f"{w}-{i}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wait_until_sequenced(timeout=60)
    finally:
        sequencer.stop()
    assert not errors
    rows = list(AuditEntry.objects.order_by("index").values_list("index", "object_id", "body"))
    assert [index for index, _, _ in rows] == list(range(writers * each))
    # Each writer committed its entries one after another: they are indexed in that order.
    for w in range(writers):
        mine = [int(o.split("-")[1]) for _, o, _ in rows if o.startswith(f"{w}-")]
        assert mine == list(range(each))
    # The root recomputed offline from the bodies alone is the head's.
    offline = merkle.root_from_leaf_hashes([merkle.leaf_hash(body.encode()) for _, _, body in rows])
    assert bytes(AuditHead.objects.get().root) == offline == merkle.root_from_leaf_hashes(stored_leaves())
    call_command("audit_check", "--stale-after", "0")
