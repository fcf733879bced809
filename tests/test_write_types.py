"""Every type of the native writer's table round-trips: right DuckDB type, right value.

Values are built in Python, pushed through Pathway with pw.apply_with_type, and the value
expected back from DuckDB is derived from the same Python value (never pasted from output).
"""

import datetime as dt
import json
import math
import typing

import numpy as np
import pandas as pd
import pathway as pw
import pathway.engine as pw_engine
import pytest

import pw_duckdb_sink
from pw_duckdb_sink._sql import quote_ident

RUN = dict(monitoring_level=pw.MonitoringLevel.NONE)
NAN, INF = float("nan"), float("inf")


def _naive(ts: pd.Timestamp) -> dt.datetime:
    return ts.to_pydatetime()


def _utc_wall_clock(ts: pd.Timestamp) -> dt.datetime:
    return ts.tz_convert("UTC").tz_localize(None).to_pydatetime()


def _json(j):
    return j.value


# column -> (Pathway type, DuckDB type, values per row, value expected back from a value)
COLUMNS = {
    "b": (bool, "BOOLEAN", [True, False, True], bool),
    "i": (int, "BIGINT", [2**62, -(2**63), 0], int),
    "f": (float, "DOUBLE", [NAN, INF, -INF], float),
    "f2": (float, "DOUBLE", [0.1, -0.0, 1e308], float),
    "s": (str, "VARCHAR", ["zażółć gęślą jaźń 🦆", "", 'quote " and \\ and \n'], str),
    "by": (bytes, "BLOB", [b"\x00\xff\x10", b"", "é".encode()], bytes),
    "dn": (pw.DateTimeNaive, "TIMESTAMP",
           [pd.Timestamp("2024-03-01 12:34:56.789012"), pd.Timestamp("1970-01-01"),
            pd.Timestamp("1900-06-30 23:59:59")], _naive),
    "du": (pw.DateTimeUtc, "TIMESTAMP",
           [pd.Timestamp("2024-03-01 12:34:56.789012+02:00"), pd.Timestamp("2024-12-31 23:00", tz="UTC"),
            pd.Timestamp("2024-07-01 01:30-05:30")], _utc_wall_clock),
    "d": (pw.Duration, "INTERVAL",
          [pd.Timedelta(days=1, microseconds=5), pd.Timedelta(seconds=-3), pd.Timedelta(0)],
          lambda td: td.to_pytimedelta()),
    "j": (pw.Json, "JSON",
          [pw.Json({"i": 1, "l": [1, None], "s": "ż"}), pw.Json("x"), pw.Json([1.5, True])], _json),
    "li": (list[int], "BIGINT[]", [[1, 2, 3], [], [-(2**63)]], list),
    "lf": (list[float], "DOUBLE[]", [[NAN, INF, -INF], [0.5], []], list),
    "lo": (list[int | None], "BIGINT[]", [[1, None], [None], []], list),
    "ll": (list[list[str]], "VARCHAR[][]", [[["a"], []], [], [["b", "c"]]], lambda v: [list(x) for x in v]),
    "ts": (tuple[str, ...], "VARCHAR[]", [("a", "b"), (), ("ż",)], list),
    # a tuple of mixed element types has no list type: a JSON array, as in the native table
    "tm": (tuple[int, str, float, bool | None], "JSON",
           [(1, "ż", 2.5, None), (-2, "", 0.0, True), (0, '"q"', -1e-9, False)], list),
    # Pathway's bincode payload, as in the native table
    "po": (pw.PyObjectWrapper, "BLOB",
           [pw.wrap_py_object({"a": [1, 2]}), pw.wrap_py_object("ż"), pw.wrap_py_object(None)],
           lambda w: w.value),
    "oi": (int | None, "BIGINT", [None, 3, None], lambda v: v),
    "os": (str | None, "VARCHAR", ["x", None, None], lambda v: v),
    "of": (float | None, "DOUBLE", [None, NAN, 1.0], lambda v: v),
    "odt": (pw.DateTimeNaive | None, "TIMESTAMP", [None, pd.Timestamp("2020-02-29"), None],
            lambda v: None if v is None else _naive(v)),
    "oj": (pw.Json | None, "JSON", [None, pw.Json({}), None], lambda v: None if v is None else v.value),
    "ol": (list[int] | None, "BIGINT[]", [None, [1], []], lambda v: None if v is None else list(v)),
    "a1": (np.ndarray, "DOUBLE[]",
           [np.array([1.0, NAN, INF]), np.array([-INF]), np.array([], dtype=float)], lambda a: a.tolist()),
    "ai": (np.ndarray[typing.Any, np.dtype[np.int64]], "BIGINT[]",
           [np.array([1, 2**40]), np.array([-1]), np.array([0, 0, 0])], lambda a: a.tolist()),
    "a2": (np.ndarray[tuple[int, int], np.dtype[np.float64]], "DOUBLE[][]",
           [np.array([[1.0, 2.0], [3.0, -INF]]), np.array([[NAN]]), np.zeros((0, 2))], lambda a: a.tolist()),
    "oa": (np.ndarray | None, "DOUBLE[]", [None, np.array([2.5, NAN]), None],
           lambda a: None if a is None else a.tolist()),
}
N_ROWS = 3


