"""What sequencing an entry writes besides the row: one b-tree per filtered column and no
pattern-matching (``varchar_pattern_ops``) twin that no query uses (issue 12: each index is paid
for by every entry at the append rate)."""

from __future__ import annotations

import pytest


@pytest.mark.needs_postgres
def test_the_entries_filtered_columns_have_one_plain_index_each(postgres):
    with postgres.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_auditentry'")
        indexes = dict(cursor.fetchall())
    for column in ("object_type", "object_id", "room"):
        on_column = [d for d in indexes.values() if d.endswith(f"({column})") or f"({column} " in d]
        assert len(on_column) == 1, (column, on_column)
        assert "pattern_ops" not in on_column[0], on_column
    # The action keeps its pattern index: the API's ?action= filter is a prefix (startswith).
    assert any("(action varchar_pattern_ops)" in d for d in indexes.values()), indexes


def test_no_query_filters_those_columns_by_pattern():
    """The plain indexes are enough only while nothing filters these columns with LIKE."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"\b(object_type|object_id|room)__i?(startswith|endswith|contains|regex)\b")
    found = [f"{p}:{n}" for p in root.glob("*/**/*.py") if ".venv" not in p.parts and "tests" not in p.parts
             for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if pattern.search(line)]
    assert not found, found
