"""Snapshot: the table holds the current state per primary key."""

import pathway as pw
import pytest

import pw_duckdb_sink

RUN = dict(monitoring_level=pw.MonitoringLevel.NONE)


def _final_state(table, key_columns):
    """Independent reference: the table's final rows as reported by pw.io.subscribe."""
    state = {}

    def on_change(key, row, time, is_addition):
        k = tuple(row[c] for c in key_columns)
        if is_addition:
            state[k] = tuple(row.values())
        elif state.get(k) == tuple(row.values()):
            del state[k]

    pw.io.subscribe(table, on_change)
    return state


def test_updates_and_deletes_within_and_across_minibatches(db_path, query):
    t = pw.debug.table_from_markdown("""
        k | v  | __time__ | __diff__
        a | 1  | 2        | 1
        b | 2  | 2        | 1
        c | 3  | 2        | 1
        a | 1  | 4        | -1
        a | 10 | 4        | 1
        b | 2  | 4        | -1
        c | 3  | 6        | -1
        c | 30 | 6        | 1
        a | 10 | 6        | -1
        a | 11 | 6        | 1
        b | 5  | 8        | 1
    """)
    pw_duckdb_sink.write(t, table_name="snap", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[t.k])
    final = _final_state(t, ["k"])
    pw.run(**RUN)
    got = query(db_path, "SELECT k, v FROM snap ORDER BY k")
    assert got == sorted(final.values())
    assert dict(got) == {"a": 11, "b": 5, "c": 30}


def test_groupby_snapshot_with_composite_key(db_path, query):
    t = pw.debug.table_from_markdown("""
        widget | window | amount | __time__
        w1     | 1      | 5      | 2
        w1     | 1      | 7      | 4
        w2     | 1      | 1      | 4
        w1     | 2      | 2      | 6
        w2     | 1      | 4      | 8
    """)
    agg = t.groupby(pw.this.widget, pw.this.window).reduce(
        pw.this.widget, pw.this.window, total=pw.reducers.sum(pw.this.amount))
    pw_duckdb_sink.write(agg, table_name="agg", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[agg.widget, agg.window])
    final = _final_state(agg, ["widget", "window"])
    pw.run(**RUN)
    assert query(db_path, "SELECT * FROM agg ORDER BY ALL") == sorted(final.values())
    pk = query(db_path, "SELECT constraint_column_names FROM duckdb_constraints() "
                        "WHERE table_name = 'agg' AND constraint_type = 'PRIMARY KEY'")
    assert pk == [(["widget", "window"],)]
    assert query(db_path, "SELECT column_name FROM information_schema.columns WHERE table_name = 'agg' "
                          "ORDER BY ordinal_position") == [("widget",), ("window",), ("total",)]


def test_key_moving_between_pathway_rows_is_kept(db_path, query):
    # Two Pathway rows (different ids) hand over key "a" in one minibatch: whatever the
    # order of the -1 and +1, the key must survive with the new value.
    t = pw.debug.table_from_markdown("""
        id | k | v | __time__ | __diff__
        1  | a | 1 | 2        | 1
        1  | a | 1 | 4        | -1
        2  | a | 2 | 4        | 1
    """)
    pw_duckdb_sink.write(t, table_name="s", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[t.k])
    pw.run(**RUN)
    assert query(db_path, "SELECT k, v FROM s") == [("a", 2)]


def test_deleted_key_reinserted_later(db_path, query):
    t = pw.debug.table_from_markdown("""
        k | v | __time__ | __diff__
        a | 1 | 2        | 1
        a | 1 | 4        | -1
        a | 2 | 6        | 1
    """)
    pw_duckdb_sink.write(t, table_name="s", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[t.k])
    pw.run(**RUN)
    assert query(db_path, "SELECT k, v FROM s") == [("a", 2)]


