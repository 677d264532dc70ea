"""The tamper matrix for ``audit_check``, done as an insider would: raw SQL past the append-only
triggers, every hash the attacker can compute recomputed, notes re-signed with a key of their own.
Each forgery must fail the check *because of* the tampering, with a finding that names it."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit.checkpoints import issue_checkpoint
from audit.log import log_action
from common.actor import Actor
from audit.models import AuditCheckpoint, AuditEntry, AuditHead
from audit.verify import check_log, frontier_rows
from crypto import merkle, signing
from crypto.checkpoint import Checkpoint, NoteSigner

HOST = Actor(user_id=5, username="host1", role="host", organisation_id=3, organisation_name="甲代理公司",
             ip="192.0.2.1")
TENDER = 7


def insider(sql, params=()):
    """Run SQL as the database owner would: with the append-only triggers off."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")


def recompute_everything():
    """What an insider without the platform key can redo: every leaf hash and stored node from the
    bodies as they now are, the head, and every checkpoint's root column."""
    builder, roots = merkle.TreeBuilder(), {0: merkle.EMPTY_ROOT}
    for index, body in AuditEntry.objects.order_by("index").values_list("index", "body"):
        leaf = merkle.leaf_hash(body.encode())
        nodes = builder.append(leaf)
        insider('UPDATE audit_auditentry SET leaf_hash = %s, nodes = %s WHERE "index" = %s',
                [leaf, b"".join(nodes), index])
        roots[builder.size] = builder.root()
    AuditHead.objects.filter(pk=1).update(size=builder.size, frontier=frontier_rows(builder),
                                          root=builder.root())
    for pk, size in AuditCheckpoint.objects.values_list("pk", "size"):
        if size in roots:
            insider("UPDATE audit_auditcheckpoint SET root = %s WHERE id = %s", [roots[size], pk])


def rewrite_body(index, old, new):
    body = AuditEntry.objects.get(index=index).body
    assert old in body
    insider('UPDATE audit_auditentry SET body = %s WHERE "index" = %s', [body.replace(old, new), index])


def remove_entry(index):
    """Delete one entry and move every later one down by one, bodies renumbered: no gap left."""
    later = list(AuditEntry.objects.filter(index__gt=index).order_by("index"))
    insider('DELETE FROM audit_auditentry WHERE "index" >= %s', [index])
    for entry in later:
        entry.body = entry.body.replace(f'"index":{entry.index},', f'"index":{entry.index - 1},', 1)
        entry.index -= 1
        entry.save(force_insert=True)


def resign_with_a_fresh_key():
    signer = NoteSigner(AuditCheckpoint.objects.first().note.split("\n", 1)[0], signing.generate_signing_key())
    for pk, size, root in AuditCheckpoint.objects.values_list("pk", "size", "root"):
        note = signer.sign(Checkpoint(signer.name, size, bytes(root)).to_body())
        insider("UPDATE audit_auditcheckpoint SET note = %s WHERE id = %s", [note, pk])


def resign_with_the_platform_key():
    """What an insider holding the platform's own key does after rewriting: every note re-signed
    over the recomputed roots."""
    from audit.keys import note_signer

    signer = note_signer()
    for pk, size, root in AuditCheckpoint.objects.values_list("pk", "size", "root"):
        note = signer.sign(Checkpoint(signer.name, size, bytes(root)).to_body())
        insider("UPDATE audit_auditcheckpoint SET note = %s WHERE id = %s", [note, pk])


def append(n, tender=None):
    for i in range(n):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=HOST, object_type="tests.thing", object_id=i,
                       tender_id=tender, data={"i": i, "amount_fen": 123456})


@pytest.fixture
def log(db):
    """Entries 0..5, checkpoint #1 (record 6, size 7); 7..11 of tender 7, #2 (record 12, size 13);
    13..16, #3 (record 17, size 18); then 18..19 not yet in a checkpoint."""
    append(6)
    issue_checkpoint("one")
    append(5, tender=TENDER)
    issue_checkpoint("two")
    append(4, tender=TENDER)
    issue_checkpoint("three")
    append(2)
    report = check_log()
    assert report.ok, report.problems  # untouched, it passes: what fails below is the tampering
    assert (report.entries, report.checkpoints, report.records) == (20, 3, 3)


def codes(report):
    return {p.code for p in report.problems}


def messages(report):
    return "\n".join(p.message for p in report.problems)


def later_hour(column):
    def tamper():
        value = AuditEntry.objects.values_list(column, flat=True).get(index=8) + timedelta(hours=1)
        insider(f'UPDATE audit_auditentry SET {column} = %s WHERE "index" = 8', [value])
    return tamper


def set_column(column, value):
    return lambda: insider(f'UPDATE audit_auditentry SET {column} = %s WHERE "index" = 8', [value])


def _frontier_edited():
    head = AuditHead.objects.get()
    frontier = head.frontier
    frontier[0][1] = "00" * 32
    AuditHead.objects.filter(pk=1).update(frontier=frontier)


def _body_rewritten_and_rehashed():
    rewrite_body(9, '"amount_fen":123456', '"amount_fen":100')
    recompute_everything()


def _rewritten_and_resigned():
    _body_rewritten_and_rehashed()
    resign_with_a_fresh_key()


def _tender_entry_removed():
    remove_entry(9)
    recompute_everything()


def _tail_cut_checkpoints_kept():
    insider('DELETE FROM audit_auditentry WHERE "index" >= 15')
    recompute_everything()


