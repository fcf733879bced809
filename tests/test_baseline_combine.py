"""with_baseline: session + baseline column by column, keys on one side only kept."""

import duckdb
import pathway as pw
import pytest

from pw_duckdb_sink import read_baseline, with_baseline

SESSION = [("a", 5.0), ("a", 1.0), ("c", 2.0)]
BASELINE = [("a", 12.0), ("a", 0.5), ("b", 3.0)]


def _session():
    t = pw.debug.table_from_rows(pw.schema_from_types(shop=str, amount=float), SESSION)
    return t.groupby(t.shop).reduce(
        t.shop, revenue=pw.reducers.sum(t.amount), orders=pw.reducers.count(),
        lo=pw.reducers.min(t.amount), hi=pw.reducers.max(t.amount), last=pw.reducers.max(t.amount))


def _baseline_db(db):
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders (shop VARCHAR, amount DOUBLE, time BIGINT, diff SMALLINT)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, 1)", [(s, a, i) for i, (s, a) in enumerate(BASELINE)])
    con.close()


def _by(rows, shop):
    return [a for s, a in rows if s == shop]


def test_keys_on_either_side_only_are_kept_and_each_op_combines(db_path):
    _baseline_db(db_path)
    base = read_baseline(database=db_path, table_name="orders", key=["shop"], aggregates={
        "revenue": ("sum", "amount"), "orders": "count", "lo": ("min", "amount"), "hi": ("max", "amount"),
        "last": ("last", "amount")})
    total = with_baseline(_session(), base, key=["shop"], columns={
        "revenue": "sum", "orders": "count", "lo": "min", "hi": "max", "last": "last",
        "avg": ("avg", "revenue", "orders")})
    df = pw.debug.table_to_pandas(total).set_index("shop")
    for shop in "abc":
        both = _by(SESSION, shop) + _by(BASELINE, shop)
        row = df.loc[shop]
        assert row["revenue"] == pytest.approx(sum(both))
        assert row["orders"] == len(both)
        assert row["lo"] == min(both) and row["hi"] == max(both)
        assert row["avg"] == pytest.approx(sum(both) / len(both))
        # last: the session's value where the session has the key (it is newer)
        expect_last = max(_by(SESSION, shop)) if _by(SESSION, shop) else _by(BASELINE, shop)[-1]
        assert row["last"] == expect_last


def test_result_ids_are_the_session_groupby_ids(db_path):
    _baseline_db(db_path)
    base = read_baseline(database=db_path, table_name="orders", key=["shop"], aggregates={"orders": "count"})
    session = _session()
    total = with_baseline(session, base, key=["shop"], columns={"orders": "count"})
    s_ids = pw.debug.table_to_pandas(session, include_id=True)
    t_ids = pw.debug.table_to_pandas(total, include_id=True)
    shared = set(s_ids["shop"])
    assert {s: i for s, i in zip(t_ids["shop"], t_ids.index) if s in shared} == dict(zip(s_ids["shop"], s_ids.index))


def test_unkeyed_totals_add_up(db_path):
    _baseline_db(db_path)
    base = read_baseline(database=db_path, table_name="orders", aggregates={"revenue": ("sum", "amount"), "orders": "count"})
    t = pw.debug.table_from_rows(pw.schema_from_types(shop=str, amount=float), SESSION)
    session = t.reduce(revenue=pw.reducers.sum(t.amount), orders=pw.reducers.count())
    df = pw.debug.table_to_pandas(with_baseline(session, base, columns={
        "revenue": "sum", "orders": "count", "avg": ("avg", "revenue", "orders")}))
    all_amounts = [a for _, a in SESSION + BASELINE]
    assert df["revenue"].item() == pytest.approx(sum(all_amounts))
    assert df["orders"].item() == len(all_amounts)
    assert df["avg"].item() == pytest.approx(sum(all_amounts) / len(all_amounts))


def test_first_start_empty_baseline_without_schema_joins(tmp_path):
    base = read_baseline(database=tmp_path / "none.duckdb", table_name="orders", key=["shop"],
                         aggregates={"revenue": ("sum", "amount"), "orders": "count"})
    total = with_baseline(_session(), base, key=["shop"], columns={"revenue": "sum", "orders": "count"})
    df = pw.debug.table_to_pandas(total).set_index("shop")
    for shop in "ac":
        assert df.loc[shop, "revenue"] == pytest.approx(sum(_by(SESSION, shop)))
        assert df.loc[shop, "orders"] == len(_by(SESSION, shop))


def test_empty_session_keeps_the_baseline(db_path):
    _baseline_db(db_path)
    base = read_baseline(database=db_path, table_name="orders", aggregates={"revenue": ("sum", "amount")})
    t = pw.debug.table_from_rows(pw.schema_from_types(amount=float), [])
    session = t.reduce(revenue=pw.reducers.sum(t.amount))
    df = pw.debug.table_to_pandas(with_baseline(session, base, columns={"revenue": "sum"}))
    assert df["revenue"].item() == pytest.approx(sum(a for _, a in BASELINE))


def test_int_session_with_float_baseline_sums_in_float(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE q (n DOUBLE, time BIGINT, diff SMALLINT)")
    con.execute("INSERT INTO q VALUES (2.5, 1, 1)")
    con.close()
    base = read_baseline(database=db_path, table_name="q", aggregates={"n": "sum"})
    session = pw.debug.table_from_rows(pw.schema_from_types(n=int), [(3,)]).reduce(n=pw.reducers.sum(pw.this.n))
    df = pw.debug.table_to_pandas(with_baseline(session, base, columns={"n": "sum"}))
    assert df["n"].item() == pytest.approx(5.5)


def test_missing_column_on_one_side_is_a_clear_error():
    s = pw.debug.table_from_markdown("k | v\na | 1")
    b = pw.debug.table_from_markdown("k | w\na | 1")
    with pytest.raises(ValueError, match=r"baseline table has no column\(s\) \[.v.\]; it has \[.k., .w.\]$"):
        with_baseline(s, b, key=["k"], columns={"v": "sum"})
    with pytest.raises(ValueError, match="avg needs"):
        with_baseline(s, s, key=["k"], columns={"x": ("avg", "v")})
