"""The historical baseline: what earlier runs wrote, as a static Pathway table, and the join
that adds it to the running session (`read_baseline`, `with_baseline`).

A change log is first consolidated (SUM(diff) per row, rows with a positive count kept, each
weighted by that count), a snapshot is read as is; then the rows are aggregated per key in
DuckDB and handed to Pathway with ids built from the key, exactly as `groupby(key)` builds them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import duckdb
import pandas as pd
import pathway as pw
from pathway.internals import dtype as pdt

from . import _catalog, _connect, _retention, _time_range, _types
from ._sql import quote_ident as q

logger = logging.getLogger(__name__)

_OPS = ("sum", "count", "min", "max", "last")
_NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                     "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")
_INT_PREFIXES = _NUMERIC_PREFIXES[:9]


def _parse_aggregates(aggregates) -> list[tuple[str, str, str | None]]:
    """(output name, op, source column or None) for each requested aggregate."""
    if not isinstance(aggregates, dict) or not aggregates:
        raise ValueError('aggregates must be a non-empty dict such as {"revenue": ("sum", "dollar_value"), '
                         '"orders": "count"}')
    parsed = []
    for out, spec in aggregates.items():
        if isinstance(spec, str):
            # Shorthand: "count" counts rows; any other op applies to the column of the same name.
            op, col = spec, (None if spec == "count" else out)
        elif isinstance(spec, tuple) and len(spec) == 2:
            op, col = spec
        else:
            raise ValueError(f"aggregates[{out!r}]={spec!r}: give (op, column) or an op name")
        if op == "avg":
            raise ValueError(f"aggregates[{out!r}]: an average cannot be added to a session's average; "
                             "read its sum and count instead and let with_baseline recombine them: "
                             "columns={..., 'avg': ('avg', 'sum_col', 'count_col')}")
        if op not in _OPS:
            raise ValueError(f"aggregates[{out!r}]: unknown op {op!r}; use one of {', '.join(_OPS)}")
        if col is None and op != "count":
            raise ValueError(f"aggregates[{out!r}]: {op} needs a column")
        parsed.append((out, op, col))
    return parsed


def _storage_has_state(persistence_config) -> bool:
    """Whether a run with this config restores a state (filesystem: the directory holds files)."""
    backend = getattr(persistence_config, "backend", None)
    path = getattr(backend, "_fs_path", None)
    if path is None:
        return True  # S3 / Azure / others: assumed to exist, see the docstring
    path = Path(path)
    return path.is_dir() and any(path.iterdir())


def _open(database: str) -> duckdb.DuckDBPyConnection:
    try:
        return _connect.connect(database, read_only=True)
    except duckdb.ConnectionException as exc:
        # This process already holds the file read-write (a writer here): share that instance.
        if "different configuration" not in str(exc):
            raise
        return duckdb.connect(database)


def _columns(con, table_name: str) -> dict[str, str] | None:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        # DuckDB resolves names ignoring case, and so does write(): "Orders" is orders.
        "WHERE table_schema = current_schema() AND lower(table_name) = lower(?) ORDER BY ordinal_position",
        [table_name]).fetchall()
    return {name: typ for name, typ in rows} or None


def _kind(con, table_name: str, columns: dict[str, str]) -> str:
    kind = _catalog.registered_kind(con, table_name)
    if kind is not None:
        return kind
    return "stream_of_changes" if {"time", "diff"} <= set(columns) else "snapshot"


def _output_types(parsed, key, source_types: dict[str, pdt.DType] | None) -> dict[str, pdt.DType]:
    """Pathway dtypes of the baseline's columns, from the source columns' dtypes (ANY if unknown)."""
    def src(col):
        return (source_types or {}).get(col, pdt.ANY)
    types = {k: src(k) for k in key}
    for out, op, col in parsed:
        if op == "count":
            types[out] = pdt.INT
        elif op == "sum":
            types[out] = pdt.INT if pdt.unoptionalize(src(col)) == pdt.INT else pdt.FLOAT
        else:
            types[out] = src(col)
    return types


def _check_fit(table_name, columns, kind, key, parsed, time_column, ranged) -> None:
    user = [c for c in columns if not (kind == "stream_of_changes" and c in ("time", "diff"))]
    needed = list(key) + [col for _, _, col in parsed if col is not None]
    if time_column is not None:
        needed.append(time_column)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ValueError(f"table {table_name!r} has no column(s) {missing}; it has {user}. "
                         "Fix key=, aggregates= or time_column=, or read another table")
    for out, op, col in parsed:
        if op == "sum" and not columns[col].upper().startswith(_NUMERIC_PREFIXES):
            raise ValueError(f"aggregates[{out!r}]: cannot sum column {col!r} of type {columns[col]}; "
                             "sum a numeric column")
        if op == "last" and kind == "snapshot" and time_column is None:
            raise ValueError(f"aggregates[{out!r}]: 'last' on snapshot {table_name!r} needs time_column= "
                             "(a snapshot keeps no write time)")
    if ranged and kind == "snapshot" and time_column is None:
        raise ValueError(f"since/until on snapshot {table_name!r} need time_column= (a snapshot keeps "
                         "no write time)")


def _agg_sql(out, op, col, columns, order_col) -> str:
    if op == "count":
        inner = "_pw_n" if col is None else f"CASE WHEN {q(col)} IS NULL THEN 0 ELSE _pw_n END"
        return f"CAST(COALESCE(SUM({inner}), 0) AS BIGINT) AS {q(out)}"
    if op == "sum":
        target = "BIGINT" if columns[col].upper().startswith(_INT_PREFIXES) else "DOUBLE"
        return f"CAST(SUM({q(col)} * _pw_n) AS {target}) AS {q(out)}"
    if op in ("min", "max"):
        return f"{op.upper()}({q(col)}) AS {q(out)}"
    return f"arg_max({q(col)}, {order_col}) AS {q(out)}"


def _query(*, table_name, columns, kind, key, parsed, time_column, lo, hi, excluded_writer, flagged):
    """The SQL (and its parameters) computing the baseline rows. ``flagged``: the commits table
    records whether each commit's run had persistence."""
    params: list = []
    if kind == "stream_of_changes":
        where = ["TRUE"]
        if time_column is None and hi is not None:
            where.append('"time" < ?')
            params.append(hi)
        if excluded_writer is not None:
            # Only commits of runs with persistence can be in the restored session; NULL is a
            # file from before `persisted` was recorded.
            where.append(f'"time" NOT IN (SELECT "time" FROM {q(_catalog.COMMITS)} '
                         "WHERE lower(table_name) = lower(?) AND writer_name = ?"
                         f"{' AND persisted IS NOT FALSE' if flagged else ''})")
            params += [table_name, excluded_writer]
        user = [c for c in columns if c not in ("time", "diff")]
        state = (f'SELECT {", ".join(q(c) for c in user)}, SUM("diff") AS _pw_n, '
                 f'MAX("time") FILTER (WHERE "diff" > 0) AS _pw_t FROM {q(table_name)} '
                 f'WHERE {" AND ".join(where)} GROUP BY ALL HAVING SUM("diff") > 0')
    else:
        state = f"SELECT *, 1 AS _pw_n, NULL AS _pw_t FROM {q(table_name)}"
    filters = []
    order_col = q(time_column) if time_column is not None else "_pw_t"
    if time_column is not None:
        if lo is not None:
            filters.append(f"{q(time_column)} >= ?")
        if hi is not None:
            filters.append(f"{q(time_column)} < ?")
        params += [v for v in (lo, hi) if v is not None]
    elif lo is not None:
        filters.append("_pw_t >= ?")
        params.append(lo)
    select = [q(k) for k in key] + [_agg_sql(out, op, col, columns, order_col) for out, op, col in parsed]
    sql = f"SELECT {', '.join(select)} FROM ({state}) AS s"
    if filters:
        sql += " WHERE " + " AND ".join(filters)
    sql += f" GROUP BY {', '.join(q(k) for k in key)}" if key else " HAVING COUNT(*) > 0"
    return sql, params


