"""The sink's own metadata tables (see docs/DESIGN.md), updated in the data's transaction.

`_pw_duckdb_sink_tables` has one row per destination table; `_pw_duckdb_sink_commits`
one row per committed minibatch. Both are written inside the writer's transaction, so
they are never ahead of nor behind the data.

`persisted` in a commit row says whether its run restored from Pathway persistence: only such
commits can be held by a restored session (read_baseline's exclude_writer). Files written
before the column existed get it added, NULL (unknown) in their old rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from ._sql import quote_ident

TABLES = "_pw_duckdb_sink_tables"
COMMITS = "_pw_duckdb_sink_commits"

_CREATE = [
    f"""CREATE TABLE IF NOT EXISTS {quote_ident(TABLES)} (
        table_name   VARCHAR PRIMARY KEY,
        kind         VARCHAR NOT NULL,
        primary_key  VARCHAR[],
        writer_name  VARCHAR,
        last_time    BIGINT,
        rows_written BIGINT NOT NULL,
        updated_at   TIMESTAMP NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {quote_ident(COMMITS)} (
        table_name   VARCHAR NOT NULL,
        writer_name  VARCHAR,
        time         BIGINT NOT NULL,
        rows         BIGINT NOT NULL,
        committed_at TIMESTAMP NOT NULL,
        persisted    BOOLEAN
    )""",
]


def upgrade_commits(con: duckdb.DuckDBPyConnection) -> None:
    """Add the `persisted` column to a commits table of an older file (a no-op once there)."""
    con.execute(f"ALTER TABLE {quote_ident(COMMITS)} ADD COLUMN IF NOT EXISTS persisted BOOLEAN")


def commits_have_persisted(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the commits table records `persisted` (read-only readers cannot add it)."""
    return con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ? AND column_name = 'persisted'", [COMMITS]).fetchall()[0][0] > 0


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the metadata tables if missing."""
    for stmt in _CREATE:
        con.execute(stmt)
    upgrade_commits(con)


def register_table(con: duckdb.DuckDBPyConnection, *, table_name: str, kind: str,
                   primary_key: Sequence[str] | None, writer_name: str | None,
                   reset: bool) -> None:
    """Record the destination at start-up; `reset` (a replaced table) zeroes its counters."""
    con.execute(
        f"""INSERT INTO {quote_ident(TABLES)} VALUES (?, ?, ?, ?, NULL, 0, now()::TIMESTAMP)
        ON CONFLICT (table_name) DO UPDATE SET kind = excluded.kind,
            primary_key = excluded.primary_key, writer_name = excluded.writer_name,
            updated_at = excluded.updated_at""",
        [table_name, kind, list(primary_key) if primary_key else None, writer_name],
    )
    if reset:
        con.execute(
            f"UPDATE {quote_ident(TABLES)} SET last_time = NULL, rows_written = 0 WHERE table_name = ?",
            [table_name])
        con.execute(f"DELETE FROM {quote_ident(COMMITS)} WHERE lower(table_name) = lower(?)", [table_name])


def record_commit(con: duckdb.DuckDBPyConnection, *, table_name: str, writer_name: str | None,
                  time: int, rows: int, persisted: bool) -> None:
    """Inside the minibatch's transaction: one commit row and the table's running totals."""
    con.execute(
        f"INSERT INTO {quote_ident(COMMITS)} (table_name, writer_name, time, rows, committed_at, persisted) "
        "VALUES (?, ?, ?, ?, now()::TIMESTAMP, ?)",
        [table_name, writer_name, time, rows, persisted])
    con.execute(
        f"""UPDATE {quote_ident(TABLES)} SET last_time = ?, rows_written = rows_written + ?,
            writer_name = ?, updated_at = now()::TIMESTAMP WHERE table_name = ?""",
        [time, rows, writer_name, table_name])


def read_tables(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every registered destination, as dicts (empty if the sink never wrote here)."""
    if not table_exists(con, TABLES):
        return []
    cur = con.execute(f"SELECT * FROM {quote_ident(TABLES)} ORDER BY table_name")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def read_commits(con: duckdb.DuckDBPyConnection, table_name: str,
                 writer_name: str | None = None) -> list[dict]:
    """The commits that landed in `table_name` (optionally of one writer), oldest first."""
    if not table_exists(con, COMMITS):
        return []
    sql = f"SELECT * FROM {quote_ident(COMMITS)} WHERE lower(table_name) = lower(?)"
    params: list = [table_name]
    if writer_name is not None:
        sql += " AND writer_name = ?"
        params.append(writer_name)
    cur = con.execute(sql + " ORDER BY time", params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def committed_writers(con: duckdb.DuckDBPyConnection, table_name: str) -> list[str]:
    """The names of the writers that committed to `table_name` (ignoring case, as DuckDB does)."""
    if not table_exists(con, COMMITS):
        return []
    return [n for (n,) in con.execute(
        f"SELECT DISTINCT writer_name FROM {quote_ident(COMMITS)} WHERE lower(table_name) = lower(?) "
        "AND writer_name IS NOT NULL ORDER BY 1", [table_name]).fetchall()]


def registered_kind(con: duckdb.DuckDBPyConnection, table_name: str) -> str | None:
    """The kind the sink registered `table_name` with (names compared ignoring case, as DuckDB
    resolves them), or None if the sink never wrote it."""
    for entry in read_tables(con):
        if entry["table_name"].lower() == table_name.lower():
            return entry["kind"]
    return None


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the current schema has a table (or view) named exactly `name`."""
    return con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_name = ?", [name]).fetchall()[0][0] > 0  # fetchall: no result left open
