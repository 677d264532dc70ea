"""Batched sequencing (issue 6): ``AuditPending``, a queue of committed entries awaiting an index,
and on PostgreSQL ``audit_sequence(limit)``, which moves them into the tree in one short transaction.

``audit_sequence`` locks the head, takes the visible pending rows in id order (committed ones, plus
the caller's own), does for each exactly what ``audit_append`` of 0003 did for one entry — next
index, body from its canonical parts, leaf hash SHA-256(0x00 ‖ body), frontier merges
SHA-256(0x01 ‖ left ‖ right), insert the entry with the subtree hashes it completes — deletes the
pending rows, and moves the head once. ``audit_append`` (the immediate append, and batched mode's
``sequenced=True``) first sequences whatever pending entries it can see, so its own entry comes
after them. ``manage.py audit_check`` recomputes all of it in Python.

The pending table is a queue, not the log: DELETE is its normal end, but UPDATE is refused, so a
row is hashed exactly as its transaction wrote it.
"""

import importlib
from datetime import datetime, timezone

import django.db.models.functions.datetime
from django.db import migrations, models

# The timer row's due time: in the past for any clock a test may set.
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)

SEQUENCE = r"""
CREATE OR REPLACE FUNCTION audit_sequence(p_limit bigint)
RETURNS TABLE (r_pending bigint, r_index bigint, r_body text, r_leaf bytea, r_nodes bytea,
               r_queued_at timestamptz)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    v_start bigint;
    v_size bigint;
    v_frontier jsonb;
    sizes bigint[];
    hashes bytea[];
    n int;
    merged bytea;
    v_root bytea;
    p record;
    taken bigint[] := '{}';
BEGIN
    -- Nothing visible: leave the head alone (a kick that raced an earlier batch). The queue's
    -- heap is mostly dead rows between vacuums: read it through its primary key (enable_seqscan).
    PERFORM 1 FROM audit_auditpending q ORDER BY q.id LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO audit_audithead (id, size, frontier, root) VALUES (1, 0, '[]'::jsonb, ''::bytea)
        ON CONFLICT (id) DO NOTHING;
    SELECT h.size, h.frontier INTO v_size, v_frontier FROM audit_audithead h WHERE h.id = 1 FOR UPDATE;
    v_start := v_size;
    SELECT coalesce(array_agg((e->>0)::bigint ORDER BY o), '{}'),
           coalesce(array_agg(decode(e->>1, 'hex') ORDER BY o), '{}')
      INTO sizes, hashes FROM jsonb_array_elements(v_frontier) WITH ORDINALITY AS t(e, o);
    -- A new statement, so a new snapshot (READ COMMITTED): every row committed before the lock.
    FOR p IN SELECT * FROM audit_auditpending q ORDER BY q.id LIMIT p_limit LOOP
        r_pending := p.id;
        r_index := v_size;
        r_queued_at := p.queued_at;
        r_body := p.prefix || v_size::text || p.suffix;
        r_leaf := sha256('\x00'::bytea || convert_to(r_body, 'UTF8'));
        sizes := sizes || 1::bigint;
        hashes := hashes || r_leaf;
        r_nodes := ''::bytea;
        n := array_length(sizes, 1);
        WHILE n >= 2 AND sizes[n] = sizes[n - 1] LOOP
            merged := sha256('\x01'::bytea || hashes[n - 1] || hashes[n]);
            sizes := sizes[1:n - 2] || (sizes[n] * 2);
            hashes := hashes[1:n - 2] || merged;
            r_nodes := r_nodes || merged;
            n := n - 1;
        END LOOP;
        INSERT INTO audit_auditentry ("index", created_at, action, actor_id, actor_name, role,
            organisation_id, organisation_name, ip, object_type, object_id, tender_id, room, body,
            leaf_hash, nodes)
        VALUES (v_size, p.created_at, p.action, p.actor_id, p.actor_name, p.role, p.organisation_id,
            p.organisation_name, p.ip, p.object_type, p.object_id, p.tender_id, p.room, r_body,
            r_leaf, r_nodes);
        taken := taken || p.id;
        v_size := v_size + 1;
        RETURN NEXT;
    END LOOP;
    IF v_size = v_start THEN
        RETURN;
    END IF;
    DELETE FROM audit_auditpending q WHERE q.id = ANY (taken);
    n := array_length(sizes, 1);
    v_root := hashes[n];
    FOR i IN REVERSE n - 1 .. 1 LOOP
        v_root := sha256('\x01'::bytea || hashes[i] || v_root);
    END LOOP;
    SELECT coalesce(jsonb_agg(jsonb_build_array(s, encode(h, 'hex')) ORDER BY o), '[]'::jsonb)
      INTO v_frontier FROM unnest(sizes, hashes) WITH ORDINALITY AS t(s, h, o);
    UPDATE audit_audithead SET size = v_size, frontier = v_frontier, root = v_root WHERE id = 1;
END;
$$;
"""

