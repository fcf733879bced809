"""Arguments a user gets wrong: refused up front, with what to do, and nothing written."""

import datetime as dt

import duckdb
import pathway as pw
import pytest

import pw_duckdb_sink


@pytest.fixture
def log(db_path):
    """A change log of orders, with times an hour and two days ago (ms epochs)."""
    now = dt.datetime.now(dt.timezone.utc)
    times = [int((now - ago).timestamp() * 1000) for ago in (dt.timedelta(days=2), dt.timedelta(hours=1))]
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE orders (customer VARCHAR, amount DOUBLE, time BIGINT, diff SMALLINT)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, 1)", [("alice", 10.0, times[0]), ("bob", 5.0, times[1])])
    con.close()
    return db_path


def _baseline(db, **kw):
    return pw_duckdb_sink.read_baseline(database=db, table_name=kw.pop("table_name", "orders"),
                                        aggregates=kw.pop("aggregates", {"revenue": ("sum", "amount")}), **kw)


@pytest.mark.parametrize("since, until", [
    (dt.timedelta(days=1), dt.timedelta(days=3)),  # since is later than until
    (dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)),
])
def test_read_baseline_refuses_an_empty_time_range(log, since, until):
    with pytest.raises(ValueError, match="is not before until.*swap them"):
        _baseline(log, since=since, until=until)


def test_read_baseline_range_in_order_still_reads(log):
    # The same bounds as above, in order: only bob's order (an hour ago) falls in the last day.
    rows = pw.debug.table_to_pandas(_baseline(log, since=dt.timedelta(days=1), until=dt.timedelta(0)))
    assert rows["revenue"].tolist() == [5.0]


@pytest.mark.parametrize("tz", [5, b"UTC", ["Europe/Warsaw"]])
def test_read_baseline_tz_of_the_wrong_type_is_a_clear_error(log, tz):
    with pytest.raises(ValueError, match="is not a known time zone; pass an IANA name"):
        _baseline(log, since="today", tz=tz)


def test_read_baseline_refuses_an_aggregate_named_like_a_key_column(log):
    with pytest.raises(ValueError, match=r"aggregates \['customer'\] have the name of a key column"):
        _baseline(log, key=["customer"], aggregates={"customer": "count"})


def _session():
    orders = pw.debug.table_from_markdown("""
        customer | amount
        alice    | 10
    """)
    return orders.groupby(orders.customer).reduce(orders.customer, n=pw.reducers.count())


def test_with_baseline_refuses_columns_of_different_kinds_at_build_time():
    session = _session()
    baseline = pw.debug.table_from_markdown("""
        customer | n
        1        | 3
    """)  # customer ids as ints, the session's are names
    with pytest.raises(ValueError, match="column 'customer' is <class 'str'> in the session but "
                                         "<class 'int'> in the baseline"):
        pw_duckdb_sink.with_baseline(session, baseline, key=["customer"], columns={"n": "sum"})


@pytest.mark.parametrize("spec", [5, None, ()])
def test_with_baseline_refuses_a_column_spec_that_is_not_an_op(spec):
    session = _session()
    with pytest.raises(ValueError, match=r"columns\['n'\]=.*give an op name"):
        pw_duckdb_sink.with_baseline(session, session, key=["customer"], columns={"n": spec})


@pytest.mark.parametrize("horizon", [dt.timedelta(days=-1), "2100-01-01T00:00:00",
                                     dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)])
def test_compact_refuses_a_horizon_in_the_future_and_leaves_the_log_alone(log, query, horizon):
    before = sorted(query(log, "SELECT * FROM orders"))
    with pytest.raises(ValueError, match="in the future; compact up to a past moment"):
        pw_duckdb_sink.compact(log, "orders", horizon)
    assert sorted(query(log, "SELECT * FROM orders")) == before
    # Nothing recorded a horizon: the present can still be asked for.
    assert pw_duckdb_sink.as_of(log, "orders", dt.timedelta(0)).num_rows == len(before)


def test_a_table_named_in_another_case_is_read_like_write_finds_it(log):
    # DuckDB, and write(), resolve "ORDERS" to orders: the readers must not call it missing.
    rows = pw.debug.table_to_pandas(_baseline(log, table_name="ORDERS"))
    assert rows["revenue"].tolist() == [15.0]
    assert pw_duckdb_sink.as_of(log, "Orders", dt.timedelta(0)).num_rows == 2
    pw_duckdb_sink.compact(log, "orders", dt.timedelta(days=1))
    with pytest.raises(ValueError, match="is compacted up to time"):
        pw_duckdb_sink.as_of(log, "ORDERS", dt.timedelta(days=3))


def test_a_missing_table_next_to_others_is_an_empty_baseline_with_a_warning(log, caplog):
    with caplog.at_level("WARNING", logger="pw_duckdb_sink"):
        rows = pw.debug.table_to_pandas(_baseline(log, table_name="order"))
    assert len(rows) == 0
    assert "no table 'order'" in caplog.text and "['orders']" in caplog.text


def test_with_baseline_without_key_on_keyed_tables_names_the_forgotten_key(log):
    orders = pw.debug.table_from_markdown("""
        customer | amount
        alice    | 10
        carol    | 8
    """)
    session = orders.groupby(orders.customer).reduce(orders.customer, revenue=pw.reducers.sum(orders.amount))
    baseline = _baseline(log, key=["customer"])
    with pytest.raises(ValueError, match=r"column\(s\) \['customer'\].*pass key=\['customer'\]"):
        pw_duckdb_sink.with_baseline(session, baseline, columns={"revenue": "sum"})
    # With the key, per customer: the log's alice 10 and bob 5 plus the session's alice 10, carol 8.
    total = pw_duckdb_sink.with_baseline(session, baseline, key=["customer"], columns={"revenue": "sum"})
    rows = pw.debug.table_to_pandas(total)
    assert dict(zip(rows["customer"], rows["revenue"])) == {"alice": 20.0, "bob": 5.0, "carol": 8.0}


def test_history_with_a_key_value_of_the_wrong_type_names_the_column_type(log):
    with pytest.raises(ValueError, match=r"'amount': \"'ten' for DOUBLE\""):
        pw_duckdb_sink.history(log, "orders", key={"amount": "ten"})
    # A value of the column's type still finds its changes.
    assert pw_duckdb_sink.history(log, "orders", key={"amount": 10.0}).column("customer").to_pylist() == ["alice"]