def _same(got, want) -> bool:
    """Equality where NaN equals NaN (at any depth) and -0.0 keeps its sign."""
    if isinstance(want, float) and isinstance(got, float):
        if math.isnan(want):
            return math.isnan(got)
        return got == want and math.copysign(1, got) == math.copysign(1, want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_same, got, want))
    return type(got) is type(want) and got == want


def _typed_table():
    base = pw.debug.table_from_rows(pw.schema_from_types(n=int), [(n,) for n in range(N_ROWS)])
    cols = {c: pw.apply_with_type(lambda n, v=values: v[n], ty, pw.this.n)
            for c, (ty, _, values, _) in COLUMNS.items()}
    t = base.select(pw.this.n, **cols)
    return t.with_columns(p=t.id)  # a Pointer column


def _pointers_by_n(table):
    seen = {}
    pw.io.subscribe(table, lambda key, row, time, is_addition: seen.__setitem__(row["n"], row["p"]))
    return seen


def _expected_rows(pointers):
    return {n: {**{c: back(values[n]) if values[n] is not None else None
                   for c, (_, _, values, back) in COLUMNS.items()},
                "p": str(pointers[n])}
            for n in range(N_ROWS)}


@pytest.mark.parametrize("output_table_type", ["stream_of_changes", "snapshot"])
def test_every_type_round_trips(db_path, query, output_table_type):
    t = _typed_table()
    extra = dict(primary_key=[t.n]) if output_table_type == "snapshot" else {}
    pw_duckdb_sink.write(t, table_name="typed", database=db_path, init_mode="create_if_not_exists",
                         output_table_type=output_table_type, **extra)
    pointers = _pointers_by_n(t)
    pw.run(**RUN)

    types = dict(query(db_path, "SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'typed'"))
    nullable = dict(query(db_path, "SELECT column_name, is_nullable FROM information_schema.columns "
                                   "WHERE table_name = 'typed'"))
    for c, (ty, duck, _, _) in COLUMNS.items():
        assert types[c] == duck, c
        optional = typing.get_origin(ty) in (typing.Union, __import__("types").UnionType)
        assert nullable[c] == ("YES" if optional else "NO"), c
    assert types["p"] == "VARCHAR" and types["n"] == "BIGINT"

    names = ["n", *COLUMNS, "p"]
    rows = query(db_path, f"SELECT {', '.join(map(quote_ident, names))} FROM typed")
    assert len(rows) == N_ROWS
    expected = _expected_rows(pointers)
    for row in rows:
        got = dict(zip(names, row))
        for c, (_, duck, _, _) in COLUMNS.items():
            if duck == "JSON" and got[c] is not None:
                got[c] = json.loads(got[c])
        got["po"] = pw_engine.deserialize(got["po"]).value
        want = expected[got["n"]]
        for c in [*COLUMNS, "p"]:
            assert _same(got[c], want[c]), (c, got[c], want[c])


def test_sub_microsecond_parts_are_truncated_like_duckdb_does(db_path, query):
    """DuckDB TIMESTAMP/INTERVAL hold microseconds; Pathway's nanoseconds are cut, not refused."""
    ts = pd.Timestamp("2024-03-01 12:34:56.789012345")
    td = pd.Timedelta(nanoseconds=1_500)
    base = pw.debug.table_from_rows(pw.schema_from_types(n=int), [(0,)])
    t = base.select(ts=pw.apply_with_type(lambda n: ts, pw.DateTimeNaive, pw.this.n),
                    td=pw.apply_with_type(lambda n: td, pw.Duration, pw.this.n))
    pw_duckdb_sink.write(t, table_name="t", database=db_path, init_mode="create_if_not_exists")
    pw.run(**RUN)
    assert query(db_path, "SELECT ts, td FROM t") == [
        (ts.floor("us").to_pydatetime(), td.floor("us").to_pytimedelta())]


@pytest.mark.parametrize("key_column", ["i", "s", "by", "dn", "du", "b", "p"])
def test_snapshot_keys_of_every_scalar_type_update_and_delete(db_path, query, key_column):
    """Keys of each indexable type are matched on update and on delete (Duration is refused:
    DuckDB cannot index INTERVAL; see test_write_validation)."""
    typed = _typed_table()
    pointers = _pointers_by_n(typed)
    keys = typed.select(pw.this.n, k=pw.this[key_column])
    # n=0 keeps its row, n=1 is updated (same key, new v), n=2 is deleted.
    changes = pw.debug.table_from_markdown("""
        n | v | __time__ | __diff__
        0 | 1 | 2        | 1
        1 | 1 | 2        | 1
        2 | 1 | 2        | 1
        1 | 1 | 4        | -1
        1 | 7 | 4        | 1
        2 | 1 | 6        | -1
    """)
    out = changes.join(keys, changes.n == keys.n).select(keys.k, changes.n, changes.v)
    if key_column == "b":  # rows 0 and 2 share True: leave row 2 out
        out = out.filter(pw.this.n != 2)
    pw_duckdb_sink.write(out, table_name="snap", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[out.k])
    pw.run(**RUN)

    if key_column == "p":
        key_of = lambda n: str(pointers[n])  # noqa: E731
    else:
        _, _, values, back = COLUMNS[key_column]
        key_of = lambda n: back(values[n])  # noqa: E731
    assert query(db_path, "SELECT k, n, v FROM snap ORDER BY n") == [(key_of(0), 0, 1), (key_of(1), 1, 7)]
