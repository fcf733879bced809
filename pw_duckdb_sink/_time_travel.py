"""Time travel over a change log: the state at a past moment, and the changes of one key.

A change log (``output_table_type="stream_of_changes"``) keeps every change with its minibatch
``time`` (a millisecond epoch) and ``diff`` (+1 / -1), so any past state is one ``GROUP BY``
away: the rows whose ``diff`` sums to more than zero over ``time <= at``.

Multiplicity: Pathway keeps several identical rows apart by their row ids, which the change log
does not store; a row whose diffs sum to ``n > 1`` therefore comes back ``n`` times, so the
result has exactly as many rows as the Pathway table had at that moment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import numbers
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from pw_duckdb_sink import _catalog, _retention
from pw_duckdb_sink._sql import column_list, quote_ident
from pw_duckdb_sink._time_range import datetime_to_ms, ms_to_text

FORMATS = ("arrow", "pandas", "pathway")
_COUNT = "_pw_duckdb_sink_count"  # helper column; never a user column (checked below)


def as_of(database, table_name: str, at, *, format: str = "arrow",
          columns: Sequence[str] | None = None):
    """The state of change-log table ``table_name`` as it was at moment ``at``.

    The state is every row whose ``diff`` sums to more than zero over the changes with
    ``time <= at``; a row whose diffs sum to ``n`` appears ``n`` times. Rows come in no
    particular order.

    Args:
        database: path of the DuckDB file (opened read-only, then closed), or an open
            ``duckdb`` connection (used as is, left open).
        table_name: a change log written with ``output_table_type="stream_of_changes"``.
        at: the moment: a ``datetime`` (naive means UTC; aware is converted), a pandas
            ``Timestamp``, an ISO-8601 string, an ``int`` millisecond epoch (the unit of the
            ``time`` column), or a ``timedelta`` meaning "that long ago".
        format: ``"arrow"`` (a ``pyarrow.Table``), ``"pandas"`` (a ``DataFrame``) or
            ``"pathway"`` (a static ``pw.Table`` whose schema follows the DuckDB types).
        columns: the user columns to return (default: all of them, without ``time``/``diff``).

    Example: what did the dashboard show at 15:00 UTC yesterday? A change log of a running
    total that was 10 from 14:00 and became 25 at 16:00:

    >>> import datetime as dt, duckdb, os, tempfile
    >>> import pw_duckdb_sink
    >>> db = os.path.join(tempfile.mkdtemp(), "sales.duckdb")
    >>> yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    >>> def at(hour):  # a millisecond epoch, the unit of the `time` column
    ...     return int(dt.datetime.combine(yesterday, dt.time(hour), dt.timezone.utc).timestamp() * 1000)
    >>> con = duckdb.connect(db)
    >>> _ = con.execute("CREATE TABLE revenue (country VARCHAR, total BIGINT, time BIGINT, diff SMALLINT)")
    >>> _ = con.executemany("INSERT INTO revenue VALUES (?, ?, ?, ?)",
    ...                     [("PL", 10, at(14), 1), ("PL", 10, at(16), -1), ("PL", 25, at(16), 1)])
    >>> con.close()
    >>> pw_duckdb_sink.as_of(db, "revenue", dt.datetime.combine(yesterday, dt.time(15)), format="pandas")
      country  total
    0      PL     10
    >>> pw_duckdb_sink.as_of(db, "revenue", dt.timedelta(0)).to_pylist()  # now
    [{'country': 'PL', 'total': 25}]
    """
    _check_format(format)
    at_ms = to_epoch_ms(at, what="at")
    with _reading(database) as con:
        user_cols, types = _change_log_columns(con, table_name)
        _retention.refuse_before_horizon(con, table_name, "moment", at_ms, at_horizon_ok=True)
        wanted = _pick_columns(table_name, user_cols, columns)
        cols = column_list(user_cols)
        consolidated = (
            f"SELECT {cols}, CAST(SUM(\"diff\") AS BIGINT) AS {quote_ident(_COUNT)} "
            f"FROM {quote_ident(table_name)} WHERE \"time\" <= ? "
            f"GROUP BY {cols} HAVING SUM(\"diff\") > 0")
        # range(n) repeats each row n times: one output row per row of the Pathway table.
        query = (f"SELECT {', '.join('c.' + quote_ident(c) for c in wanted)} "
                 f"FROM ({consolidated}) AS c, range(c.{quote_ident(_COUNT)})")
        result = con.sql(query, params=[at_ms]).to_arrow_table()
        return _convert(result, format, {c: types[c] for c in wanted})


def history(database, table_name: str, *, key: Mapping[str, Any], since=None, until=None,
            format: str = "arrow"):
    """Every change of the rows matching ``key`` with ``since <= time <= until``, by time.

    ``key`` maps column names to values (``{"country": "PL"}``); ``None`` matches NULL. The
    result has the table's columns, ``time`` and ``diff`` included, ordered by ``time`` and,
    within one minibatch, retractions before insertions (an update reads ``-old, +new``).
    ``since`` / ``until`` take the same kinds of moments as :func:`as_of` (``None``: unbounded).
    After :func:`compact`, the changes up to its horizon are folded together: a ``since`` at or
    before the horizon, or an ``until`` before it, is refused, and without ``since`` those come
    first as the net rows.

    Example: how one country's running total changed (an update is ``-old, +new``):

    >>> import duckdb, os, tempfile
    >>> import pw_duckdb_sink
    >>> db = os.path.join(tempfile.mkdtemp(), "sales.duckdb")
    >>> con = duckdb.connect(db)
    >>> _ = con.execute("CREATE TABLE revenue (country VARCHAR, total BIGINT, time BIGINT, diff SMALLINT)")
    >>> _ = con.executemany("INSERT INTO revenue VALUES (?, ?, ?, ?)", [
    ...     ("PL", 10, 1000, 1), ("DE", 4, 1000, 1), ("PL", 10, 2000, -1), ("PL", 25, 2000, 1)])
    >>> con.close()
    >>> pw_duckdb_sink.history(db, "revenue", key={"country": "PL"}, since=1500, format="pandas")
      country  total  time  diff
    0      PL     10  2000    -1
    1      PL     25  2000     1
    """
    _check_format(format)
    if not isinstance(key, Mapping) or not key:
        raise ValueError("history() needs key={column: value, ...} with at least one column, "
                         "e.g. key={'country': 'PL'}")
    lo = None if since is None else to_epoch_ms(since, what="since")
    hi = None if until is None else to_epoch_ms(until, what="until")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"since ({ms_to_text(lo)}) is after until ({ms_to_text(hi)}); swap them")
    with _reading(database) as con:
        user_cols, types = _change_log_columns(con, table_name)
        _retention.refuse_before_horizon(con, table_name, "since", lo, at_horizon_ok=False)
        _retention.refuse_before_horizon(con, table_name, "until", hi, at_horizon_ok=True)
        # DuckDB resolves column names ignoring case, and so do table names here.
        by_lower = {c.lower(): c for c in user_cols}
        unknown = [c for c in key if not isinstance(c, str) or c.lower() not in by_lower]
        if unknown:
            raise ValueError(f"key columns {unknown} are not columns of {table_name!r}; "
                             f"its columns are {user_cols}")
        key = {by_lower[c.lower()]: v for c, v in key.items()}
        where = [f"{quote_ident(c)} IS NOT DISTINCT FROM ?" for c in key]
        params: list[Any] = list(key.values())
        if lo is not None:
            where.append('"time" >= ?')
            params.append(lo)
        if hi is not None:
            where.append('"time" <= ?')
            params.append(hi)
        all_cols = [*user_cols, "time", "diff"]
        query = (f"SELECT {column_list(all_cols)} FROM {quote_ident(table_name)} "
                 f"WHERE {' AND '.join(where)} ORDER BY \"time\", \"diff\"")
        try:
            result = con.sql(query, params=params).to_arrow_table()
        except duckdb.ConversionException as exc:
            shown = {c: f"{v!r} for {types[c][0]}" for c, v in key.items()}
            raise ValueError(f"key={key!r}: a value does not fit its column's type ({shown}); "
                             f"pass values of the column types. DuckDB said: {exc}") from exc
        return _convert(result, format, {c: types[c] for c in all_cols})


# --- moments -----------------------------------------------------------------------------

def to_epoch_ms(moment, *, what: str = "moment") -> int:
    """A moment as a millisecond epoch (the unit of the change log's ``time`` column)."""
    if isinstance(moment, bool):
        raise ValueError(f"{what}={moment!r} is a bool; pass a datetime, an int millisecond "
                         f"epoch or a timedelta (that long ago)")
    if isinstance(moment, numbers.Integral):  # also numpy ints, as history() returns them
        return int(moment)
    if isinstance(moment, dt.timedelta):
        return datetime_to_ms(dt.datetime.now(dt.timezone.utc) - moment)
    if isinstance(moment, str):
        try:
            moment = dt.datetime.fromisoformat(moment)
        except ValueError as exc:
            raise ValueError(f"{what}={moment!r} is not an ISO-8601 moment such as "
                             f"'2026-12-02T15:00:00'") from exc
    if isinstance(moment, dt.datetime):  # pandas Timestamp is a datetime too
        return datetime_to_ms(moment)
    if isinstance(moment, dt.date):
        raise ValueError(f"{what}={moment!r} is a date without a time of day; pass "
                         f"datetime.combine({moment!r}, time(...))")
    raise ValueError(f"{what}={moment!r} ({type(moment).__name__}) is not a moment; pass a "
                     f"datetime (naive = UTC), a pandas Timestamp, an int millisecond epoch "
                     f"or a timedelta meaning 'that long ago'")


# --- the table ---------------------------------------------------------------------------

@contextlib.contextmanager
def _reading(database) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to ``database``, or the caller's own connection left open."""
    if isinstance(database, duckdb.DuckDBPyConnection):
        yield database
        return
    if not isinstance(database, (str, os.PathLike)):
        raise ValueError(f"database={database!r} is neither a path nor a duckdb connection")
    path = os.fspath(database)
    if path != ":memory:" and not os.path.exists(path):
        raise ValueError(f"no DuckDB database at {path!r}; check the path given to write()")
    con = _connect_read_only(path)
    try:
        yield con
    finally:
        con.close()


def _connect_read_only(path: str) -> duckdb.DuckDBPyConnection:
    try:
        from pw_duckdb_sink import _connect
    except ImportError:  # core's connector not there yet: a plain read-only open
        return duckdb.connect(path, read_only=True)
    return _connect.connect(path, read_only=True)


def _change_log_columns(con, table_name: str) -> tuple[list[str], dict[str, tuple[str, bool]]]:
    """The user columns of change log ``table_name``; every column's DuckDB type and nullability."""
    if not isinstance(table_name, str) or not table_name:
        raise ValueError(f"table_name={table_name!r} must be a non-empty string")
    rows = con.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = current_schema() "
        "AND lower(table_name) = lower(?) ORDER BY column_index", [table_name]).fetchall()
    if not rows:
        raise ValueError(f"no table {table_name!r} in the database; check table_name "
                         f"(the one passed to write())")
    types = {name: (typ, nullable) for name, typ, nullable in rows}
    if _catalog.registered_kind(con, table_name) == "snapshot" or not {"time", "diff"} <= types.keys():
        raise ValueError(
            f"table {table_name!r} is not a change log (no time/diff columns): a snapshot keeps "
            f"only the current state. Write it with output_table_type='stream_of_changes' to "
            f"travel in time.")
    user = [row[0] for row in rows if row[0] not in ("time", "diff")]
    if _COUNT in types:
        raise ValueError(f"column {_COUNT!r} of {table_name!r} is reserved by pw_duckdb_sink")
    return user, types


