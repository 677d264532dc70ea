"""PostgreSQL: ``audit_append(...)``, the whole append in one round trip under the head lock.

It does exactly what ``audit.log.log_action`` does in Python on other databases — assign the next
index, build the body from its canonical parts, hash the leaf (SHA-256 of 0x00 ‖ body), merge the
frontier (SHA-256 of 0x01 ‖ left ‖ right), insert the entry with the subtree hashes it completes,
and move the head — and ``manage.py audit_check`` recomputes all of it in Python.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION audit_append(
    p_created_at timestamptz, p_action varchar, p_actor_id bigint, p_actor_name varchar,
    p_role varchar, p_organisation_id bigint, p_organisation_name varchar, p_ip varchar,
    p_object_type varchar, p_object_id varchar, p_tender_id bigint, p_room varchar,
    p_prefix text, p_suffix text,
    OUT idx bigint, OUT body text, OUT leaf bytea, OUT nodes bytea)
LANGUAGE plpgsql AS $$
DECLARE
    sizes bigint[];
    hashes bytea[];
    n int;
    merged bytea;
    v_root bytea;
    v_frontier jsonb;
BEGIN
    INSERT INTO audit_audithead (id, size, frontier, root) VALUES (1, 0, '[]'::jsonb, ''::bytea)
        ON CONFLICT (id) DO NOTHING;
    SELECT h.size, h.frontier INTO idx, v_frontier FROM audit_audithead h WHERE h.id = 1 FOR UPDATE;
    SELECT coalesce(array_agg((e->>0)::bigint ORDER BY o), '{}'),
           coalesce(array_agg(decode(e->>1, 'hex') ORDER BY o), '{}')
      INTO sizes, hashes FROM jsonb_array_elements(v_frontier) WITH ORDINALITY AS t(e, o);
    body := p_prefix || idx::text || p_suffix;
    leaf := sha256('\x00'::bytea || convert_to(body, 'UTF8'));
    sizes := sizes || 1::bigint;
    hashes := hashes || leaf;
    nodes := ''::bytea;
    n := array_length(sizes, 1);
    WHILE n >= 2 AND sizes[n] = sizes[n - 1] LOOP
        merged := sha256('\x01'::bytea || hashes[n - 1] || hashes[n]);
        sizes := sizes[1:n - 2] || (sizes[n] * 2);
        hashes := hashes[1:n - 2] || merged;
        nodes := nodes || merged;
        n := n - 1;
    END LOOP;
    v_root := hashes[n];
    FOR i IN REVERSE n - 1 .. 1 LOOP
        v_root := sha256('\x01'::bytea || hashes[i] || v_root);
    END LOOP;
    INSERT INTO audit_auditentry ("index", created_at, action, actor_id, actor_name, role,
        organisation_id, organisation_name, ip, object_type, object_id, tender_id, room, body,
        leaf_hash, nodes)
    VALUES (idx, p_created_at, p_action, p_actor_id, p_actor_name, p_role, p_organisation_id,
        p_organisation_name, p_ip, p_object_type, p_object_id, p_tender_id, p_room, body, leaf, nodes);
    SELECT coalesce(jsonb_agg(jsonb_build_array(s, encode(h, 'hex')) ORDER BY o), '[]'::jsonb)
      INTO v_frontier FROM unnest(sizes, hashes) WITH ORDINALITY AS t(s, h, o);
    UPDATE audit_audithead SET size = idx + 1, frontier = v_frontier, root = v_root WHERE id = 1;
END;
$$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_append;")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
