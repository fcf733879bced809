"""The rules `write` enforces, each a small named function raising a clear ValueError.

Build-time rules run in `write()` before the graph runs (`check_write_args` lists them
in order); start-up rules run when the writer first opens the database, before any data
is written (`check_destination` lists them).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pathway as pw
from pathway.internals import dtype as dt
from pathway.internals.expression import ColumnReference

from . import _connect, _sql, _types

IN_MEMORY = ":memory:"
RESERVED_STREAM_COLUMNS = ("time", "diff")
INIT_MODES = ("default", "create_if_not_exists", "replace")
OUTPUT_TABLE_TYPES = ("stream_of_changes", "snapshot")
INTERNAL_COLUMNS = ("_pw_key", "_pw_diff", "_pw_time", "_pw_seq")


# --- build time ----------------------------------------------------------------------

class ArgumentError(ValueError, TypeError):
    """A keyword outside its allowed values or type. pw.io.duckdb.write's type hints raise
    TypeError for these; being both lets code written for either writer catch it."""


def init_mode_is_known(init_mode: str) -> None:
    if init_mode not in INIT_MODES:
        raise ArgumentError(f"init_mode={init_mode!r} is not one of {list(INIT_MODES)}; pick one")


def output_table_type_is_known(output_table_type: str) -> None:
    if output_table_type not in OUTPUT_TABLE_TYPES:
        raise ArgumentError(
            f"output_table_type={output_table_type!r} is not one of {list(OUTPUT_TABLE_TYPES)}; pick one")


def table_name_is_given(table_name: str) -> None:
    if not isinstance(table_name, str) or not table_name.strip():
        raise ArgumentError("table_name must be a non-empty string naming the destination table")


def database_is_a_path(database) -> None:
    if not isinstance(database, (str, os.PathLike)) or os.fspath(database) in ("", b""):
        raise ArgumentError(
            f"database={database!r}: give the path of a DuckDB file (str or os.PathLike; "
            "created if missing), or \":memory:\"")


def max_batch_size_is_positive(max_batch_size: int | None) -> None:
    if max_batch_size is not None and (isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int)
                                       or max_batch_size < 1):
        raise ArgumentError(
            f"max_batch_size={max_batch_size!r}: give a positive number of rows, or None for no bound")


def detach_and_name_have_their_types(detach_between_batches, name) -> None:
    if not isinstance(detach_between_batches, bool):
        raise ArgumentError(f"detach_between_batches={detach_between_batches!r}: pass True or False")
    if name is not None and (not isinstance(name, str) or not name):
        raise ArgumentError(f"name={name!r}: pass a non-empty string naming the writer, or None")


def table_is_a_pathway_table(table) -> None:
    if not isinstance(table, pw.Table):
        raise ArgumentError(f"table={table!r}: pass the pw.Table to write")


def primary_key_only_for_snapshot(snapshot: bool, primary_key) -> None:
    if not snapshot and primary_key is not None:
        raise ValueError(
            "primary_key is only used with output_table_type=\"snapshot\"; remove it, "
            "or switch to the snapshot output")


def primary_key_required_for_snapshot(snapshot: bool, primary_key) -> None:
    if snapshot and not primary_key:
        raise ValueError(
            "output_table_type=\"snapshot\" needs primary_key=[...]: the columns that identify a row")


def no_sort_by_for_snapshot(snapshot: bool, sort_by) -> None:
    if snapshot and sort_by is not None:
        raise ValueError(
            "sort_by has no meaning for a snapshot (its state does not depend on the order of "
            "changes, and reordering a retraction after its replacement would lose the row); "
            "remove sort_by, or use output_table_type=\"stream_of_changes\"")


def database_can_be_written(database: str) -> None:
    """The file, or the folder it is to be created in, exists and is writable: found now, not
    when the run starts (DuckDB creates the file, never its folder)."""
    if database == IN_MEMORY:
        return
    if os.path.isdir(database):
        raise ValueError(
            f"database {database!r} is a directory; pass the path of a DuckDB file "
            "(it is created if missing)")
    _connect.folder_exists(database)
    target = database if os.path.exists(database) else os.path.dirname(os.path.abspath(database))
    if not os.access(target, os.W_OK):
        raise ValueError(
            f"database {database!r}: {'the file' if target == database else 'its folder'} "
            f"{target!r} is not writable by this process; fix its permissions or pass a path "
            "you can write")


def no_detach_in_memory(database: str, detach_between_batches: bool) -> None:
    if detach_between_batches and database == IN_MEMORY:
        raise ValueError(
            "detach_between_batches=True would drop an in-memory database after every batch; "
            "use a database file, or keep the connection open (detach_between_batches=False)")


def column_names_differ_beyond_case(columns: Sequence[str]) -> None:
    groups: dict[str, list[str]] = {}
    for name in columns:
        groups.setdefault(name.lower(), []).append(name)
    clashes = [sorted(g) for g in groups.values() if len(g) > 1]
    if clashes:
        raise ValueError(
            f"columns {clashes} differ only in case, and DuckDB compares identifiers "
            "case-insensitively; rename them so each name is unique ignoring case")


def no_reserved_columns_in_stream(snapshot: bool, columns: Sequence[str]) -> None:
    if snapshot:
        return
    clashes = sorted(c for c in columns if c.lower() in RESERVED_STREAM_COLUMNS)
    if clashes:
        raise ValueError(
            f"columns {clashes} clash with the 'time' and 'diff' columns a stream of changes "
            "appends; rename them, or use output_table_type=\"snapshot\"")


def columns_of_table(table, refs: Iterable, what: str) -> list[str]:
    """Resolve column references (or names) of `table` to names."""
    if isinstance(refs, (str, ColumnReference)):  # a string would be read letter by letter
        one = refs if isinstance(refs, str) else refs.name
        raise ArgumentError(f"{what} must be a list of columns, e.g. {what}=[table.{one}]; got {refs!r}")
    names = []
    for ref in refs:
        if isinstance(ref, ColumnReference):
            if ref._table is not table:
                raise ValueError(f"{what} column {ref.name!r} does not belong to the written table")
            name = ref.name
        elif isinstance(ref, str):
            name = ref
        else:
            raise ValueError(f"{what} must list columns of the table (e.g. table.col), got {ref!r}")
        if name not in table.schema.column_names():
            raise ValueError(f"{what} column {name!r} is not a column of the written table")
        names.append(name)
    return names


def primary_key_has_no_duplicates(key: Sequence[str]) -> None:
    seen, dups = set(), set()
    for k in key:
        (dups if k in seen else seen).add(k)
    if dups:
        raise ValueError(f"primary_key lists {sorted(dups)} more than once; list each column once")


def primary_key_not_nullable(key: Sequence[str], dtypes: dict[str, dt.DType]) -> None:
    for k in key:
        if isinstance(dtypes[k], dt.Optional):
            raise ValueError(
                f"primary_key column {k!r} is nullable ({dtypes[k]}); a NULL key can never be "
                "matched to delete its row. Filter or fill the NULLs and cast to a non-optional type")


def primary_key_is_scalar(key: Sequence[str], dtypes: dict[str, dt.DType]) -> None:
    for k in key:
        t = dtypes[k]
        # DuckDB refuses these in a PRIMARY KEY ("Invalid type for index key").
        if isinstance(t, (dt.List, dt.Array, dt.Tuple)) or t in (dt.JSON, dt.DURATION):
            raise ValueError(
                f"primary_key column {k!r} has type {t}; DuckDB cannot index lists, arrays, "
                "tuples, JSON or INTERVAL (Duration), so pick scalar key columns")


def column_types_are_supported(dtypes: dict[str, dt.DType]) -> dict[str, _types.ColumnType]:
    result = {}
    for name, t in dtypes.items():
        try:
            result[name] = _types.column_type(t)
        except _types.UnsupportedType as exc:
            raise ValueError(f"column {name!r}: {exc}") from None
    return result


# --- start-up: the existing destination --------------------------------------------

@dataclass(frozen=True)
class Existing:
    """An existing destination relation, as read from information_schema."""

    kind: str  # 'BASE TABLE', 'VIEW', ... or '' when absent
    columns: dict[str, tuple[bool, bool]]  # lower-cased name -> (nullable, has default)
    unique_keys: tuple[frozenset[str], ...] = ()  # lower-cased PRIMARY KEY / UNIQUE column sets
    types: dict[str, str] = field(default_factory=dict)  # lower-cased name -> DuckDB data_type


def destination_is_not_a_view(table_name: str, existing: Existing) -> None:
    if existing.kind and existing.kind != "BASE TABLE":
        raise ValueError(
            f"{table_name!r} is a {existing.kind.lower()}, not a table; write to another "
            "table_name, or drop the view first")


def destination_exists(table_name: str, existing: Existing, init_mode: str) -> None:
    if init_mode == "default" and not existing.kind:
        # "s.t" looks like table t of schema s, which may well exist: say how the name is read.
        dotted = (f" (table_name is one identifier in the main schema, the dot being part of "
                  f"the name, so this is not table {table_name.split('.', 1)[1]!r} of a schema "
                  f"{table_name.split('.', 1)[0]!r}; schemas other than main are not supported)"
                  if "." in table_name else "")
        raise ValueError(
            f"table {table_name!r} does not exist{dotted} and init_mode=\"default\" does not "
            "create it; create it first, or pass init_mode=\"create_if_not_exists\"")


def destination_has_needed_columns(table_name: str, existing: Existing, needed: Sequence[str]) -> None:
    missing = [c for c in needed if c.lower() not in existing.columns]
    if missing:
        raise ValueError(
            f"table {table_name!r} lacks column(s) {missing} that the writer fills; add them, "
            "or use init_mode=\"replace\" to recreate the table")


def destination_column_types_fit(table_name: str, existing: Existing, types: dict[str, str]) -> None:
    """Each existing column must hold every value the sink writes there: its own type or a
    lossless widening (see _types.column_fits). Otherwise the first minibatch would fail, or a
    narrower integer would take small values and fail on a larger one much later."""
    wrong = [(c, existing.types[c.lower()], want) for c, want in types.items()
             if c.lower() in existing.types and not _types.column_fits(existing.types[c.lower()], want)]
    if wrong:
        found = "; ".join(f"column {c!r} is {got}, the sink writes {want}" for c, got, want in wrong)
        alters = "; ".join(f"ALTER TABLE {_sql.quote_ident(table_name)} ALTER {_sql.quote_ident(c)} "
                           f"TYPE {want}" for c, _, want in wrong)
        raise ValueError(
            f"table {table_name!r} has column types that cannot hold what the writer sends: "
            f"{found}. Change the column types ({alters}), write to another table_name, or use "
            "init_mode=\"replace\" to recreate the table")


def destination_extra_columns_accept_null(table_name: str, existing: Existing, needed: Sequence[str]) -> None:
    lowered = {c.lower() for c in needed}
    blocking = sorted(c for c, (nullable, default) in existing.columns.items()
                      if c not in lowered and not nullable and not default)
    if blocking:
        raise ValueError(
            f"table {table_name!r} has NOT NULL column(s) {blocking} without a default, which "
            "the writer cannot fill; give them a DEFAULT, drop NOT NULL, or use init_mode=\"replace\"")


def destination_accepts_nulls(table_name: str, existing: Existing, nullable_columns: Sequence[str]) -> None:
    strict = [c for c in nullable_columns if c.lower() in existing.columns
              and not existing.columns[c.lower()][0]]
    if strict:
        raise ValueError(
            f"table {table_name!r} declares column(s) {strict} NOT NULL but the Pathway columns "
            "are Optional and may send NULL; drop NOT NULL, or make the Pathway columns non-optional")


def destination_has_key(table_name: str, existing: Existing, primary_key: Sequence[str] | None) -> None:
    if primary_key and frozenset(k.lower() for k in primary_key) not in existing.unique_keys:
        raise ValueError(
            f"table {table_name!r} has no PRIMARY KEY or UNIQUE constraint on {list(primary_key)}, "
            "which a snapshot upserts on; add one, or use init_mode=\"replace\"")


def no_internal_column_names(columns: Sequence[str]) -> None:
    clashes = sorted(c for c in columns if c.lower() in INTERNAL_COLUMNS)
    if clashes:
        raise ValueError(
            f"columns {clashes} are reserved for the sink's own minibatch bookkeeping; rename them")


def destination_kind_matches(table_name: str, registered_kind: str | None, kind: str) -> None:
    if registered_kind is not None and registered_kind != kind:
        written_as = "a change log (stream_of_changes)" if registered_kind == "stream_of_changes" else "a snapshot"
        raise ValueError(
            f"table {table_name!r} was written by pw_duckdb_sink as {written_as}, and this writer "
            f"writes a {kind}; the two layouts cannot share a table. Write to another table_name, "
            f"or use init_mode=\"replace\" to start the table over")


def check_destination(table_name: str, existing: Existing, *, init_mode: str,
                      needed: Sequence[str], nullable_columns: Sequence[str],
                      primary_key: Sequence[str] | None = None,
                      types: dict[str, str] | None = None,
                      kind: str, registered_kind: str | None) -> None:
    """Every start-up rule, in order; a table to be replaced is only checked for being a view.
    ``registered_kind``: how the sink wrote the table before, if it did."""
    destination_is_not_a_view(table_name, existing)
    if init_mode == "replace":
        return
    destination_exists(table_name, existing, init_mode)
    if not existing.kind:
        return  # about to be created
    destination_kind_matches(table_name, registered_kind, kind)
    destination_has_needed_columns(table_name, existing, needed)
    if types:
        destination_column_types_fit(table_name, existing, types)
    destination_extra_columns_accept_null(table_name, existing, needed)
    destination_accepts_nulls(table_name, existing, nullable_columns)
    destination_has_key(table_name, existing, primary_key)


def writers_of_one_table_agree(spec, others) -> None:
    """Several write() calls of one pipeline may share a destination only if it suits them all:
    caught here, not by DuckDB in the middle of the run."""
    def same_file(a: str, b: str) -> bool:
        return a != IN_MEMORY and os.path.abspath(a) == os.path.abspath(b)

    for other in others:
        if not (same_file(spec.database, other.database) and spec.table_name.lower() == other.table_name.lower()):
            continue
        where = f"table {spec.table_name!r} in {spec.database!r}"
        advice = ("give them different table_name=, or write one table: "
                  "pw_duckdb_sink.write(t1.concat_reindex(t2), ...)")
        if "replace" in (spec.init_mode, other.init_mode):
            raise ValueError(f"two writers of {where} in one pipeline, one with init_mode='replace': "
                             f"it would drop what the other writes; {advice}")
        if _shape(spec) != _shape(other):
            raise ValueError(f"two writers of {where} in one pipeline disagree on its shape: "
                             f"{_describe(other)} vs {_describe(spec)}; {advice}")
        if spec.name is not None and spec.name == other.name:
            raise ValueError(f"two writers of {where} in one pipeline are both named {spec.name!r}: "
                             "each named writer keeps its own exactly-once state; give each its own name=")


def _shape(spec) -> tuple:
    """What writers sharing a table must agree on (column names compared as DuckDB does)."""
    return spec.kind, [(c.lower(), t.duckdb) for c, t in zip(spec.columns, spec.types)], spec.primary_key


def _describe(spec) -> str:
    columns = ", ".join(f"{c} {t.duckdb}" for c, t in zip(spec.columns, spec.types))
    return f"{spec.kind} ({columns})" + (f" keyed by {list(spec.primary_key)}" if spec.primary_key else "")
