"""with_baseline: an int session column and a float baseline (a DOUBLE in DuckDB), keys on one side."""

from collections import Counter

import duckdb
import pathway as pw

import pw_duckdb_sink

STORED = [("alice", 10.5), ("bob", 5.25)]  # earlier runs: bob only there
SESSION = [("alice", 10), ("carol", 8)]  # this run, int amounts: carol only here


def test_int_session_plus_float_baseline_keeps_keys_of_either_side(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE orders (customer VARCHAR, amount DOUBLE, time BIGINT, diff SMALLINT)")
    con.executemany("INSERT INTO orders VALUES (?, ?, 1, 1)", STORED)
    con.close()
    orders = pw.debug.table_from_rows(pw.schema_from_types(customer=str, amount=int), SESSION)
    session = orders.groupby(orders.customer).reduce(
        orders.customer, revenue=pw.reducers.sum(orders.amount), biggest=pw.reducers.max(orders.amount))
    assert session.typehints()["revenue"] is int
    baseline = pw_duckdb_sink.read_baseline(database=db_path, table_name="orders", key=["customer"],
                                            aggregates={"revenue": ("sum", "amount"), "biggest": ("max", "amount")})
    total = pw_duckdb_sink.with_baseline(session, baseline, key=["customer"],
                                         columns={"revenue": "sum", "biggest": "max"})
    rows = pw.debug.table_to_pandas(total)

    revenue, biggest = Counter(), {}
    for customer, amount in STORED + SESSION:
        revenue[customer] += amount
        biggest[customer] = max(biggest.get(customer, amount), amount)
    assert dict(zip(rows["customer"], rows["revenue"])) == dict(revenue)
    assert dict(zip(rows["customer"], rows["biggest"])) == biggest