def read_baseline(
    *,
    database: str | os.PathLike,
    table_name: str,
    aggregates: dict,
    key: list[str] | None = None,
    since: dt.datetime | dt.timedelta | str | int | None = None,
    until: dt.datetime | dt.timedelta | str | int | None = None,
    tz: str | dt.tzinfo | None = None,
    time_column: str | None = None,
    schema: type[pw.Schema] | None = None,
    exclude_writer: str | None = None,
    persistence_config: pw.persistence.Config | None = None,
) -> pw.Table:
    """Reads what earlier runs wrote into ``table_name`` as a static table to add to a session.

    The rows of the table are aggregated per ``key`` in DuckDB. A change log
    (``stream_of_changes``: the user's columns plus ``time`` and ``diff``) is consolidated
    first: each distinct row counts ``SUM(diff)`` times, and rows whose count is not positive
    are dropped. A snapshot is read as is. The result has the ``key`` columns and one column per
    aggregate, and its ids are made from the key exactly as ``groupby(*key)`` makes them (for
    ``key=None``: one row, with the id a global ``reduce()`` gets), so it lines up with a session
    aggregate; :func:`with_baseline` does the adding.

    ``aggregates`` maps output names to ``(op, column)``; ``op`` is ``"sum"``, ``"count"``
    (``("count", None)`` or just ``"count"`` counts rows; ``("count", col)`` counts non-null
    values), ``"min"``, ``"max"`` or ``"last"`` (the value of the latest row: by ``time_column``
    if given, else by the change log's ``time``; a snapshot needs ``time_column``). A bare op
    string other than ``"count"`` applies to the column of the output's own name. An average is
    read as a sum and a count, so that ``with_baseline`` can recombine it with the session's.

    Time range: ``since`` (inclusive) and ``until`` (exclusive) each take a ``datetime`` (naive =
    wall-clock time in ``tz``), a ``timedelta`` (that long before now), ``"today"`` (midnight
    in ``tz``, UTC by default) or an ``int`` millisecond epoch. They apply to ``time_column``
    (TIMESTAMP, TIMESTAMPTZ, DATE or a millisecond-epoch integer) when given, else to the
    change log's ``time``: ``until`` then gives the consolidated state as of that moment and
    ``since`` keeps the rows of that state inserted at or after it.

    First start: a database file or table that does not exist yet gives an EMPTY baseline, not
    an error. Its column types come from ``schema`` (a ``pw.Schema`` of the source table's
    columns) when given; otherwise counts are ``int``, sums ``float`` and other columns ``ANY``;
    ``with_baseline`` adapts them to the session's types. A table that exists but lacks a
    named column, whose summed column is not numeric, or whose columns disagree with a given
    ``schema``, raises ``ValueError``.

    Pathway persistence: a run with ``pw.run(persistence_config=cfg)`` restores the session's
    state and re-emits the all-time aggregate, so whatever the session's own named writer
    committed is already in the session. Pass ``exclude_writer="<write(name=...)>"`` and
    ``persistence_config=cfg`` (the same object given to ``pw.run``): if the storage holds a
    state (filesystem backend: the directory exists and is non-empty; other backends are assumed
    to), the rows that writer committed in runs with persistence (matched through
    ``_pw_duckdb_sink_commits.time``) are left out, while those of its runs without persistence
    still count; if it was wiped, nothing is restored and nothing is left out. For a snapshot
    written by that writer the whole table is left out. Without persistence, pass neither.

    Reading opens its own read-only connection, waits (bounded, 30 s) while a writer in another
    process holds the file, and closes it before returning.

    Args:
        database: The DuckDB file the sink writes.
        table_name: The table to read.
        aggregates: Output column -> ``(op, column)`` (see above).
        key: Columns to group by; ``None`` gives one row (a global total).
        since, until: The time range (see above).
        tz: Time zone for ``"today"`` and naive datetimes, e.g. ``"Europe/Warsaw"``.
        time_column: A user column to apply the range and ``"last"`` to.
        schema: The source table's schema, to fix the output types (needed for exact types
            before the table exists).
        exclude_writer: The session's own writer name (with persistence only).
        persistence_config: The persistence config the pipeline runs with.

    Returns:
        A static ``pw.Table``: the key columns and one column per aggregate.

    Example:

    >>> import duckdb, os, tempfile
    >>> import pathway as pw
    >>> import pw_duckdb_sink
    >>> db = os.path.join(tempfile.mkdtemp(), "shop.duckdb")
    >>> con = duckdb.connect(db)
    >>> _ = con.execute("CREATE TABLE orders (shop VARCHAR, amount DOUBLE, time BIGINT, diff SMALLINT)")
    >>> _ = con.execute("INSERT INTO orders VALUES ('a', 5, 1, 1), ('a', 7, 2, 1), ('b', 1, 2, 1), ('b', 1, 3, -1)")
    >>> con.close()
    >>> base = pw_duckdb_sink.read_baseline(database=db, table_name="orders", key=["shop"],
    ...     aggregates={"revenue": ("sum", "amount"), "orders": "count"})
    >>> pw.debug.compute_and_print(base, include_id=False)
    shop | revenue | orders
    a    | 12.0    | 2
    """
    key = _check_key(key)
    parsed = _parse_aggregates(aggregates)
    clash = [out for out, _, _ in parsed if out in key]
    if clash:
        raise ValueError(f"aggregates {clash} have the name of a key column; the result holds the key "
                         "columns and one column per aggregate, so give these aggregates other names")
    if (exclude_writer is None) != (persistence_config is None):
        raise ValueError("exclude_writer= and persistence_config= go together: pass both when the "
                         "pipeline runs with persistence (the session then holds that writer's rows), "
                         "neither without it")
    zone = _time_range.zone(tz)
    now = dt.datetime.now(dt.timezone.utc)
    lo = _time_range.resolve(since, name="since", tz=zone, now=now)
    hi = _time_range.resolve(until, name="until", tz=zone, now=now)
    if lo is not None and hi is not None and lo >= hi:
        raise ValueError(f"since ({lo.isoformat()}) is not before until ({hi.isoformat()}): the range "
                         "is empty. since is the start (inclusive), until the end (exclusive); swap them")
    source_types = ({n: c.dtype for n, c in schema.columns().items()} if schema is not None else None)
    excluded = exclude_writer if exclude_writer is not None and _storage_has_state(persistence_config) else None

    rows = None
    if Path(os.fspath(database)).exists():
        con = _open(os.fspath(database))
        try:
            rows, source_types = _fetch(con, table_name=table_name, key=key, parsed=parsed,
                                        time_column=time_column, lo=lo, hi=hi, zone=zone,
                                        excluded=excluded, source_types=source_types)
        finally:
            con.close()
    types = _output_types(parsed, key, source_types)
    if rows is None:
        rows = pd.DataFrame({name: pd.Series([], dtype=object) for name in types})
    types = {n: (pdt.Optional(t) if rows[n].isna().any() and t != pdt.ANY else t) for n, t in types.items()}
    table = pw.debug.table_from_pandas(rows, schema=pw.schema_from_types(**{n: t.typehint for n, t in types.items()}))
    return table.with_id_from(*[table[k] for k in key])


