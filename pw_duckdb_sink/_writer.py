"""The hot path: a per-minibatch column buffer written as Arrow in one DuckDB transaction.

Per change the engine hands us ``(key, values, time, diff)``; we only append to three
lists. At the end of a minibatch (``on_time_end``) the buffer becomes one Arrow table,
registered with DuckDB and written with set-based SQL inside ``BEGIN ... COMMIT``,
together with the sink's catalog rows. ``max_batch_size`` flushes chunks early inside the
still-open transaction, so a minibatch lands whole or not at all.

Where that work runs: in a run without Pathway persistence, on the pipeline's committer thread
(``_committer``), so that Pathway goes on computing meanwhile; with persistence, inside the
callback, so a minibatch is committed before Pathway may count it as delivered.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterable
from operator import itemgetter
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pathway as pw
import pyarrow as pa
from pathway.internals import api, datasink, parse_graph
from pathway.internals.table_io import table_to_datasink

from . import _catalog, _connect, _exactly_once, _retention, _sql, _types, _validate
from ._committer import Committer
from ._run_context import run_restores_from_persistence

KEY, DIFF, TIME, SEQ = "_pw_key", "_pw_diff", "_pw_time", "_pw_seq"
_VIEW = "_pw_duckdb_sink_batch"
_STAGE = "_pw_duckdb_sink_stage"
# Snapshot deletes look the minibatch's keys up in the PRIMARY KEY index when the minibatch has
# at most _INDEX_PROBE_KEYS rows (at 10M rows, 20,000 keys as an IN filter took 150 ms, a scan
# 57 ms; DuckDB scans the index only for at most max(2048, 0.1% of the rows) matches anyway)
# and the table has _INDEX_ROWS_PER_KEY rows per key (a lookup costs about what a scan of
# 2,000-3,000 rows does: 1,000 keys took 5 ms by index, 2 ms by scan at 50k rows, 7 ms vs 20 ms
# at 10M). The table's size is re-read every _SIZE_RECHECK minibatches.
_INDEX_PROBE_KEYS = 10_000
_INDEX_ROWS_PER_KEY = 2_000
_SIZE_RECHECK = 100


# The writers attached to each Pathway graph (keyed weakly by its scope: G.clear() starts a new
# one), so that the first to start checks them all; started under one lock, as the engine's
# worker threads may call several writers at once.
_PIPELINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_START_LOCK = threading.Lock()


@dataclass
class _Pipeline:
    """The writers of one Pathway graph and the thread that may write for them."""

    writers: list = field(default_factory=list)
    committer: Committer = field(default_factory=Committer)
    restores: bool = True  # the run restores from Pathway persistence; decided when it starts

    @property
    def in_background(self) -> bool:
        """Commit on the committer thread (see _committer). Not with persistence: Pathway may
        count a minibatch as delivered once on_time_end returns."""
        return not self.restores


@dataclass(frozen=True)
class SinkSpec:
    """Everything a writer needs, fixed at ``write()`` time."""

    table_name: str
    database: str
    columns: tuple[str, ...]
    types: tuple[_types.ColumnType, ...]
    snapshot: bool
    primary_key: tuple[str, ...] | None
    init_mode: str
    max_batch_size: int | None
    detach_between_batches: bool
    name: str | None
    lock_timeout_s: float = _connect.DEFAULT_TIMEOUT_S
    retention_ms: int | None = None  # write(retention=...): compact the change log behind it

    @property
    def kind(self) -> str:
        return "snapshot" if self.snapshot else "stream_of_changes"

    @property
    def destination_columns(self) -> tuple[str, ...]:
        return self.columns if self.snapshot else self.columns + ("time", "diff")


# --- extension points (filled in by the exactly-once and retention modules) ----------

def reconcile(con: duckdb.DuckDBPyConnection, writer_state: dict, spec: SinkSpec,
              batch: pa.Table) -> pa.Table:
    """Exactly-once hook, called inside the minibatch's transaction before the data write.

    ``batch`` holds the user's columns plus ``_pw_diff`` (int16, +1/-1), ``_pw_time``
    (int64) and, for a named writer, ``_pw_key`` (``str`` of the Pathway row key). A named
    writer turns it into the changes that take the committed per-key state to the state
    the batch declares (a replayed batch becomes empty), updating its state tables with
    ``con``. Called once per chunk when ``max_batch_size`` splits a minibatch.
    Unnamed writers are at-least-once: the batch passes unchanged.
    """
    return _exactly_once.reconcile(con, writer_state, spec, batch)


def maybe_compact(con: duckdb.DuckDBPyConnection, writer_state: dict, spec: SinkSpec,
                  time: int) -> None:
    """Retention hook, called inside the transaction after the minibatch's data and catalog
    rows are written: compact the change log at the retention horizon, if one is set."""
    _retention.maybe_compact(con, writer_state, spec, time)


# --- the writer ----------------------------------------------------------------------

@dataclass
class _Writer:
    spec: SinkSpec
    con: duckdb.DuckDBPyConnection | None = None
    started: bool = False
    in_transaction: bool = False
    staged: bool = False  # snapshot chunks of this minibatch wait in a temp table
    minibatch_rows: int = 0
    index_probe: bool = False  # see _choose_key_lookup
    table_rows: int = 0  # DuckDB's estimate, re-read every _SIZE_RECHECK minibatches
    size_age: int = 0
    own_columns_only: bool = False  # snapshot destination has no columns besides the sink's
    state: dict = field(default_factory=dict)  # owned by the extension points
    pipeline: _Pipeline | None = field(default=None, repr=False, compare=False)
    chunks_handed: bool = False  # engine thread: part of this minibatch went out already
    row_struct: pa.StructType | None = None  # all columns convert-free: see _user_columns
    rows: list = field(default_factory=list)
    keys: list = field(default_factory=list)
    diffs: list = field(default_factory=list)

    def __post_init__(self) -> None:
        types = self.spec.types
        if types and all(t.convert is None for t in types):
            self.row_struct = pa.struct([pa.field(f"c{i}", t.arrow) for i, t in enumerate(types)])

    # The callbacks. on_change is built once so it touches only local names.
    def make_on_change(self):
        rows_append, keys_append, diffs_append = self.rows.append, self.keys.append, self.diffs.append
        limit, named = self.spec.max_batch_size, self.spec.name is not None
        if limit is None and named:
            def on_change(key, values, time, diff):
                rows_append(values)
                keys_append(key)
                diffs_append(diff)
        elif limit is None:  # only a named writer needs the row keys: don't hold them
            def on_change(key, values, time, diff):
                rows_append(values)
                diffs_append(diff)
        else:
            rows, flush = self.rows, self.flush_chunk

            def on_change(key, values, time, diff):
                rows_append(values)
                if named:
                    keys_append(key)
                diffs_append(diff)
                if len(rows) >= limit:
                    flush(time)
        return on_change

    def on_time_end(self, time: int) -> None:
        self._before_handing_over()
        if not self.rows and not self.chunks_handed:
            return
        self.chunks_handed = False
        self._hand_over(time, self._finish_minibatch, self._take_buffer())

    def flush_chunk(self, time: int) -> None:
        self._before_handing_over()
        self.chunks_handed = True
        self._hand_over(time, self._write_chunk, self._take_buffer())

    def on_end(self) -> None:
        # An empty Pathway table still gets its (empty) destination table.
        self._before_handing_over()
        self.pipeline.committer.drain()
        self.pipeline.committer.raise_failure()
        if self.con is not None:
            self.con.close()
            self.con = None

    def close(self) -> None:
        """Release the file when the run ends, also when it failed: Pathway calls no on_end
        then, and an open connection would hold the file's lock until the interpreter exits.
        Minibatches already handed to the committer are written first, as they would have been
        by a synchronous on_time_end."""
        self.pipeline.committer.stop()
        self._clear_buffer()
        self.chunks_handed = False
        self._abort()
        # A next pw.run of the same graph starts the writer anew (init_mode, checks, state).
        self.started, self.state = False, {}

    def _before_handing_over(self) -> None:
        if not self.started:
            self._start_pipeline()  # start-up errors say so, not "minibatch"
        self.pipeline.committer.raise_failure()

    def _start_pipeline(self) -> None:
        """Check (and create) the destinations of every writer of the pipeline before any of
        them commits data, so that one refused destination stops the run with nothing written."""
        with _START_LOCK:
            pipeline = self.pipeline
            if not any(w.started for w in pipeline.writers):
                pipeline.restores = run_restores_from_persistence()
            for writer in pipeline.writers:
                if not writer.started:
                    writer._guarded(None, writer._start)

    def _take_buffer(self) -> tuple[list, list, list]:
        # Copies: on_change holds the buffers' append methods.
        taken = (self.rows.copy(), self.keys.copy(), self.diffs.copy())
        self._clear_buffer()
        return taken

    def _clear_buffer(self) -> None:
        self.rows.clear(), self.keys.clear(), self.diffs.clear()

    def _hand_over(self, time: int, fn, buffer: tuple[list, list, list]) -> None:
        """Write `buffer` with fn(time, buffer) now, or queue it for the committer thread."""
        if self.pipeline.in_background:
            self.pipeline.committer.submit(lambda: self._guarded(time, fn, time, buffer), len(buffer[0]),
                                           max_rows=self.spec.max_batch_size)
        else:
            self._guarded(time, fn, time, buffer)

    # --- internals ------------------------------------------------------------------

    def _guarded(self, time: int | None, fn, *args) -> None:
        """Run `fn`; on a DuckDB/Arrow error roll back the minibatch and stop the pipeline."""
        try:
            fn(*args)
        except (duckdb.Error, pa.ArrowException, TypeError, OverflowError, _connect.LockTimeout) as exc:
            self._abort()
            where = "at start-up" if time is None else f"in the minibatch of time {time}"
            # A lock timeout comes before the transaction: nothing was sent to roll back.
            fate = ("the file could not be opened, so that minibatch was not written"
                    if isinstance(exc, _connect.LockTimeout)
                    else "nothing was written" if time is None
                    else "that minibatch was rolled back, nothing of it landed")
            raise RuntimeError(
                f"pw_duckdb_sink: writing table {self.spec.table_name!r} in {self.spec.database!r} "
                f"failed {where}; {fate}. "
                f"Cause: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        """Roll back and close: may run on the committer thread, so the engine's buffers stay."""
        if self.con is not None:
            if self.in_transaction:
                try:
                    self.con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
            self.con.close()
            self.con = None
        self.in_transaction = self.staged = False
        self.minibatch_rows = 0

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            self.con = _connect.connect(self.spec.database, timeout_s=self.spec.lock_timeout_s)
            self.index_probe = False  # a new session has DuckDB's default
        return self.con

    def _close_if_detached(self) -> None:
        if self.spec.detach_between_batches and self.con is not None:
            self.con.execute("CHECKPOINT")
            self.con.close()
            self.con = None

    def _start(self) -> None:
        """Validate or create the destination and register it in the catalog."""
        spec, con = self.spec, self._open()
        _catalog.ensure(con)
        existing = _read_existing(con, spec.table_name)
        columns = _create_columns(spec)
        _validate.check_destination(
            spec.table_name, existing, init_mode=spec.init_mode,
            needed=spec.destination_columns,
            types={c: t for c, t, _ in columns},
            nullable_columns=[c for c, t in zip(spec.columns, spec.types) if t.nullable],
            primary_key=spec.primary_key if spec.snapshot else None,
            kind=spec.kind, registered_kind=_catalog.registered_kind(con, spec.table_name))
        created = spec.init_mode == "replace" or not existing.kind
        ours = {c.lower() for c in spec.destination_columns}
        self.own_columns_only = created or set(existing.columns) <= ours
        con.execute("BEGIN")
        self.in_transaction = True
        if created:
            con.execute(_sql.create_table(spec.table_name, columns, spec.primary_key,
                                          replace=spec.init_mode == "replace"))
        _exactly_once.start(con, self.state, spec, created=created)
        _catalog.register_table(con, table_name=spec.table_name, kind=spec.kind,
                                primary_key=spec.primary_key, writer_name=spec.name,
                                reset=spec.init_mode == "replace")
        con.execute("COMMIT")
        self.in_transaction = False
        self.started = True
        self._close_if_detached()

    def _begin(self) -> duckdb.DuckDBPyConnection:
        # Started already: on_time_end and flush_chunk run _start_pipeline first.
        con = self._open()
        if not self.in_transaction:
            con.execute("BEGIN")
            self.in_transaction = True
            self.minibatch_rows = 0
        return con

    def _to_arrow(self, time: int, buffer: tuple[list, list, list]) -> pa.Table:
        """Turn a taken buffer into an Arrow table."""
        spec = self.spec
        rows, keys, diffs = buffer
        n = len(rows)
        arrays = self._user_columns(rows)
        names = list(spec.columns)
        arrays.append(pa.array(diffs, type=pa.int16()))
        arrays.append(pa.repeat(pa.scalar(time, pa.int64()), n) if n else pa.array([], pa.int64()))
        names += [DIFF, TIME]
        if spec.snapshot:
            arrays.append(pa.array(range(self.minibatch_rows, self.minibatch_rows + n), type=pa.int64()))
            names.append(SEQ)
        if spec.name is not None:
            arrays.append(pa.array([str(k) for k in keys], type=pa.string()))
            names.append(KEY)
        return pa.Table.from_arrays(arrays, names=names)

    def _user_columns(self, rows: list) -> list[pa.Array]:
        if self.row_struct is not None:
            # The row tuples in one conversion: less time holding the GIL, which the engine's
            # thread waits for, than column by column. A value that does not fit goes on to
            # the column-wise path, whose error names the column.
            try:
                return pa.array(rows, type=self.row_struct).flatten()
            except (pa.ArrowException, TypeError, OverflowError):
                pass
        # One column at a time: zip(*rows) would hold an iterator per row (GC-tracked),
        # and 10k of those per minibatch set off full garbage collections of the whole heap.
        arrays = []
        for i, (name, t) in enumerate(zip(self.spec.columns, self.spec.types)):
            try:
                arrays.append(_types.to_arrow(list(map(itemgetter(i), rows)), t))
            except _types.ValueShapeError as exc:
                raise TypeError(f"column {name!r}: {exc}") from None
        return arrays

    def _write_chunk(self, time: int, buffer: tuple[list, list, list], last: bool = False) -> None:
        con = self._begin()
        batch = reconcile(con, self.state, self.spec, self._to_arrow(time, buffer))
        self.minibatch_rows += batch.num_rows
        con.register(_VIEW, batch)
        if not self.spec.snapshot:
            self._insert_changes(con)
        elif last and not self.staged:
            self._apply_snapshot(con, _VIEW)
        elif not self.staged:
            con.execute(_sql.create_stage(_STAGE, _VIEW))
            self.staged = True
        else:
            con.execute(_sql.append_stage(_STAGE, _VIEW))
        # No unregister: the next chunk's register replaces the view (one DuckDB call less per
        # chunk, each a hand-back of the GIL), and closing the connection drops it.

    def _insert_changes(self, con) -> None:
        cols = self.spec.columns
        exprs = [_sql.quote_ident(c) for c in cols] + [_sql.quote_ident(TIME), _sql.quote_ident(DIFF)]
        con.execute(_sql.insert_select(self.spec.table_name, _VIEW, cols + ("time", "diff"), exprs))

    def _choose_key_lookup(self, con) -> None:
        """Index lookups or a scan for the snapshot deletes.

        They join the destination with the minibatch's keys. DuckDB pushes those keys into the
        destination's scan as an IN filter, and so looks them up in the PRIMARY KEY index, only
        for at most dynamic_or_filter_threshold keys (default 50); else it reads the whole key
        column (20 ms at 10M rows). Set per session: other connections keep theirs. Composite
        keys keep the scan: DuckDB looks up no index for them.
        """
        if len(self.spec.primary_key) != 1:
            return
        if self.size_age <= 0:
            row = con.execute(_sql.estimated_rows(), [self.spec.table_name]).fetchone()
            self.table_rows, self.size_age = (row[0] if row else 0), _SIZE_RECHECK
        self.size_age -= 1
        keys = self.minibatch_rows  # at least the distinct keys
        want = keys <= _INDEX_PROBE_KEYS and self.table_rows >= _INDEX_ROWS_PER_KEY * keys
        if want != self.index_probe:
            if want:
                con.execute(_sql.set_dynamic_or_filter_threshold(), [_INDEX_PROBE_KEYS])
            else:
                con.execute(_sql.reset_dynamic_or_filter_threshold())
            self.index_probe = want

    def _apply_snapshot(self, con, source: str) -> None:
        spec = self.spec
        self._choose_key_lookup(con)
        if self.own_columns_only:
            # Delete every touched key, then insert the survivors: an UPDATE (ON CONFLICT DO
            # UPDATE) makes DuckDB estimate a WAL big enough to checkpoint at nearly every
            # commit, rewriting the key index, so commits grew with the table (500 ms at 10M keys).
            con.execute(_sql.snapshot_delete_touched(spec.table_name, source, spec.primary_key))
            con.execute(_sql.snapshot_insert_latest(spec.table_name, source, spec.columns,
                                                    spec.primary_key, DIFF, SEQ))
            return
        # The user's own extra columns must keep their values: update in place.
        con.execute(_sql.snapshot_delete(spec.table_name, source, spec.primary_key, DIFF))
        con.execute(_sql.snapshot_upsert(spec.table_name, source, spec.columns, spec.primary_key, DIFF, SEQ))

    def _finish_minibatch(self, time: int, buffer: tuple[list, list, list]) -> None:
        self._write_chunk(time, buffer, last=True)
        con = self.con
        if self.staged:
            self._apply_snapshot(con, _STAGE)
            con.execute(_sql.drop_stage(_STAGE))
            self.staged = False
        _catalog.record_commit(con, table_name=self.spec.table_name, writer_name=self.spec.name,
                               time=time, rows=self.minibatch_rows, persisted=self.pipeline.restores)
        maybe_compact(con, self.state, self.spec, time)
        con.execute("COMMIT")
        self.in_transaction = False
        self._close_if_detached()


