"""Identifier quoting and every SQL statement the writer issues, in one place.

Values never appear in this module: they are bound with ``?`` or passed as Arrow data.
Only identifiers are spliced in, always through :func:`quote_ident`.
"""

from __future__ import annotations

from collections.abc import Sequence


def quote_ident(name: str) -> str:
    """Quote ``name`` as a DuckDB identifier (a double quote inside is doubled)."""
    return '"' + name.replace('"', '""') + '"'


def column_list(names: Sequence[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


def create_table(table: str, columns: Sequence[tuple[str, str, bool]], primary_key: Sequence[str] | None,
                 *, replace: bool = False) -> str:
    """CREATE TABLE for ``columns`` given as (name, duckdb type, nullable)."""
    parts = [f"{quote_ident(n)} {t}{'' if nullable else ' NOT NULL'}" for n, t, nullable in columns]
    if primary_key:
        parts.append(f"PRIMARY KEY ({column_list(primary_key)})")
    head = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
    return f"{head} {quote_ident(table)} ({', '.join(parts)})"


def table_kind() -> str:
    """The kind ('BASE TABLE', 'VIEW', ...) of a relation in the main schema, or no row.

    Names compare ignoring case, as DuckDB resolves them (even quoted): "Orders" is orders."""
    return ("SELECT table_type FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND lower(table_name) = lower(?)")


def table_columns() -> str:
    """Columns of a table: name, nullability, whether they have a default, DuckDB type."""
    return ("SELECT column_name, is_nullable = 'YES', column_default IS NOT NULL, data_type "
            "FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND lower(table_name) = lower(?) "
            "ORDER BY ordinal_position")


def create_stage(stage: str, source: str) -> str:
    """A temporary table holding a snapshot minibatch that arrives in several chunks."""
    return f"CREATE OR REPLACE TEMP TABLE {quote_ident(stage)} AS SELECT * FROM {quote_ident(source)}"


def append_stage(stage: str, source: str) -> str:
    return f"INSERT INTO {quote_ident(stage)} SELECT * FROM {quote_ident(source)}"


def drop_stage(stage: str) -> str:
    return f"DROP TABLE IF EXISTS {quote_ident(stage)}"


def set_dynamic_or_filter_threshold() -> str:
    """For this connection only; the value is bound."""
    return "SET SESSION dynamic_or_filter_threshold = ?"


def reset_dynamic_or_filter_threshold() -> str:
    return "RESET SESSION dynamic_or_filter_threshold"


def estimated_rows() -> str:
    """DuckDB's row count estimate of a table (from its metadata, no scan)."""
    return ("SELECT estimated_size FROM duckdb_tables() "
            "WHERE schema_name = current_schema() AND lower(table_name) = lower(?)")


def snapshot_delete(table: str, source: str, key: Sequence[str], diff_col: str) -> str:
    """Delete the keys whose changes in the minibatch are all retractions.

    Keys with at least one insertion are upserted instead, never deleted then re-inserted:
    DuckDB's index refuses a delete and re-insert of one key inside one transaction.
    """
    keys = column_list(key)
    return (f"DELETE FROM {quote_ident(table)} WHERE ({keys}) IN ("
            f"SELECT ({keys}) FROM {quote_ident(source)} GROUP BY {keys} "
            f"HAVING max({quote_ident(diff_col)}) < 0)")


def snapshot_upsert(table: str, source: str, columns: Sequence[str], key: Sequence[str],
                    diff_col: str, seq_col: str) -> str:
    """Upsert the last insertion of every key that has one, in key order."""
    cols = column_list(columns)
    keys = column_list(key)
    latest = _latest_insertions(source, columns, key, diff_col, seq_col)
    others = [c for c in columns if c not in set(key)]
    if others:
        action = "DO UPDATE SET " + ", ".join(f"{quote_ident(c)} = excluded.{quote_ident(c)}" for c in others)
    else:
        action = "DO NOTHING"
    return f"INSERT INTO {quote_ident(table)} ({cols}) {latest} ON CONFLICT ({keys}) {action}"


def snapshot_delete_touched(table: str, source: str, key: Sequence[str]) -> str:
    """Delete every key that has a change in the minibatch (DuckDB >= 1.2 accepts a delete and
    re-insert of one key inside one transaction)."""
    keys = column_list(key)
    return (f"DELETE FROM {quote_ident(table)} WHERE ({keys}) IN ("
            f"SELECT ({keys}) FROM {quote_ident(source)} GROUP BY {keys})")


def snapshot_insert_latest(table: str, source: str, columns: Sequence[str], key: Sequence[str],
                           diff_col: str, seq_col: str) -> str:
    """Insert the last insertion of every key that has one (after snapshot_delete_touched)."""
    latest = _latest_insertions(source, columns, key, diff_col, seq_col)
    return f"INSERT INTO {quote_ident(table)} ({column_list(columns)}) {latest}"


def _latest_insertions(source: str, columns: Sequence[str], key: Sequence[str],
                       diff_col: str, seq_col: str) -> str:
    """SELECT the last insertion of every key that has one, in key order."""
    cols, keys = column_list(columns), column_list(key)
    src, diff, seq = quote_ident(source), quote_ident(diff_col), quote_ident(seq_col)
    # max(seq) per key, not a QUALIFY row_number() window: DuckDB 2.0's window turns a -0.0
    # payload into 0.0 when a VARCHAR column rides along.
    return (f"SELECT {cols} FROM {src} WHERE {diff} > 0 AND ({keys}, {seq}) IN ("
            f"SELECT {keys}, max({seq}) FROM {src} WHERE {diff} > 0 GROUP BY {keys}) "
            f"ORDER BY {keys}")


def insert_select(table: str, source: str, columns: Sequence[str], expressions: Sequence[str]) -> str:
    """Append ``source`` into ``table``: ``columns`` receive the (already quoted) ``expressions``."""
    return (f"INSERT INTO {quote_ident(table)} ({column_list(columns)}) "
            f"SELECT {', '.join(expressions)} FROM {quote_ident(source)}")


def unique_constraints() -> str:
    """Column lists of the PRIMARY KEY / UNIQUE constraints of a table."""
    return ("SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE schema_name = current_schema() AND lower(table_name) = lower(?) "
            "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')")
