"""Server-side prepared statements on Django's connection, for the log's hot paths (the queue's
INSERT of every batched append, the sequencer's call of every batch).

Django's PostgreSQL cursors bind client-side: each call sends the statement as text with its
parameters quoted in, and PostgreSQL parses and plans it anew. Here it is parsed and planned once
per connection, and the parameters travel bound. Same connection, so the same transaction (or
autocommit) as ``connection.cursor()``; errors are Django's, as through it.
"""

from __future__ import annotations

from django.db import connection


def execute_prepared(sql: str, params: list, *, all_rows: bool = False):
    """Run ``sql`` (``%s`` placeholders) prepared; its first row, or every row with ``all_rows``."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors:
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall() if all_rows else cursor.fetchone()