CASES = [
    ("every checkpoint but the first deleted",
     lambda: insider("DELETE FROM audit_auditcheckpoint WHERE number > 1"),
     "checkpoint_missing", r"checkpoint #2 is missing: the log records it at entry 12"),
    ("a middle checkpoint deleted", lambda: insider("DELETE FROM audit_auditcheckpoint WHERE number = 2"),
     "checkpoint_missing", r"checkpoint #2 is missing"),
    ("created_at edited", later_hour("created_at"), "entry_column", r"entry 8: column created_at is"),
    ("role edited", set_column("role", "supervisor"), "entry_column",
     r"entry 8: column role is 'supervisor', but the hashed body says 'host'"),
    ("organisation_id edited", set_column("organisation_id", 4), "entry_column",
     r"entry 8: column organisation_id is 4, but the hashed body says 3"),
    ("organisation_name edited", set_column("organisation_name", "乙公司"), "entry_column",
     r"entry 8: column organisation_name is '乙公司'"),
    ("actor_name edited", set_column("actor_name", "someone"), "entry_column", r"entry 8: column actor_name"),
    ("tender_id edited", set_column("tender_id", 8), "entry_column", r"entry 8: column tender_id is 8"),
    ("action edited", set_column("action", "tests.thing.other"), "entry_column", r"entry 8: column action"),
    ("stored nodes edited", lambda: insider('UPDATE audit_auditentry SET nodes = %s WHERE "index" = 9',
                                            [b"\x00" * 32]),
     "entry_nodes", r"entry 9: the subtree hashes it carries differ"),
    ("the head's frontier edited", _frontier_edited, "head_frontier", r"the head's frontier differs"),
    ("the head's root edited", lambda: AuditHead.objects.filter(pk=1).update(root=b"\x01" * 32),
     "head_root", r"the head's root differs"),
    ("a checkpoint's size column edited",
     lambda: insider("UPDATE audit_auditcheckpoint SET size = 12 WHERE number = 2"),
     "checkpoint_row", r"checkpoint #2: the size column says 12, its signed note 13"),
    ("a body rewritten, every hash and checkpoint root column recomputed", _body_rewritten_and_rehashed,
     "checkpoint_root", r"checkpoint #2 \(size 13\): its signed root differs from the tree recomputed"),
    ("a body rewritten, rehashed, and the notes re-signed with a fresh key", _rewritten_and_resigned,
     "checkpoint_signature", r"checkpoint #1 \(size 7\): its note does not verify with the platform key"),
    ("a tender's entry deleted, later ones renumbered and every hash recomputed", _tender_entry_removed,
     "record_tenders", r"entry 11: checkpoint record #2 states tender entry counts that differ from "
                       r"the log for tenders 7"),
    ("the last entries deleted, their checkpoints kept", _tail_cut_checkpoints_kept,
     "checkpoint_beyond", r"checkpoint #3 signs size 18, but the log holds 15 entries"),
    ("an entry deleted, leaving a gap", lambda: insider('DELETE FROM audit_auditentry WHERE "index" = 4'),
     "entry_missing", r"entry 4 is missing \(the next stored entry is 5\)"),
]


@pytest.mark.parametrize("name, tamper, code, message", CASES, ids=[c[0] for c in CASES])
def test_audit_check_names_each_forgery(log, name, tamper, code, message):
    tamper()
    report = check_log()
    assert code in codes(report), messages(report)
    assert any(__import__("re").search(message, p.message) for p in report.problems), messages(report)


def test_the_command_lists_findings_and_speaks_json(log, capsys):
    set_column("role", "supervisor")()
    insider("DELETE FROM audit_auditcheckpoint WHERE number = 3")
    with pytest.raises(CommandError, match="FAILED: 2 problems"):
        call_command("audit_check")
    out = capsys.readouterr().out
    assert "PROBLEM [entry_column] entry 8: column role" in out
    assert "PROBLEM [checkpoint_missing] checkpoint #3 is missing" in out
    with pytest.raises(CommandError):
        call_command("audit_check", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and {p["code"] for p in report["problems"]} == {"entry_column",
                                                                              "checkpoint_missing"}


def test_the_tickers_incremental_check_raises_one_console_alert(log):
    from audit.alerts import classify
    from audit.integrity import ALERT_ACTION, run_check
    from audit.models import AuditCheckState
    from common import clock

    state = AuditCheckState.objects.get()
    assert run_check(state, clock.now()).ok and state.size == 20 and state.record_number == 3
    append(3)
    issue_checkpoint("four")
    assert run_check(state, clock.now()).ok and state.size == 24
    # An old entry rewritten, every hash recomputed: the head no longer matches the check's frontier.
    _body_rewritten_and_rehashed()
    report = run_check(state, clock.now())
    assert "head_root" in codes(report), messages(report)
    run_check(state, clock.now())  # the same finding: no second alert
    alerts = AuditEntry.objects.filter(action=ALERT_ACTION)
    assert alerts.count() == 1 and classify(ALERT_ACTION).level == "critical"
    assert "the head's root differs" in alerts.get().body


def test_the_incremental_check_names_a_deleted_checkpoint(log):
    from audit.integrity import check_increment
    from audit.models import AuditCheckState

    state = AuditCheckState.objects.get()
    insider("DELETE FROM audit_auditcheckpoint WHERE number = 2")
    report = check_increment(state)
    assert "checkpoint_missing" in codes(report) and state.size == 0  # not advanced past it