def _create_columns(spec: SinkSpec) -> list[tuple[str, str, bool]]:
    cols = [(c, t.duckdb, t.nullable) for c, t in zip(spec.columns, spec.types)]
    if not spec.snapshot:
        cols += [("time", "BIGINT", False), ("diff", "SMALLINT", False)]
    return cols


def _read_existing(con, table_name: str) -> _validate.Existing:
    row = con.execute(_sql.table_kind(), [table_name]).fetchone()
    if row is None:
        return _validate.Existing(kind="", columns={})
    described = con.execute(_sql.table_columns(), [table_name]).fetchall()
    columns = {name.lower(): (bool(nullable), bool(default)) for name, nullable, default, _ in described}
    types = {name.lower(): data_type for name, _, _, data_type in described}
    keys = tuple(frozenset(c.lower() for c in cols)
                 for (cols,) in con.execute(_sql.unique_constraints(), [table_name]).fetchall())
    return _validate.Existing(kind=row[0], columns=columns, unique_keys=keys, types=types)


# --- the public verb -----------------------------------------------------------------

def build_spec(table, *, table_name: str, database, max_batch_size: int | None, init_mode: str,
               output_table_type: str, primary_key, detach_between_batches: bool,
               name: str | None, sort_by, retention=None) -> tuple[SinkSpec, list[str] | None]:
    """Run every build-time rule and return the writer's spec and the sort_by column names."""
    _validate.table_is_a_pathway_table(table)
    _validate.init_mode_is_known(init_mode)
    _validate.output_table_type_is_known(output_table_type)
    _validate.table_name_is_given(table_name)
    _validate.max_batch_size_is_positive(max_batch_size)
    _validate.detach_and_name_have_their_types(detach_between_batches, name)
    snapshot = output_table_type == "snapshot"
    _validate.primary_key_only_for_snapshot(snapshot, primary_key)
    _validate.primary_key_required_for_snapshot(snapshot, primary_key)
    _validate.no_sort_by_for_snapshot(snapshot, sort_by)
    _validate.database_is_a_path(database)
    database_str = os.fspath(database)
    _validate.database_can_be_written(database_str)
    _validate.no_detach_in_memory(database_str, detach_between_batches)
    dtypes = {n: c.dtype for n, c in table.schema.columns().items()}
    columns = list(dtypes)
    _validate.column_names_differ_beyond_case(columns)
    _validate.no_reserved_columns_in_stream(snapshot, columns)
    _validate.no_internal_column_names(columns)
    key = None
    if primary_key is not None:
        key = _validate.columns_of_table(table, primary_key, "primary_key")
        _validate.primary_key_has_no_duplicates(key)
        _validate.primary_key_not_nullable(key, dtypes)
        _validate.primary_key_is_scalar(key, dtypes)
    sort_names = _validate.columns_of_table(table, sort_by, "sort_by") if sort_by is not None else None
    types = _validate.column_types_are_supported(dtypes)
    spec = SinkSpec(
        table_name=table_name, database=database_str, columns=tuple(columns),
        types=tuple(types[c] for c in columns), snapshot=snapshot,
        primary_key=tuple(key) if key else None, init_mode=init_mode,
        max_batch_size=max_batch_size, detach_between_batches=detach_between_batches, name=name,
        retention_ms=_retention.retention_ms(retention, snapshot=snapshot))
    return spec, sort_names