# ``audit_append`` of 0003, sequencing any visible pending entries first (they were committed, or
# queued earlier in this transaction, before this one): one total order, and with nothing pending —
# always, in immediate mode — exactly the append of 0003, at its cost.
APPEND = importlib.import_module("audit.migrations.0003_append_function").FUNCTION.replace(
    "BEGIN\n",
    "BEGIN\n"
    "    PERFORM 1 FROM audit_auditpending q ORDER BY q.id LIMIT 1;\n"
    "    IF FOUND THEN\n"
    "        PERFORM count(*) FROM audit_sequence(NULL);\n"
    "    END IF;\n", 1).replace("LANGUAGE plpgsql AS $$", "LANGUAGE plpgsql SET enable_seqscan = off AS $$", 1)
assert "audit_sequence(NULL)" in APPEND

NO_UPDATE = """
CREATE TRIGGER audit_auditpending_no_update BEFORE UPDATE ON audit_auditpending
FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""

# Every row is deleted within milliseconds: vacuum by dead-row count, not by a share of a table
# that is nearly empty.
QUEUE_VACUUM = """
ALTER TABLE audit_auditpending SET (autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 10000, autovacuum_vacuum_insert_scale_factor = 0.0,
    autovacuum_vacuum_insert_threshold = 10000);
"""


def forwards(apps, schema_editor):
    AuditSequencer = apps.get_model("audit", "AuditSequencer")
    AuditSequencer.objects.get_or_create(pk=1, defaults={"next_check": EPOCH})
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in (SEQUENCE, APPEND, NO_UPDATE, QUEUE_VACUUM):
        schema_editor.execute(sql, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS audit_auditpending_no_update ON audit_auditpending;")
    schema_editor.execute(importlib.import_module("audit.migrations.0003_append_function").FUNCTION,
                          params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_sequence;")


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0005_console_feed_row'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditPending',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('queued_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ('created_at', models.DateTimeField()),
                ('action', models.CharField(max_length=80)),
                ('actor_id', models.BigIntegerField(null=True)),
                ('actor_name', models.CharField(blank=True, max_length=150)),
                ('role', models.CharField(blank=True, max_length=20)),
                ('organisation_id', models.BigIntegerField(null=True)),
                ('organisation_name', models.CharField(blank=True, max_length=200)),
                ('ip', models.CharField(blank=True, max_length=45)),
                ('object_type', models.CharField(blank=True, max_length=60)),
                ('object_id', models.CharField(blank=True, max_length=64)),
                ('tender_id', models.BigIntegerField(null=True)),
                ('room', models.CharField(blank=True, max_length=100)),
                ('prefix', models.TextField()),
                ('suffix', models.TextField()),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.CreateModel(
            name='AuditSequencer',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('next_check', models.DateTimeField(null=True)),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
