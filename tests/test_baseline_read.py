"""read_baseline: keyed and unkeyed, each aggregate, change log and snapshot, missing sources, misfits."""

import random

import duckdb
import pandas as pd
import pathway as pw
import pytest

import pw_duckdb_sink
from pw_duckdb_sink import read_baseline


def _rows(table, key):
    df = pw.debug.table_to_pandas(table)
    return {tuple(r[k] for k in key): r for r in df.to_dict("records")}


def _change_log(db, rows):
    """rows: (region, amount, qty, time, diff)"""
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE sales (region VARCHAR, amount DOUBLE, qty BIGINT, time BIGINT, diff SMALLINT)")
    if rows:
        con.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?)", rows)
    con.close()


@pytest.fixture
def log_rows():
    rng = random.Random(7)
    rows, live = [], []
    for t in range(1, 60):
        r = (rng.choice("abc"), round(rng.uniform(1, 100), 2), rng.randint(1, 5))
        rows.append((*r, t, 1))
        live.append((r, t))
        if live and rng.random() < 0.3:  # retract some earlier row
            old, _ = live.pop(rng.randrange(len(live)))
            rows.append((*old, t, -1))
    return rows, live


def test_change_log_consolidates_then_aggregates_each_op_per_key(db_path, log_rows):
    rows, live = log_rows
    _change_log(db_path, rows)
    base = read_baseline(database=db_path, table_name="sales", key=["region"], aggregates={
        "revenue": ("sum", "amount"), "n": "count", "qty": "sum", "lo": ("min", "amount"),
        "hi": ("max", "amount"), "latest": ("last", "amount")})
    got = _rows(base, ["region"])
    for region in "abc":
        mine = [(r, t) for r, t in live if r[0] == region]
        g = got[(region,)]
        assert g["revenue"] == pytest.approx(sum(r[1] for r, _ in mine))
        assert g["n"] == len(mine)
        assert g["qty"] == sum(r[2] for r, _ in mine)
        assert g["lo"] == min(r[1] for r, _ in mine) and g["hi"] == max(r[1] for r, _ in mine)
        assert g["latest"] == max(mine, key=lambda x: x[1])[0][1]


def test_unkeyed_baseline_is_one_row_with_the_reduce_id(db_path, log_rows):
    rows, live = log_rows
    _change_log(db_path, rows)
    base = read_baseline(database=db_path, table_name="sales", aggregates={"revenue": ("sum", "amount")})
    df = pw.debug.table_to_pandas(base, include_id=True)
    assert df["revenue"].tolist() == [pytest.approx(sum(r[1] for r, _ in live))]
    pw.internals.parse_graph.G.clear()
    one = pw.debug.table_from_markdown("x\n1").reduce(s=pw.reducers.sum(pw.this.x))
    assert df.index.tolist() == pw.debug.table_to_pandas(one, include_id=True).index.tolist()


def test_row_written_twice_counts_twice(db_path):
    _change_log(db_path, [("a", 5.0, 1, 1, 1), ("a", 5.0, 1, 2, 1)])
    base = read_baseline(database=db_path, table_name="sales", aggregates={"r": ("sum", "amount"), "n": "count"})
    df = pw.debug.table_to_pandas(base)
    assert (df["r"].item(), df["n"].item()) == (10.0, 2)


def test_keyed_ids_match_a_session_groupby(db_path):
    _change_log(db_path, [("a", 1.0, 1, 1, 1), ("b", 2.0, 1, 1, 1)])
    base = read_baseline(database=db_path, table_name="sales", key=["region"], aggregates={"n": "count"})
    ids = pw.debug.table_to_pandas(base, include_id=True)
    pw.internals.parse_graph.G.clear()
    t = pw.debug.table_from_markdown("region\na\nb")
    sess = pw.debug.table_to_pandas(t.groupby(t.region).reduce(t.region), include_id=True)
    assert dict(zip(ids["region"], ids.index)) == dict(zip(sess["region"], sess.index))


