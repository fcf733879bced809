"""Retention: compact a change log at a horizon so it stops growing without bound.

Compaction replaces every change with ``time <= horizon`` by the consolidated state those
changes add up to: one row per distinct row with ``diff`` = its net count (rows that net to 0
are dropped; a net count beyond SMALLINT's 32767 is split over several rows). So:

* ``as_of(t)`` is unchanged for every ``t >= horizon``; moments before the horizon are gone
  (``as_of`` refuses them, reading the horizon recorded in ``_pw_duckdb_sink_retention``);
* the all-time consolidation, which the baseline reads, is unchanged.

Writers stay apart. The baseline leaves out the rows of a named writer by matching the times in
``_pw_duckdb_sink_commits``, so the rows of one writer must never be merged with another's.
The rule: the times up to the horizon are grouped by the set of writers that committed at that
time (a time no commit recorded forms its own group, e.g. rows of the native writer); each
group is consolidated on its own and lands at the group's latest time, which is one of its own
commit times. Every group keeps exactly the writers it had, so "leave out writer X" still
leaves out the same net rows. The commits of each group collapse into one row per writer at
that time, whose ``rows`` is the number of change rows the table now holds at it.

All of it runs in one transaction: :func:`compact` opens its own; the writer's ``retention=``
calls :func:`compact_locked` inside the transaction of a minibatch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import duckdb

from pw_duckdb_sink import _catalog
from pw_duckdb_sink._sql import column_list, quote_ident
from pw_duckdb_sink._time_range import ms_to_text

RETENTION_TABLE = "_pw_duckdb_sink_retention"
COMMITS_TABLE = _catalog.COMMITS
_MAP = "_pw_duckdb_sink_compact_map"  # temp: time -> the time its group lands at
_NET = "_pw_duckdb_sink_compact_net"  # temp: the consolidated rows
_KEEP = "_pw_duckdb_sink_compact_commits"  # temp: the commit rows that stay
_N = "_pw_duckdb_sink_n"  # the net count column of _NET
_SMALLINT_MAX = 32767


@dataclasses.dataclass(frozen=True)
class Compaction:
    """What one compaction did."""

    horizon: int  # ms epoch; changes at or before it were consolidated
    rows_before: int  # change rows of the table before
    rows_after: int  # and after


def compact(database_or_con, table_name: str, horizon) -> Compaction:
    """Consolidate the changes of change log ``table_name`` up to ``horizon``, in one transaction.

    Args:
        database_or_con: path of the DuckDB file (opened read-write, then closed) or an open
            read-write connection that is not inside a transaction.
        table_name: a change log (``output_table_type="stream_of_changes"``).
        horizon: a moment as for ``as_of``: ``datetime`` (naive = UTC), pandas ``Timestamp``,
            ISO string, ``int`` millisecond epoch, or a ``timedelta`` meaning "that long ago"
            (``compact(db, "t", timedelta(days=30))`` keeps a month of history).

    Afterwards ``as_of(t)`` is unchanged for every ``t >= horizon`` and refuses ``t < horizon``;
    the all-time consolidation (the baseline) is unchanged, writer by writer.

    Example: a total updated three times; compacting at time 2000 folds the first two changes
    into the state they leave, while the states from 2000 on stay as they were:

    >>> import duckdb, os, tempfile
    >>> import pw_duckdb_sink
    >>> db = os.path.join(tempfile.mkdtemp(), "sales.duckdb")
    >>> con = duckdb.connect(db)
    >>> _ = con.execute("CREATE TABLE revenue (country VARCHAR, total BIGINT, time BIGINT, diff SMALLINT)")
    >>> _ = con.executemany("INSERT INTO revenue VALUES (?, ?, ?, ?)", [
    ...     ("PL", 10, 1000, 1), ("PL", 10, 2000, -1), ("PL", 25, 2000, 1),
    ...     ("PL", 25, 3000, -1), ("PL", 40, 3000, 1)])
    >>> con.close()
    >>> pw_duckdb_sink.compact(db, "revenue", 2000)
    Compaction(horizon=2000, rows_before=5, rows_after=3)
    >>> pw_duckdb_sink.as_of(db, "revenue", 2500).to_pylist()
    [{'country': 'PL', 'total': 25}]
    >>> pw_duckdb_sink.as_of(db, "revenue", 1500)
    Traceback (most recent call last):
    ...
    ValueError: table 'revenue' is compacted up to time 2000 (1970-01-01T00:00:02+00:00): the changes up to that moment were folded together, so what happened before it is gone. Pass a moment at or after it, or keep a longer retention
    """
    from pw_duckdb_sink._time_travel import to_epoch_ms

    horizon_ms = to_epoch_ms(horizon, what="horizon")
    now_ms = to_epoch_ms(dt.timedelta(0))
    if horizon_ms > now_ms:
        # A future horizon would make as_of refuse the present and every change still to come.
        raise ValueError(f"horizon={horizon!r} is {horizon_ms - now_ms} ms in the future; compact "
                         "up to a past moment, e.g. timedelta(days=30) (keep the last 30 days)")
    if isinstance(database_or_con, duckdb.DuckDBPyConnection):
        return _in_own_transaction(database_or_con, table_name, horizon_ms)
    if not isinstance(database_or_con, (str, os.PathLike)):
        raise ValueError(f"database_or_con={database_or_con!r} is neither a path nor a duckdb "
                         f"connection")
    path = os.fspath(database_or_con)
    if not os.path.exists(path):
        raise ValueError(f"no DuckDB database at {path!r}; check the path given to write()")
    con = _connect_read_write(path)
    try:
        return _in_own_transaction(con, table_name, horizon_ms)
    finally:
        con.close()


def _in_own_transaction(con, table_name: str, horizon_ms: int) -> Compaction:
    con.execute("BEGIN TRANSACTION")
    try:
        result = compact_locked(con, table_name, horizon_ms)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return result


def _connect_read_write(path: str):
    try:
        from pw_duckdb_sink import _connect
    except ImportError:
        return duckdb.connect(path)
    return _connect.connect(path)


def compact_locked(con, table_name: str, horizon_ms: int) -> Compaction:
    """:func:`compact` inside the caller's open transaction (the writer's ``retention=``)."""
    from pw_duckdb_sink._time_travel import _change_log_columns

    user_cols, _ = _change_log_columns(con, table_name)
    if _N in user_cols:
        raise ValueError(f"column {_N!r} of {table_name!r} is reserved by pw_duckdb_sink")
    table = quote_ident(table_name)
    before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    has_commits = _catalog.table_exists(con, COMMITS_TABLE)
    if has_commits:
        _catalog.upgrade_commits(con)
    _build_time_map(con, table, table_name, horizon_ms, has_commits)
    _build_net_rows(con, table, user_cols)
    cols = column_list(user_cols)
    n = quote_ident(_N)
    con.execute(f'DELETE FROM {table} WHERE "time" <= ?', [horizon_ms])
    # A net count beyond SMALLINT is spread over ceil(|net| / 32767) rows of the same sign.
    con.execute(
        f'INSERT INTO {table} ({cols}, "time", "diff") '
        f'SELECT {cols}, "time", CAST(sign({n}) * least({_SMALLINT_MAX}, abs({n}) - {_SMALLINT_MAX} * i) '
        f'AS SMALLINT) FROM {quote_ident(_NET)}, '
        f'range(CAST((abs({n}) + {_SMALLINT_MAX - 1}) // {_SMALLINT_MAX} AS BIGINT)) AS r(i) '
        f'ORDER BY "time"')
    if has_commits:
        _compact_commits(con, table, table_name, horizon_ms)
    _record_horizon(con, table_name, horizon_ms)
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(_MAP)}")
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(_NET)}")
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(_KEEP)}")
    after = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return Compaction(horizon=horizon_ms, rows_before=before, rows_after=after)


def _build_time_map(con, table: str, table_name: str, horizon_ms: int, has_commits: bool) -> None:
    """Temp table (time, target): each time up to the horizon and where its group lands."""
    if has_commits:
        # A group is the set of writers that committed at a time ('?' = unnamed writer; a
        # named one is '=' or, in a run without persistence, '-' before its name: such commits
        # stay apart from those read_baseline's exclude_writer leaves out); a time with data
        # but no commit gets the empty set.
        times = (
            f'SELECT "time" FROM {table} WHERE "time" <= $h '
            f'UNION SELECT "time" FROM {quote_ident(COMMITS_TABLE)} '
            f'WHERE lower(table_name) = lower($name) AND "time" <= $h')
        groups = (
            f"SELECT \"time\", list_sort(list(DISTINCT coalesce("
            f"(CASE WHEN persisted IS FALSE THEN '-' ELSE '=' END) || writer_name, '?'))) AS grp "
            f"FROM {quote_ident(COMMITS_TABLE)} WHERE lower(table_name) = lower($name) AND \"time\" <= $h "
            f'GROUP BY "time"')
        query = (
            f"CREATE OR REPLACE TEMP TABLE {quote_ident(_MAP)} AS "
            f"WITH times AS ({times}), groups AS ({groups}) "
            f'SELECT times."time", max(times."time") OVER (PARTITION BY coalesce(groups.grp, [])) '
            f'AS target FROM times LEFT JOIN groups ON times."time" = groups."time"')
        con.execute(query, {"h": horizon_ms, "name": table_name})
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {quote_ident(_MAP)} AS "
            f'SELECT DISTINCT "time", max("time") OVER () AS target FROM {table} '
            f'WHERE "time" <= ?', [horizon_ms])


def _build_net_rows(con, table: str, user_cols: list[str]) -> None:
    """Temp table: per group landing time, each distinct row with its nonzero net count."""
    qualified = ", ".join(f"d.{quote_ident(c)}" for c in user_cols)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(_NET)} AS "
        f'SELECT {qualified}, m.target AS "time", CAST(SUM(d."diff") AS BIGINT) AS {quote_ident(_N)} '
        f'FROM {table} AS d JOIN {quote_ident(_MAP)} AS m ON d."time" = m."time" '
        f'GROUP BY {qualified}, m.target HAVING SUM(d."diff") <> 0')


def _compact_commits(con, table: str, table_name: str, horizon_ms: int) -> None:
    """One commit row per writer and group landing time, counting the rows now stored there.
    Table names are matched ignoring case, as DuckDB resolves them: writers and callers may
    spell one table differently."""
    commits = quote_ident(COMMITS_TABLE)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(_KEEP)} AS "
        f"SELECT c.table_name, c.writer_name, c.persisted, m.target AS \"time\", "
        f"max(c.committed_at) AS committed_at "
        f"FROM {commits} AS c JOIN {quote_ident(_MAP)} AS m ON c.\"time\" = m.\"time\" "
        f"WHERE lower(c.table_name) = lower($name) "
        f"GROUP BY c.table_name, c.writer_name, c.persisted, m.target",
        {"name": table_name})
    con.execute(f'DELETE FROM {commits} WHERE lower(table_name) = lower($name) AND "time" <= $h',
                {"name": table_name, "h": horizon_ms})
    con.execute(
        f"INSERT INTO {commits} (table_name, writer_name, \"time\", \"rows\", committed_at, persisted) "
        f"SELECT k.table_name, k.writer_name, k.\"time\", "
        f"(SELECT count(*) FROM {table} AS d WHERE d.\"time\" = k.\"time\"), k.committed_at, k.persisted "
        f"FROM {quote_ident(_KEEP)} AS k ORDER BY k.\"time\"")


def _record_horizon(con, table_name: str, horizon_ms: int) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {quote_ident(RETENTION_TABLE)} ("
        f"table_name VARCHAR PRIMARY KEY, horizon BIGINT NOT NULL, compacted_at TIMESTAMP NOT NULL)")
    con.execute(
        f"INSERT INTO {quote_ident(RETENTION_TABLE)} VALUES (?, ?, now()::TIMESTAMP) "
        f"ON CONFLICT (table_name) DO UPDATE SET "
        f"horizon = greatest(horizon, excluded.horizon), compacted_at = excluded.compacted_at",
        [table_name, horizon_ms])


def refuse_before_horizon(con, table_name: str, name: str, bound_ms: int | None, *,
                          at_horizon_ok: bool) -> None:
    """A moment ``name`` inside the compacted past is refused: the changes up to the horizon
    were folded together, so neither the states nor the changes before it can be told apart.
    ``at_horizon_ok``: the state at the horizon itself is intact (as_of), its changes are not."""
    horizon = compacted_horizon(con, table_name)
    if horizon is None or bound_ms is None or bound_ms > horizon or (at_horizon_ok and bound_ms == horizon):
        return
    after = "at or after" if at_horizon_ok else "after"
    raise ValueError(
        f"table {table_name!r} is compacted up to time {horizon} ({ms_to_text(horizon)}): the "
        f"changes up to that moment were folded together, so what happened before it is gone. "
        f"Pass a {name} {after} it, or keep a longer retention")


def compacted_horizon(con, table_name: str) -> int | None:
    """The latest horizon ``table_name`` was compacted at, or None if never."""
    if not _catalog.table_exists(con, RETENTION_TABLE):
        return None
    row = con.execute(f"SELECT max(horizon) FROM {quote_ident(RETENTION_TABLE)} "
                      "WHERE lower(table_name) = lower(?)",
                      [table_name]).fetchall()
    return row[0][0] if row else None


# --- the writer's retention= -------------------------------------------------------------

MAX_ROWS_PER_COMPACTION = 500_000  # uncompacted old rows folded in by one commit, at most


def retention_ms(retention, *, snapshot: bool) -> int | None:
    """Validate ``write(retention=...)``: a positive timedelta or millisecond count, or None."""
    import datetime as dt

    if retention is None:
        return None
    if snapshot:
        raise ValueError("retention= applies to a change log; a snapshot keeps only the current "
                         "state already. Drop retention= or use output_table_type='stream_of_changes'")
    if isinstance(retention, dt.timedelta):
        ms = retention // dt.timedelta(milliseconds=1)
    elif isinstance(retention, int) and not isinstance(retention, bool):
        ms = retention
    else:
        raise ValueError(f"retention={retention!r} must be a timedelta (e.g. timedelta(days=7)) "
                         f"or a number of milliseconds")
    if ms <= 0:
        raise ValueError(f"retention={retention!r} must be positive: it is how much history to keep")
    return ms


def maybe_compact(con, writer_state: dict, spec, time: int) -> None:
    """The writer's retention hook: compact at ``time - retention``, now and then, a bounded bit.

    It runs when the horizon has moved by a quarter of the retention since the last compaction
    (so the log holds about 1.25 x retention of changes plus the state), and folds in at most
    ``MAX_ROWS_PER_COMPACTION`` uncompacted rows per commit, so a first compaction of a long
    log is spread over several minibatches instead of stalling one.
    """
    keep = getattr(spec, "retention_ms", None)
    if keep is None or spec.snapshot:
        return
    horizon = time - keep
    last = writer_state.get("retention_horizon")
    if last is None:
        last = compacted_horizon(con, spec.table_name)
        last = -(2**62) if last is None else last
    if horizon - last < max(keep // 4, 1):
        writer_state["retention_horizon"] = last
        return
    table = quote_ident(spec.table_name)
    # The latest time up to which the uncompacted rows stay within the budget.
    within, first, total = con.execute(
        f'SELECT max("time") FILTER (WHERE cum <= ?), min("time"), max(cum) FROM ('
        f'SELECT "time", sum(count(*)) OVER (ORDER BY "time") AS cum FROM {table} '
        f'WHERE "time" > ? AND "time" <= ? GROUP BY "time")',
        [MAX_ROWS_PER_COMPACTION, last, horizon]).fetchall()[0]
    if first is None:  # nothing new before the horizon: no work this time
        writer_state["retention_horizon"] = horizon
        return
    if total <= MAX_ROWS_PER_COMPACTION:
        target = horizon
    else:  # catch up in steps; a single minibatch over the budget goes alone
        target = first if within is None else within
    compact_locked(con, spec.table_name, target)
    writer_state["retention_horizon"] = target