def attach(table, spec: SinkSpec, sort_by: Iterable[Any] | None) -> _Writer:
    """Subscribe a writer for `spec` to `table` (raw engine callbacks: no per-row dict)."""
    writer = _Writer(spec)
    writer.pipeline = _PIPELINES.setdefault(parse_graph.G.global_scope, _Pipeline())
    _validate.writers_of_one_table_agree(spec, [w.spec for w in writer.pipeline.writers])
    writer.pipeline.writers.append(writer)
    sort_refs = [table[c] for c in sort_by] if sort_by is not None else None
    table_to_datasink(table, datasink.CallbackDataSink(
        on_change=writer.make_on_change(), on_time_end=writer.on_time_end, on_end=writer.on_end,
        skip_persisted_batch=True, skip_errors=True, unique_name=spec.name, sort_by=sort_refs))
    _close_when_run_ends(writer)
    return writer


def _close_when_run_ends(writer: _Writer) -> None:
    """Pathway calls a GenericDataSink's on_pipeline_finished after every run, failed or not
    (a callback sink gets no call on failure): a null sink on an empty table carries it."""
    empty = pw.Table.empty()
    table_to_datasink(empty, datasink.GenericDataSink(
        api.DataStorage(storage_type="null"),
        api.DataFormat(format_type="null", key_field_names=None, value_fields=[]),
        datasink_name="pw_duckdb_sink.close", unique_name=None,
        on_pipeline_finished=writer.close))


