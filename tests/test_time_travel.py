"""as_of and history over a hand-built change log, checked against the state kept in Python."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import duckdb
import pandas as pd
import pathway as pw
import pytest
from tests.history_logs import rows_of, simulate, write_log

from pw_duckdb_sink._time_travel import as_of, history, to_epoch_ms

START = 1_700_000_000_000


@pytest.fixture
def logged(db_path):
    changes, states = simulate(7, batches=30, start_ms=START)
    con = duckdb.connect(str(db_path))
    write_log(con, "sales", changes)
    con.close()
    return db_path, changes, states


def test_as_of_equals_the_state_after_each_minibatch(logged):
    db_path, _, states = logged
    for t, state in states.items():
        assert rows_of(as_of(db_path, "sales", t)) == state
        # Between two minibatches the state is the earlier one's.
        assert rows_of(as_of(db_path, "sales", t + 999)) == state


def test_as_of_before_the_first_change_is_empty(logged):
    db_path, _, _ = logged
    assert as_of(db_path, "sales", START - 1).num_rows == 0


def test_as_of_repeats_a_row_once_per_copy(db_path):
    con = duckdb.connect(str(db_path))
    # Three keys hold ("PL", 1.0); one of them is retracted later.
    write_log(con, "sales", [("PL", 1.0, 10, 1), ("PL", 1.0, 10, 1), ("PL", 1.0, 12, 1),
                             ("DE", 2.0, 12, 1), ("PL", 1.0, 14, -1)])
    con.close()
    assert rows_of(as_of(db_path, "sales", 12)) == Counter({("PL", 1.0): 3, ("DE", 2.0): 1})
    assert as_of(db_path, "sales", 14).num_rows == 3


def test_as_of_takes_every_kind_of_moment(db_path):
    now = dt.datetime.now(dt.timezone.utc)
    t_old = to_epoch_ms(now - dt.timedelta(hours=2))
    t_new = to_epoch_ms(now - dt.timedelta(minutes=30))
    con = duckdb.connect(str(db_path))
    write_log(con, "sales", [("PL", 1.0, t_old, 1), ("DE", 2.0, t_new, 1)])
    con.close()
    one_hour_ago = now - dt.timedelta(hours=1)
    expected = Counter({("PL", 1.0): 1})
    naive_utc = one_hour_ago.replace(tzinfo=None)
    warsaw = one_hour_ago.astimezone(dt.timezone(dt.timedelta(hours=2)))
    for moment in (dt.timedelta(hours=1), naive_utc, warsaw, pd.Timestamp(one_hour_ago),
                   naive_utc.isoformat(), to_epoch_ms(one_hour_ago)):
        assert rows_of(as_of(db_path, "sales", moment)) == expected, moment
    assert rows_of(as_of(db_path, "sales", dt.timedelta(0))) == Counter({("PL", 1.0): 1, ("DE", 2.0): 1})


def test_naive_datetime_is_read_as_utc():
    assert to_epoch_ms(dt.datetime(2024, 1, 1, 12)) == 1_704_110_400_000
    aware = dt.datetime(2024, 1, 1, 14, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert to_epoch_ms(aware) == 1_704_110_400_000


def test_as_of_keeps_only_the_asked_columns_with_multiplicity(logged):
    db_path, _, states = logged
    t = max(states)
    only = as_of(db_path, "sales", t, columns=["country"])
    assert only.column_names == ["country"]
    expected = Counter()
    for (country, _), n in states[t].items():
        expected[country] += n
    assert Counter(only.column("country").to_pylist()) == expected


def _frame_rows(frame) -> Counter:
    """Rows of a pandas frame, with its NaN / None as None."""
    clean = frame[["country", "amount"]].astype(object).where(frame[["country", "amount"]].notna(), None)
    return Counter(map(tuple, clean.itertuples(index=False)))


def test_as_of_as_pandas_and_pathway(logged):
    db_path, _, states = logged
    t = sorted(states)[len(states) // 2]
    frame = as_of(db_path, "sales", t, format="pandas")
    assert isinstance(frame, pd.DataFrame)
    assert _frame_rows(frame) == states[t]
    table = as_of(db_path, "sales", t, format="pathway")
    assert table.schema.typehints() == {"country": str | None, "amount": float | None}
    assert _frame_rows(pw.debug.table_to_pandas(table)) == states[t]


def test_as_of_uses_an_open_connection_and_leaves_it_open(logged):
    db_path, _, states = logged
    con = duckdb.connect(str(db_path), read_only=True)
    t = max(states)
    assert rows_of(as_of(con, "sales", t)) == states[t]
    assert con.execute("SELECT count(*) FROM sales").fetchone()[0] > 0
    con.close()


def test_as_of_refuses_a_snapshot_table(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE totals (country VARCHAR PRIMARY KEY, amount DOUBLE)")
    con.close()
    with pytest.raises(ValueError, match="not a change log"):
        as_of(db_path, "totals", 0)


@pytest.mark.parametrize("bad, message", [
    (dict(table_name="nope", at=0), "no table 'nope'"),
    (dict(table_name="sales", at=True), "is a bool"),
    (dict(table_name="sales", at=1.5), "is not a moment"),
    (dict(table_name="sales", at="yesterday"), "ISO-8601"),
    (dict(table_name="sales", at=dt.date(2024, 1, 1)), "without a time of day"),
    (dict(table_name="sales", at=0, format="polars"), "format='polars'"),
    (dict(table_name="sales", at=0, columns=["price"]), "not user columns"),
    (dict(table_name="sales", at=0, columns=["time"]), "not user columns"),
])
def test_as_of_rejects_bad_input_clearly(logged, bad, message):
    db_path, _, _ = logged
    with pytest.raises(ValueError, match=message):
        as_of(db_path, **bad)


def test_as_of_on_a_missing_file_says_so(tmp_path):
    with pytest.raises(ValueError, match="no DuckDB database"):
        as_of(tmp_path / "absent.duckdb", "sales", 0)


def test_history_lists_the_changes_of_one_key_in_time_order(logged):
    db_path, changes, _ = logged
    got = history(db_path, "sales", key={"country": "PL"}).to_pylist()
    got_rows = [(r["country"], r["amount"], r["time"], r["diff"]) for r in got]
    assert Counter(got_rows) == Counter(c for c in changes if c[0] == "PL")
    # By time, and within one minibatch retractions first: an update reads -old, +new.
    order = [(r[2], r[3]) for r in got_rows]
    assert order == sorted(order)


def test_history_bounds_are_inclusive_and_match_null(logged):
    db_path, changes, states = logged
    times = sorted(states)
    lo, hi = times[5], times[20]
    got = history(db_path, "sales", key={"country": None, "amount": 2.0}, since=lo, until=hi,
                  format="pandas")
    expected = [c for c in changes if c[0] is None and c[1] == 2.0 and lo <= c[2] <= hi]
    assert len(got) == len(expected) > 0
    assert got["time"].is_monotonic_increasing
    assert Counter(zip(got["time"], got["diff"])) == Counter((c[2], c[3]) for c in expected)


def test_history_rejects_bad_keys(logged):
    db_path, _, _ = logged
    with pytest.raises(ValueError, match="not columns of"):
        history(db_path, "sales", key={"price": 1})
    with pytest.raises(ValueError, match="at least one column"):
        history(db_path, "sales", key={})
    with pytest.raises(ValueError, match="swap them"):
        history(db_path, "sales", key={"country": "PL"}, since=10, until=5)


def test_as_of_takes_the_time_history_returns(logged):
    # history(format="pandas") gives numpy int64 times; each is a moment as_of must accept.
    db_path, _, states = logged
    times = history(db_path, "sales", key={"country": "PL"}, format="pandas")["time"]
    assert len(times) > 0 and not isinstance(times.iloc[0], int)
    for i in range(len(times)):  # iloc: iterating a Series would give Python ints
        assert rows_of(as_of(db_path, "sales", times.iloc[i])) == states[int(times.iloc[i])]


def test_history_matches_key_columns_ignoring_case_like_duckdb(logged):
    db_path, _, _ = logged
    exact = history(db_path, "sales", key={"country": "PL"}).to_pylist()
    assert len(exact) > 0
    assert history(db_path, "SALES", key={"Country": "PL"}).to_pylist() == exact
