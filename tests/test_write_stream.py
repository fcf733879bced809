"""Stream of changes: every change lands with its minibatch time and diff."""

from collections import Counter

import pathway as pw
import pytest

import pw_duckdb_sink

RUN = dict(monitoring_level=pw.MonitoringLevel.NONE)


def _changes_seen_by_subscribe(table):
    """An independent record of the changes: what pw.io.subscribe reports."""
    seen = []

    def on_change(key, row, time, is_addition):
        seen.append((*row.values(), time, 1 if is_addition else -1))

    pw.io.subscribe(table, on_change)
    return seen


def test_every_change_lands_with_time_and_diff(db_path, query):
    t = pw.debug.table_from_markdown("""
        sku | name  | qty | __time__ | __diff__
        1   | apple | 3   | 2        | 1
        2   | pear  | 5   | 2        | 1
        1   | apple | 3   | 4        | -1
        1   | apple | 4   | 4        | 1
        3   | plum  | 1   | 6        | 1
    """)
    pw_duckdb_sink.write(t, table_name="fruit", database=db_path, init_mode="create_if_not_exists")
    expected = _changes_seen_by_subscribe(t)
    pw.run(**RUN)
    got = query(db_path, 'SELECT sku, name, qty, time, diff FROM fruit')
    assert Counter(got) == Counter(expected)
    assert len(got) == 5
    # an update is a -1 and a +1 in the same minibatch
    update_times = {time for (_, name, _, time, diff) in got if diff == -1}
    assert len(update_times) == 1
    assert sorted(d for *_, time, d in got if time in update_times) == [-1, 1]


def test_created_layout_matches_native_writer(db_path, query):
    t = pw.debug.table_from_markdown("""
        a | b
        1 | x
    """)
    pw_duckdb_sink.write(t, table_name="t", database=db_path, init_mode="create_if_not_exists")
    pw.run(**RUN)
    cols = query(db_path, "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                          "WHERE table_name = 't' ORDER BY ordinal_position")
    assert cols == [("a", "BIGINT", "NO"), ("b", "VARCHAR", "NO"),
                    ("time", "BIGINT", "NO"), ("diff", "SMALLINT", "NO")]


def test_changes_of_a_groupby_consolidate_to_final_state(db_path, query):
    t = pw.debug.table_from_markdown("""
        k | v | __time__
        a | 1 | 2
        b | 2 | 2
        a | 3 | 4
        b | 4 | 6
        a | 5 | 6
    """)
    totals = t.groupby(pw.this.k).reduce(pw.this.k, s=pw.reducers.sum(pw.this.v))
    pw_duckdb_sink.write(totals, table_name="totals", database=db_path, init_mode="create_if_not_exists")
    final = {}

    def on_change(key, row, time, is_addition):
        if is_addition:
            final[row["k"]] = row["s"]

    pw.io.subscribe(totals, on_change)
    pw.run(**RUN)
    state = query(db_path, "SELECT k, s FROM totals GROUP BY ALL HAVING SUM(diff) > 0 ORDER BY k")
    assert state == sorted(final.items())


def test_sort_by_orders_changes_within_a_minibatch(db_path, query):
    t = pw.debug.table_from_markdown("""
        v
        5
        3
        9
        1
    """)
    pw_duckdb_sink.write(t, table_name="t", database=db_path, init_mode="create_if_not_exists",
                         sort_by=[t.v])
    pw.run(**RUN)
    got = [v for (v,) in query(db_path, "SELECT v FROM t ORDER BY rowid")]
    assert got == sorted(got) and len(got) == 4


def test_catalog_records_each_commit(db_path, query):
    t = pw.debug.table_from_markdown("""
        v | __time__
        1 | 2
        2 | 2
        3 | 4
    """)
    pw_duckdb_sink.write(t, table_name="t", database=db_path, init_mode="create_if_not_exists", name="w")
    pw.run(**RUN)
    commits = query(db_path, 'SELECT table_name, writer_name, time, rows FROM "_pw_duckdb_sink_commits" ORDER BY time')
    data = query(db_path, "SELECT time, count(*) FROM t GROUP BY time ORDER BY time")
    assert [(c[2], c[3]) for c in commits] == data
    assert {(c[0], c[1]) for c in commits} == {("t", "w")}
    tables = query(db_path, 'SELECT table_name, kind, primary_key, writer_name, last_time, rows_written '
                            'FROM "_pw_duckdb_sink_tables"')
    assert tables == [("t", "stream_of_changes", None, "w", data[-1][0], 3)]


def test_empty_table_still_creates_destination(db_path, query):
    class S(pw.Schema):
        a: int
        b: str | None

    t = pw.debug.table_from_rows(S, [])
    pw_duckdb_sink.write(t, table_name="empty", database=db_path, init_mode="create_if_not_exists")
    pw.run(**RUN)
    assert query(db_path, "SELECT count(*) FROM empty") == [(0,)]
    cols = query(db_path, "SELECT column_name, is_nullable FROM information_schema.columns "
                          "WHERE table_name = 'empty' ORDER BY ordinal_position")
    assert cols == [("a", "NO"), ("b", "YES"), ("time", "NO"), ("diff", "NO")]