def write(
    table,
    *,
    table_name: str,
    database: str | os.PathLike,
    max_batch_size: int | None = None,
    init_mode: str = "default",
    output_table_type: str = "stream_of_changes",
    primary_key: list | None = None,
    detach_between_batches: bool = False,
    name: str | None = None,
    sort_by: Iterable | None = None,
    retention=None,
) -> None:
    """Writes ``table`` into a table of a DuckDB database file; no Pathway license needed.

    A drop-in for ``pw.io.duckdb.write`` (Pathway 0.33): same keywords, same layout, same
    errors. Each Pathway minibatch is buffered column-wise and written as Arrow data in
    one DuckDB transaction, so a minibatch lands whole or not at all, and readers never
    see half of one.

    With ``output_table_type="stream_of_changes"`` (the default) every change is appended
    with two extra columns: ``time`` (``BIGINT``, the minibatch time) and ``diff``
    (``SMALLINT``, ``1`` for an insertion, ``-1`` for a deletion); an update is a ``-1``
    and a ``+1`` in the same minibatch. Schema columns named ``time`` or ``diff`` are
    refused.

    With ``output_table_type="snapshot"`` the table holds the current state, keyed by
    ``primary_key`` (non-nullable scalar columns, not Duration: DuckDB cannot index an
    ``INTERVAL``; the created table carries a
    ``PRIMARY KEY`` on them). Per minibatch the changes are consolidated per key: a key
    whose changes are all retractions is deleted, any other key is upserted with its
    last insertion: the touched keys are deleted and their last rows inserted (if the
    destination has columns of its own besides the sink's, those rows are updated in place
    with ``INSERT ... ON CONFLICT DO UPDATE`` instead, keeping the extra columns' values).
    ``primary_key`` must identify one row of ``table`` (as a ``groupby`` key does): when two
    live rows share a key, the table keeps the last one written, as the native writer does.

    ``init_mode``: ``"default"`` requires the table to exist and fit,
    ``"create_if_not_exists"`` creates it when missing, ``"replace"`` drops and recreates
    it. The destination is created, or checked, when the pipeline starts, even if the
    output stays empty; a view, a missing column, a column of another type than the sink
    would create (only lossless widenings pass: ``HUGEINT`` for ``BIGINT``, ``VARCHAR`` for
    ``JSON``, a wider integer for ``diff``), an extra ``NOT NULL`` column without a
    default, ``NOT NULL`` where Pathway may send ``NULL``, or (snapshot) no key
    constraint on ``primary_key`` stops the run before any data is written.

    Types: bool ``BOOLEAN``, int ``BIGINT``, float ``DOUBLE``, str ``VARCHAR``, bytes
    ``BLOB``, Pointer ``VARCHAR``, DateTimeNaive ``TIMESTAMP``, DateTimeUtc ``TIMESTAMP``
    (UTC), Duration ``INTERVAL``, Json ``JSON``, lists and homogeneous tuples ``T[]``,
    tuples of mixed types ``JSON`` (an array), numpy arrays ``DOUBLE[]`` / ``BIGINT[]``
    (nested by the declared number of dimensions; undeclared, 1-D values only; NaN and inf
    kept), ``pw.PyObjectWrapper`` ``BLOB`` (Pathway's bincode, read back with
    ``pathway.engine.deserialize``); ``Optional`` columns are nullable, all others ``NOT NULL``.

    A DuckDB file is held read-write by one process or read-only by several. By default
    the writer holds the file for the whole run; with ``detach_between_batches=True`` it
    opens the file per minibatch and closes it after a ``CHECKPOINT``, so other processes
    can read between batches; lock conflicts are retried with backoff (10 ms doubling to
    1 s) for up to 30 s, then the run stops with a clear error.

    When the minibatch is committed: in a run with Pathway persistence, before
    ``on_time_end`` returns (Pathway may count it as delivered then). Without persistence
    nothing is replayed after a crash, so the pipeline's writers hand their minibatches to
    one background thread that commits them in order while Pathway computes the next ones
    (up to about 100k rows wait); ``pw.run`` returns after the last commit.

    A DuckDB error while writing rolls the minibatch back and stops ``pw.run`` with a
    ``RuntimeError`` naming the table and the cause (without persistence: logged at once,
    raised at the writer's next callback, which an idle input may delay; the minibatches
    queued behind it are not written). The sink records
    every destination in ``_pw_duckdb_sink_tables`` and every commit in
    ``_pw_duckdb_sink_commits``, in the data's own transaction.

    Args:
        table: The table to write.
        table_name: The destination table in the DuckDB database: one identifier in the
            main schema (``"s.t"`` names a table ``"s.t"``, the dot is part of the name).
        database: Path of the DuckDB file (created if missing), or ``":memory:"``.
        max_batch_size: Upper bound on the rows held in memory; a larger minibatch is
            written in chunks inside its single transaction (without persistence one chunk
            may be committing while the next fills: at most twice the bound).
        init_mode: ``"default"``, ``"create_if_not_exists"`` or ``"replace"``.
        output_table_type: ``"stream_of_changes"`` or ``"snapshot"``.
        primary_key: Columns of ``table`` forming the key; snapshot only, and required there.
        detach_between_batches: Close the database between minibatches so other
            processes can read it; not with ``":memory:"``.
        name: A unique name for the writer, used in logs and recorded with its commits.
            A named writer is exactly-once across crashes (see the README); unnamed,
            at-least-once.
        sort_by: Columns to order the changes of each minibatch by (stream only).
        retention: Change logs only: how much history to keep, a ``timedelta`` or
            milliseconds. Changes older than that are compacted, inside the writer's own
            transactions, into the state they add up to (see ``pw_duckdb_sink.compact``).

    Returns:
        None

    Examples:

    >>> import duckdb, os, tempfile
    >>> import pathway as pw
    >>> import pw_duckdb_sink
    >>> db = os.path.join(tempfile.mkdtemp(), "shop.duckdb")
    >>> orders = pw.debug.table_from_markdown('''
    ...     customer | amount
    ...     alice    | 10
    ...     bob      | 5
    ...     alice    | 7
    ... ''')
    >>> totals = orders.groupby(pw.this.customer).reduce(
    ...     pw.this.customer, total=pw.reducers.sum(pw.this.amount))
    >>> pw_duckdb_sink.write(orders, table_name="orders", database=db,
    ...                      init_mode="create_if_not_exists")
    >>> pw_duckdb_sink.write(totals, table_name="totals", database=db,
    ...                      init_mode="create_if_not_exists",
    ...                      output_table_type="snapshot", primary_key=[totals.customer])
    >>> pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    >>> con = duckdb.connect(db, read_only=True)
    >>> con.execute("SELECT customer, amount, diff FROM orders ORDER BY amount").fetchall()
    [('bob', 5, 1), ('alice', 7, 1), ('alice', 10, 1)]
    >>> con.execute("SELECT * FROM totals ORDER BY customer").fetchall()
    [('alice', 17), ('bob', 5)]
    >>> con.close()
    """
    spec, sort_names = build_spec(
        table, table_name=table_name, database=database, max_batch_size=max_batch_size,
        init_mode=init_mode, output_table_type=output_table_type, primary_key=primary_key,
        detach_between_batches=detach_between_batches, name=name, sort_by=sort_by,
        retention=retention)
    attach(table, spec, sort_names)