def test_snapshot_is_read_as_is(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE totals (region VARCHAR PRIMARY KEY, revenue DOUBLE, ts TIMESTAMP)")
    vals = [("a", 3.5, "2024-01-01"), ("b", 4.0, "2024-01-03"), ("c", 1.0, "2024-01-02")]
    con.executemany("INSERT INTO totals VALUES (?, ?, ?)", vals)
    con.close()
    base = read_baseline(database=db_path, table_name="totals", time_column="ts", aggregates={
        "revenue": "sum", "n": "count", "last": ("last", "region")})
    df = pw.debug.table_to_pandas(base)
    assert df["revenue"].item() == sum(v[1] for v in vals)
    assert df["n"].item() == len(vals)
    assert df["last"].item() == max(vals, key=lambda v: v[2])[0]


def test_snapshot_last_without_time_column_is_refused(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE totals (region VARCHAR PRIMARY KEY, revenue DOUBLE)")
    con.close()
    with pytest.raises(ValueError, match="time_column"):
        read_baseline(database=db_path, table_name="totals", aggregates={"x": ("last", "revenue")})


def test_missing_database_gives_empty_baseline_typed_by_schema(tmp_path):
    class Sales(pw.Schema):
        region: str
        amount: float
        qty: int

    db = tmp_path / "nothing.duckdb"
    base = read_baseline(database=db, table_name="sales", key=["region"], schema=Sales,
                         aggregates={"revenue": ("sum", "amount"), "qty": "sum", "n": "count"})
    assert not db.exists()  # reading never creates the file
    assert len(pw.debug.table_to_pandas(base)) == 0
    hints = base.typehints()
    assert (hints["region"], hints["revenue"], hints["qty"], hints["n"]) == (str, float, int, int)


def test_missing_table_gives_empty_baseline(db_path):
    duckdb.connect(str(db_path)).close()
    base = read_baseline(database=db_path, table_name="sales", key=["region"], aggregates={"n": "count"})
    assert len(pw.debug.table_to_pandas(base)) == 0
    assert list(base.column_names()) == ["region", "n"]


def test_existing_empty_unkeyed_table_gives_no_row(db_path):
    _change_log(db_path, [])
    base = read_baseline(database=db_path, table_name="sales", aggregates={"n": "count"})
    assert len(pw.debug.table_to_pandas(base)) == 0


def test_table_without_the_named_column_is_a_clear_error(db_path):
    _change_log(db_path, [])
    with pytest.raises(ValueError, match="no column.*dollar_value"):
        read_baseline(database=db_path, table_name="sales", aggregates={"r": ("sum", "dollar_value")})
    with pytest.raises(ValueError, match="no column.*shop"):
        read_baseline(database=db_path, table_name="sales", key=["shop"], aggregates={"n": "count"})


def test_summing_a_text_column_is_a_clear_error(db_path):
    _change_log(db_path, [])
    with pytest.raises(ValueError, match="cannot sum column 'region'"):
        read_baseline(database=db_path, table_name="sales", aggregates={"r": ("sum", "region")})


@pytest.mark.parametrize("bad", [{}, {"a": ("avg", "amount")}, {"a": ("median", "amount")}, {"a": ("sum", None)}])
def test_bad_aggregates_are_refused(db_path, bad):
    with pytest.raises(ValueError):
        read_baseline(database=db_path, table_name="sales", aggregates=bad)


def test_baseline_of_a_table_written_by_the_sink(db_path):
    orders = pw.debug.table_from_markdown("""
        region | amount | __time__
        a      | 2.5    | 2
        b      | 4.0    | 2
        a      | 1.5    | 4
    """)
    pw_duckdb_sink.write(orders, database=db_path, table_name="orders", init_mode="create_if_not_exists")
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    pw.internals.parse_graph.G.clear()
    base = read_baseline(database=db_path, table_name="orders", key=["region"],
                         aggregates={"revenue": ("sum", "amount"), "n": "count", "last": ("last", "amount")})
    got = _rows(base, ["region"])
    assert (got[("a",)]["revenue"], got[("a",)]["n"], got[("a",)]["last"]) == (4.0, 2, 1.5)
    assert (got[("b",)]["revenue"], got[("b",)]["n"]) == (4.0, 1)


def test_schema_is_derived_from_the_catalog_when_not_given(db_path, log_rows):
    rows, live = log_rows
    _change_log(db_path, rows)
    base = read_baseline(database=db_path, table_name="sales", key=["region"], aggregates={
        "revenue": ("sum", "amount"), "qty": "sum", "n": "count", "top": ("max", "qty"), "latest": ("last", "region")})
    hints = base.typehints()
    # VARCHAR -> str, DOUBLE sum -> float, BIGINT sum/max -> int, count -> int
    assert (hints["region"], hints["revenue"], hints["qty"], hints["n"], hints["top"], hints["latest"]) == (
        str, float, int, int, int, str)


def test_given_schema_that_fits_sets_the_types(db_path, log_rows):
    class Sales(pw.Schema):
        region: str | None
        amount: float
        qty: int

    rows, live = log_rows
    _change_log(db_path, rows)
    base = read_baseline(database=db_path, table_name="sales", key=["region"], schema=Sales,
                         aggregates={"qty": "sum", "hi": ("max", "amount")})
    assert (base.typehints()["qty"], base.typehints()["hi"]) == (int, float)
    got = _rows(base, ["region"])
    for region in "abc":
        assert got[(region,)]["qty"] == sum(r[2] for r, _ in live if r[0] == region)


def test_given_schema_that_disagrees_with_the_table_is_a_clear_error(db_path):
    class Sales(pw.Schema):
        region: str
        amount: int  # the table stores DOUBLE

    _change_log(db_path, [("a", 2.5, 1, 1, 1)])
    with pytest.raises(ValueError, match="declares column 'amount' as .*int.* stores it as DOUBLE"):
        read_baseline(database=db_path, table_name="sales", schema=Sales, aggregates={"r": ("sum", "amount")})


def test_keyed_snapshot_aggregates_per_key(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE daily (day DATE PRIMARY KEY, region VARCHAR, revenue DOUBLE)")
    rng = random.Random(3)
    vals = [(f"2024-01-{d:02d}", rng.choice("ab"), float(rng.randint(1, 50))) for d in range(1, 21)]
    con.executemany("INSERT INTO daily VALUES (?, ?, ?)", vals)
    con.close()
    base = read_baseline(database=db_path, table_name="daily", key=["region"], time_column="day", aggregates={
        "revenue": "sum", "days": "count", "lo": ("min", "revenue"), "hi": ("max", "revenue"),
        "latest": ("last", "revenue")})
    got = _rows(base, ["region"])
    assert set(got) == {(r,) for _, r, _ in vals}
    for (region,), g in got.items():
        mine = [v for v in vals if v[1] == region]
        assert g["revenue"] == sum(v[2] for v in mine) and g["days"] == len(mine)
        assert (g["lo"], g["hi"]) == (min(v[2] for v in mine), max(v[2] for v in mine))
        assert g["latest"] == max(mine)[2]  # ISO dates sort as dates


def test_count_of_a_column_skips_nulls_and_sum_min_max_ignore_them(db_path):
    rows = [("a", 2.0, 1, 1, 1), ("a", None, 1, 2, 1), ("a", 5.0, 1, 3, 1), ("b", None, 1, 4, 1)]
    _change_log(db_path, rows)
    base = read_baseline(database=db_path, table_name="sales", key=["region"], aggregates={
        "rows": "count", "priced": ("count", "amount"), "r": ("sum", "amount"), "lo": ("min", "amount")})
    got = _rows(base, ["region"])
    for region in "ab":
        amounts = [r[1] for r in rows if r[0] == region]
        present = [a for a in amounts if a is not None]
        g = got[(region,)]
        assert (g["rows"], g["priced"]) == (len(amounts), len(present))
        if present:
            assert (g["r"], g["lo"]) == (sum(present), min(present))
        else:
            assert pd.isna(g["r"]) and pd.isna(g["lo"])  # a region with no amount: NULL, not 0
