"""init_mode and the start-up checks of an existing destination."""

import duckdb
import pathway as pw
import pytest

import pw_duckdb_sink

RUN = dict(monitoring_level=pw.MonitoringLevel.NONE)


class S(pw.Schema):
    a: int
    b: str | None


ROWS = [(1, "x"), (2, None)]


def _setup(db_path, *sql):
    con = duckdb.connect(str(db_path))
    for stmt in sql:
        con.execute(stmt)
    con.close()


def _write(db_path, **kwargs):
    t = pw.debug.table_from_rows(S, ROWS)
    pw_duckdb_sink.write(t, table_name="t", database=db_path, **kwargs)
    pw.run(**RUN)


def test_default_writes_into_existing_fitting_table(db_path, query):
    _setup(db_path, "CREATE TABLE t (a BIGINT, b VARCHAR, time BIGINT, diff SMALLINT)")
    _write(db_path)
    assert query(db_path, "SELECT a, b, diff FROM t ORDER BY a") == [(a, b, 1) for a, b in ROWS]


def test_default_refuses_a_missing_table(db_path, query):
    with pytest.raises(ValueError, match="does not exist"):
        _write(db_path)
    assert query(db_path, "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'") == [(0,)]


def test_create_if_not_exists_keeps_existing_rows(db_path, query):
    _write(db_path, init_mode="create_if_not_exists")
    pw.internals.parse_graph.G.clear()
    _write(db_path, init_mode="create_if_not_exists")
    assert query(db_path, "SELECT count(*) FROM t") == [(2 * len(ROWS),)]


def test_replace_drops_previous_rows_and_counters(db_path, query):
    _setup(db_path, "CREATE TABLE t (old INTEGER)", "INSERT INTO t VALUES (1), (2), (3)")
    _write(db_path, init_mode="replace")
    assert query(db_path, "SELECT a, b FROM t ORDER BY a") == ROWS
    assert query(db_path, 'SELECT rows_written FROM "_pw_duckdb_sink_tables"') == [(len(ROWS),)]


@pytest.mark.parametrize("init_mode", ["default", "create_if_not_exists", "replace"])
def test_a_view_is_refused(db_path, query, init_mode):
    _setup(db_path, "CREATE VIEW t AS SELECT 1 AS a, 'x' AS b, 0::BIGINT AS time, 1::SMALLINT AS diff")
    with pytest.raises(ValueError, match="view"):
        _write(db_path, init_mode=init_mode)
    assert query(db_path, "SELECT table_type FROM information_schema.tables WHERE table_name = 't'") == [("VIEW",)]


@pytest.mark.parametrize("missing", ["b", "time", "diff"])
def test_a_missing_column_is_refused(db_path, query, missing):
    cols = {"a": "BIGINT", "b": "VARCHAR", "time": "BIGINT", "diff": "SMALLINT"}
    del cols[missing]
    _setup(db_path, f"CREATE TABLE t ({', '.join(f'{c} {t}' for c, t in cols.items())})")
    with pytest.raises(ValueError, match=f"lacks column.*'{missing}'"):
        _write(db_path)
    assert query(db_path, "SELECT count(*) FROM t") == [(0,)]


def test_extra_not_null_column_without_default_is_refused(db_path, query):
    _setup(db_path, "CREATE TABLE t (a BIGINT, b VARCHAR, time BIGINT, diff SMALLINT, extra INT NOT NULL)")
    with pytest.raises(ValueError, match="extra"):
        _write(db_path)
    assert query(db_path, "SELECT count(*) FROM t") == [(0,)]


def test_extra_not_null_column_with_default_is_filled(db_path, query):
    _setup(db_path, "CREATE TABLE t (a BIGINT, b VARCHAR, time BIGINT, diff SMALLINT, "
                    "extra INT NOT NULL DEFAULT 7)")
    _write(db_path)
    assert query(db_path, "SELECT a, extra FROM t ORDER BY a") == [(a, 7) for a, _ in ROWS]


def test_not_null_where_pathway_sends_null_is_refused(db_path, query):
    _setup(db_path, "CREATE TABLE t (a BIGINT, b VARCHAR NOT NULL, time BIGINT, diff SMALLINT)")
    with pytest.raises(ValueError, match="'b'.*NOT NULL.*Optional"):
        _write(db_path)
    assert query(db_path, "SELECT count(*) FROM t") == [(0,)]


def test_snapshot_into_table_without_key_constraint_is_refused(db_path, query):
    _setup(db_path, "CREATE TABLE t (a BIGINT, b VARCHAR)")
    t = pw.debug.table_from_rows(S, ROWS)
    pw_duckdb_sink.write(t, table_name="t", database=db_path, output_table_type="snapshot",
                         primary_key=[t.a])
    with pytest.raises(ValueError, match="PRIMARY KEY or UNIQUE"):
        pw.run(**RUN)
    assert query(db_path, "SELECT count(*) FROM t") == [(0,)]


def test_snapshot_into_existing_keyed_table(db_path, query):
    _setup(db_path, "CREATE TABLE t (a BIGINT PRIMARY KEY, b VARCHAR)", "INSERT INTO t VALUES (1, 'old'), (9, 'keep')")
    t = pw.debug.table_from_rows(S, ROWS)
    pw_duckdb_sink.write(t, table_name="t", database=db_path, output_table_type="snapshot",
                         primary_key=[t.a])
    pw.run(**RUN)
    assert query(db_path, "SELECT a, b FROM t ORDER BY a") == [*ROWS, (9, "keep")]


@pytest.mark.parametrize("init_mode", ["default", "create_if_not_exists"])
def test_existing_table_named_in_another_case_is_found_and_checked(db_path, query, init_mode):
    # DuckDB resolves "Orders" and orders to one table, so the writer must find and check it
    _setup(db_path, 'CREATE TABLE "T" (a BIGINT, b VARCHAR, time BIGINT, diff SMALLINT)')
    _write(db_path, init_mode=init_mode)
    assert sorted(query(db_path, "SELECT a, b FROM t"), key=str) == sorted(ROWS, key=str)


def test_existing_table_named_in_another_case_that_does_not_fit_is_refused(db_path, query):
    _setup(db_path, 'CREATE TABLE "T" (a BIGINT, time BIGINT, diff SMALLINT)')
    with pytest.raises(ValueError, match=r"'b'"):
        _write(db_path, init_mode="create_if_not_exists")


@pytest.mark.parametrize("first, then", [("stream_of_changes", "snapshot"), ("snapshot", "stream_of_changes")])
def test_a_table_written_in_the_other_layout_is_refused_by_name(db_path, query, first, then):
    def write(output):
        pw.internals.parse_graph.G.clear()
        t = pw.debug.table_from_rows(S, ROWS)
        keyed = {"primary_key": [t.a]} if output == "snapshot" else {}
        pw_duckdb_sink.write(t, table_name="t", database=db_path, init_mode="create_if_not_exists",
                             output_table_type=output, **keyed)
        pw.run(**RUN)

    write(first)
    before = query(db_path, "SELECT * FROM t ORDER BY a")
    written_as = "a change log" if first == "stream_of_changes" else "a snapshot"
    with pytest.raises(ValueError, match=f"was written by pw_duckdb_sink as {written_as}.*writes a {then}"):
        write(then)
    assert query(db_path, "SELECT * FROM t ORDER BY a") == before