def _pick_columns(table_name: str, user_cols: list[str], columns) -> list[str]:
    if columns is None:
        return list(user_cols)
    if isinstance(columns, str):
        raise ValueError(f"columns={columns!r} must be a list of names, e.g. [{columns!r}]")
    unknown = [c for c in columns if c not in user_cols]
    if unknown:
        raise ValueError(f"columns {unknown} are not user columns of {table_name!r}; "
                         f"pick from {user_cols}")
    return list(columns)


# --- output ------------------------------------------------------------------------------

def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"format={format!r} is not one of {FORMATS}")


def _convert(result: pa.Table, format: str, types: dict[str, tuple[str, bool]]):
    if format == "arrow":
        return result
    if format == "pandas":
        return result.to_pandas()
    return _to_pathway(result, types)


def _to_pathway(result: pa.Table, types: dict[str, tuple[str, bool]]):
    """A static Pathway table with a schema derived from the DuckDB column types."""
    import pathway as pw

    from pw_duckdb_sink._types import pathway_dtype

    schema = pw.schema_builder({
        name: pw.column_definition(dtype=pathway_dtype(typ, nullable=nullable))
        for name, (typ, nullable) in types.items()})
    frame = result.to_pandas()
    if not len(frame):
        return pw.Table.empty(**schema.typehints())
    return pw.debug.table_from_pandas(frame, schema=schema)