def _check_key(key) -> list[str]:
    if key is None:
        return []
    if isinstance(key, str) or not all(isinstance(k, str) for k in key):
        raise ValueError(f"key={key!r}: give a list of column names, e.g. key=['region']")
    return list(key)


def _check_schema(table_name, columns, derived, given, key, parsed) -> None:
    """A given schema must agree with the table on every column the baseline reads: the output
    types come from the schema, the values from the table."""
    used = list(dict.fromkeys(list(key) + [col for _, _, col in parsed if col is not None]))
    for col in used:
        want, have = pdt.unoptionalize(given.get(col, pdt.ANY)), pdt.unoptionalize(derived[col])
        if want != pdt.ANY and have != pdt.ANY and want != have:
            raise ValueError(f"schema= declares column {col!r} as {want.typehint}, but table "
                             f"{table_name!r} stores it as {columns[col]} ({have.typehint}); fix the "
                             "schema, or leave schema= out to derive the types from the table")


def _fetch(con, *, table_name, key, parsed, time_column, lo, hi, zone, excluded, source_types):
    """(rows as a DataFrame or None if the table is missing, source column dtypes)."""
    columns = _columns(con, table_name)
    if columns is None:
        others = [n for (n,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND NOT starts_with(table_name, ?) ORDER BY 1", ["_pw_duckdb_sink_"]).fetchall()]
        if others:  # a first start has no table yet; a typo would silently read nothing
            logger.warning("read_baseline: no table %r in this database (it has %s); the baseline is "
                           "empty. Right on a first start; otherwise check table_name=",
                           table_name, others)
        return None, source_types
    kind = _kind(con, table_name, columns)
    _check_fit(table_name, columns, kind, key, parsed, time_column, lo is not None or hi is not None)
    derived = {}
    for name, typ in columns.items():
        try:
            derived[name] = _types.pathway_dtype(typ)
        except Exception:
            derived[name] = pdt.ANY
    if source_types is None:
        source_types = derived
    else:
        _check_schema(table_name, columns, derived, source_types, key, parsed)
    if excluded is not None:
        committed = _catalog.committed_writers(con, table_name)
        if excluded not in committed:  # a typo would silently count the session twice
            logger.warning("read_baseline: writer %r never committed to table %r (writers that did: %s), "
                           "so nothing is left out. Right on a first start; otherwise check that "
                           "exclude_writer= is the name= given to write()", excluded, table_name, committed)
            excluded = None
    if excluded is not None and kind == "snapshot":
        writers = [e for e in _catalog.read_tables(con) if e["table_name"].lower() == table_name.lower()]
        if writers and writers[0]["writer_name"] == excluded:
            return None, source_types  # the restored session holds this whole snapshot
    flagged = excluded is not None and _catalog.commits_have_persisted(con)
    bound_type = columns[time_column] if time_column is not None else "BIGINT"
    lo_v = None if lo is None else _time_range.for_column(lo, bound_type, tz=zone)
    hi_v = None if hi is None else _time_range.for_column(hi, bound_type, tz=zone)
    if kind == "stream_of_changes" and time_column is None:
        # `until` is exclusive: until = horizon would ask for the state just before it.
        for name, bound in (("since", lo_v), ("until", hi_v)):
            _retention.refuse_before_horizon(con, table_name, name, bound, at_horizon_ok=False)
    sql, params = _query(table_name=table_name, columns=columns, kind=kind, key=key, parsed=parsed,
                         time_column=time_column, lo=lo_v, hi=hi_v, excluded_writer=excluded, flagged=flagged)
    return con.execute(sql, params).df(), source_types


# --- adding the baseline to the session -------------------------------------------------

_COMBINE = ("sum", "count", "min", "max", "last", "avg")


def _parse_columns(columns) -> list[tuple[str, str, tuple[str, ...]]]:
    if not isinstance(columns, dict) or not columns:
        raise ValueError('columns must be a non-empty dict such as {"revenue": "sum", "orders": "count", '
                         '"avg_order": ("avg", "revenue", "orders")}')
    parsed = []
    for out, spec in columns.items():
        if not isinstance(spec, (str, tuple, list)) or not spec:
            raise ValueError(f"columns[{out!r}]={spec!r}: give an op name such as 'sum', (op, column) "
                             "or ('avg', sum_column, count_column)")
        op, args = (spec, (out,)) if isinstance(spec, str) else (spec[0], tuple(spec[1:]))
        if op not in _COMBINE:
            raise ValueError(f"columns[{out!r}]: unknown op {op!r}; use one of {', '.join(_COMBINE)}")
        if op == "avg" and len(args) != 2:
            raise ValueError(f"columns[{out!r}]: avg needs ('avg', sum_column, count_column)")
        if op != "avg" and len(args) != 1:
            raise ValueError(f"columns[{out!r}]: give an op name or (op, column)")
        parsed.append((out, op, args))
    return parsed


def _fit(expr, have: pdt.DType, want: pdt.DType, name: str):
    """`expr` (a baseline column) typed as the session's column, so the two can be combined."""
    have, want = pdt.unoptionalize(have), pdt.unoptionalize(want)
    if have == want:
        return expr
    numbers = (pdt.INT, pdt.FLOAT)
    if pdt.ANY not in (have, want) and not (have in numbers and want in numbers):
        raise ValueError(f"with_baseline: column {name!r} is {want.typehint} in the session but "
                         f"{have.typehint} in the baseline; both sides must hold the same kind of "
                         "value (check key= and columns=, or read_baseline's schema=)")
    if have == pdt.INT and want == pdt.FLOAT:
        return pw.cast(float, expr)
    if have == pdt.FLOAT and want == pdt.INT:
        return expr  # never truncate: the combination is done in float (see `combined`)
    return pw.declare_type(pdt.Optional(want), expr)  # ANY (empty first-start baseline) and the like


def _pick(op):
    def pick(a, b):
        if a is None or b is None:
            return b if a is None else a
        return min(a, b) if op == "min" else max(a, b)
    return pick


def _avg(total, count):
    return None if not count else total / count


def with_baseline(session: pw.Table, baseline: pw.Table, *, columns: dict, key: list[str] | None = None) -> pw.Table:
    """Adds a baseline (see :func:`read_baseline`) to a session aggregate, column by column.

    An outer join on ``key`` (for ``key=None`` both sides are single-row totals), so a key that
    exists on one side only is kept; a missing side counts as nothing. ``columns`` maps each
    output column to how the two sides combine:

    - ``"sum"`` / ``"count"``: the two values added (a missing side is 0);
    - ``"min"`` / ``"max"``: the smaller / larger of the two;
    - ``"last"``: the session's value when the session has the key (it is newer), else the
      baseline's;
    - ``("avg", sum_column, count_column)``: the combined sum divided by the combined count
      (``None`` while the count is 0), which is the right all-time average;
    - ``(op, column)`` reads a column of another name (same name on both sides).

    Baseline columns are brought to the session's types (int -> float and so on), so an empty
    first-start baseline of unknown types joins as well. The result has the key columns and the
    ``columns``, with ids made from the key the way ``groupby(*key)`` makes them.

    Example:

    >>> import pathway as pw
    >>> import pw_duckdb_sink
    >>> orders = pw.debug.table_from_markdown('''
    ...     shop | amount
    ...     a    | 5.0
    ...     c    | 2.0
    ... ''')
    >>> session = orders.groupby(orders.shop).reduce(
    ...     orders.shop, revenue=pw.reducers.sum(orders.amount), orders=pw.reducers.count())
    >>> baseline = pw.debug.table_from_markdown('''
    ...     shop | revenue | orders
    ...     a    | 12.0    | 2
    ...     b    | 1.0     | 1
    ... ''')
    >>> total = pw_duckdb_sink.with_baseline(session, baseline, key=["shop"],
    ...     columns={"revenue": "sum", "orders": "count", "avg": ("avg", "revenue", "orders")})
    >>> pw.debug.compute_and_print(total, include_id=False)
    shop | revenue | orders | avg
    a    | 17      | 3      | 5.666666666666667
    b    | 1       | 1      | 1.0
    c    | 2       | 1      | 2.0
    """
    key = _check_key(key)
    parsed = _parse_columns(columns)
    sources = list(dict.fromkeys(a for _, op, args in parsed for a in args))
    for side, table in (("session", session), ("baseline", baseline)):
        missing = [c for c in key + sources if c not in table.column_names()]
        if missing:
            raise ValueError(f"with_baseline: the {side} table has no column(s) {missing}; "
                             f"it has {list(table.column_names())}")
    if not key:
        # Single-row totals share no column they do not combine; a shared one is a forgotten key
        # (left out, every session row would join the one total and ids would clash at run time).
        shared = [c for c in session.column_names() if c in baseline.column_names() and c not in sources]
        if shared:
            raise ValueError(f"with_baseline: both tables have column(s) {shared} that columns= does not "
                             f"combine; if both are grouped by them pass key={shared}, otherwise drop "
                             "them from one side (without key= both sides must be single-row totals)")
    s_types = dict(session.typehints())
    b_types = baseline.typehints()
    # A float baseline makes an int session column a float. Cast before the outer join: after
    # it, a key only the baseline has leaves the session's int column None, which cast refuses.
    widen = [c for c in sources if c not in key
             and pdt.unoptionalize(pdt.wrap(s_types[c])) == pdt.INT
             and pdt.unoptionalize(pdt.wrap(b_types[c])) == pdt.FLOAT]
    def as_float(c):
        if pdt.wrap(s_types[c]) == pdt.INT:
            return pw.cast(float, session[c])
        # pw.cast stops the run on a None, so an Optional column goes through Python.
        return pw.apply_with_type(lambda v: None if v is None else float(v), pdt.Optional(pdt.FLOAT),
                                  session[c])

    s = session.select(_pw_one=0, **{c: (as_float(c) if c in widen else session[c]) for c in key + sources})
    for c in widen:
        s_types[c] = float if pdt.wrap(s_types[c]) == pdt.INT else pdt.Optional(pdt.FLOAT).typehint
    b = baseline.select(_pw_one=0, **{
        c: _fit(baseline[c], pdt.wrap(b_types[c]), pdt.wrap(s_types[c]), c) for c in key + sources})
    if key:
        joined = s.join_outer(b, *[s[k] == b[k] for k in key])
    else:
        joined = s.join_outer(b, s._pw_one == b._pw_one)

    def combined(op, col):
        st = pdt.unoptionalize(pdt.wrap(s_types[col]))
        sv, bv = s[col], b[col]
        if op in ("sum", "count"):
            zero = 0.0 if st == pdt.FLOAT else 0
            return pw.coalesce(sv, zero) + pw.coalesce(bv, zero)
        if op == "last":
            return pw.if_else(s._pw_one.is_not_none(), sv, bv)
        return pw.apply_with_type(_pick(op), pdt.Optional(st), sv, bv)

    out = {k: pw.coalesce(s[k], b[k]) for k in key}
    for name, op, args in parsed:
        if op == "avg":
            out[name] = pw.apply_with_type(_avg, pdt.Optional(pdt.FLOAT),
                                           combined("sum", args[0]), combined("sum", args[1]))
        else:
            out[name] = combined(op, args[0])
    result = joined.select(**out)
    return result.with_id_from(*[result[k] for k in key])