@pytest.mark.parametrize("max_batch_size", [1, 2, 3])
def test_chunked_minibatch_gives_same_snapshot(db_path, query, max_batch_size):
    t = pw.debug.table_from_markdown("""
        k | v  | __time__ | __diff__
        a | 1  | 2        | 1
        b | 2  | 2        | 1
        c | 3  | 2        | 1
        a | 1  | 4        | -1
        a | 10 | 4        | 1
        b | 2  | 4        | -1
        c | 3  | 4        | -1
        c | 4  | 4        | 1
        d | 9  | 4        | 1
    """)
    pw_duckdb_sink.write(t, table_name="s", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[t.k], max_batch_size=max_batch_size)
    final = _final_state(t, ["k"])
    pw.run(**RUN)
    assert query(db_path, "SELECT k, v FROM s ORDER BY k") == sorted(final.values())
    commits = query(db_path, 'SELECT time, rows FROM "_pw_duckdb_sink_commits" ORDER BY time')
    assert [r for _, r in commits] == [3, 6]


def test_key_only_table(db_path, query):
    t = pw.debug.table_from_markdown("""
        k | __time__ | __diff__
        a | 2        | 1
        b | 2        | 1
        a | 4        | -1
        a | 6        | 1
    """)
    pw_duckdb_sink.write(t, table_name="s", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[t.k])
    pw.run(**RUN)
    assert query(db_path, "SELECT k FROM s ORDER BY k") == [("a",), ("b",)]


def test_extra_columns_of_an_existing_table_keep_their_values(db_path, query):
    # A user's table with a column of its own: updated keys keep that column's value (the
    # sink updates those rows in place rather than deleting and re-inserting them).
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE s (k VARCHAR PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR DEFAULT 'new')")
    con.execute("INSERT INTO s VALUES ('a', 0, 'kept'), ('z', 0, 'gone')")
    con.close()
    t = pw.debug.table_from_markdown("""
        k | v | __time__ | __diff__
        a | 1 | 2        | 1
        b | 2 | 2        | 1
        z | 0 | 2        | 1
        a | 1 | 4        | -1
        a | 3 | 4        | 1
        z | 0 | 4        | -1
    """)
    pw_duckdb_sink.write(t, table_name="s", database=db_path, output_table_type="snapshot",
                         primary_key=[t.k])
    final = _final_state(t, ["k"])
    pw.run(**RUN)
    assert query(db_path, "SELECT k, v FROM s ORDER BY k") == sorted(final.values())
    assert query(db_path, "SELECT k, note FROM s ORDER BY k") == [("a", "kept"), ("b", "new")]


def test_keys_over_a_large_prefilled_table_and_other_sessions_keep_their_setting(db_path, query):
    # Small minibatches over a large table: the deletes look the keys up in the PRIMARY KEY
    # index after raising dynamic_or_filter_threshold on the sink's own connection only.
    import duckdb

    user = duckdb.connect(str(db_path))  # same file, same process: the same database instance
    user.execute("CREATE TABLE s (k BIGINT NOT NULL PRIMARY KEY, v DOUBLE)")
    user.execute("INSERT INTO s SELECT range, -1.0 FROM range(100000, 400000)")  # not touched
    before = user.execute("SELECT current_setting('dynamic_or_filter_threshold')").fetchone()[0]
    lines = ["k | v | __time__ | __diff__"]
    lines += [f"{k} | {k}.5 | 2 | 1" for k in range(90)]
    for k in range(0, 90, 3):  # updated in a later minibatch
        lines += [f"{k} | {k}.5 | 4 | -1", f"{k} | -0.0 | 4 | 1"]
    lines += [f"{k} | {k}.5 | 4 | -1" for k in range(1, 90, 3)]  # deleted
    lines += [f"{k} | 7.0 | 6 | 1" for k in range(1, 90, 6)]  # half of them back later
    t = pw.debug.table_from_markdown("\n".join(lines))
    pw_duckdb_sink.write(t, table_name="s", database=db_path, init_mode="default",
                         output_table_type="snapshot", primary_key=[t.k])
    final = _final_state(t, ["k"])
    pw.run(**RUN)
    got = user.execute("SELECT k, v FROM s WHERE k < 100000 ORDER BY k").fetchall()
    assert got == sorted(final.values())
    assert all(str(v) == "-0.0" for k, v in got if k % 3 == 0)  # the sign survives
    assert user.execute("SELECT count(*) FROM s WHERE k >= 100000 AND v = -1.0").fetchone()[0] == 300000
    assert user.execute("SELECT current_setting('dynamic_or_filter_threshold')").fetchone()[0] == before
    user.close()
