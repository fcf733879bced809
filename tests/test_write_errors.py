"""Failed runs and refused destinations: what the sink leaves behind and what it says."""

import dataclasses
import json
import subprocess
import sys
import textwrap

import duckdb
import numpy as np
import pathway as pw
import pytest

import pw_duckdb_sink
from pw_duckdb_sink import _writer

from _db import execute as _execute

RUN = dict(monitoring_level=pw.MonitoringLevel.NONE)



# --- A: a failed run releases every writer's file ----------------------------------------

def test_failed_run_closes_the_other_writers_connection(db_path):
    _execute(db_path, "CREATE VIEW bad AS SELECT 1 AS a")
    t = pw.debug.table_from_markdown("a\n1\n2\n")
    pw_duckdb_sink.write(t, table_name="good", database=db_path, init_mode="create_if_not_exists")
    pw_duckdb_sink.write(t, table_name="bad", database=db_path, init_mode="create_if_not_exists")
    with pytest.raises(ValueError, match="is a view"):
        pw.run(**RUN)
    # Same process: a read-only connection needs every read-write one on the file closed.
    con = duckdb.connect(str(db_path), read_only=True)
    con.close()
    # Another process: needs the file's lock.
    probe = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", str(db_path)],
        capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr


def test_a_refused_destination_stops_the_run_before_another_writer_commits(db_path, query):
    _execute(db_path, "CREATE TABLE base (a BIGINT, time BIGINT, diff SMALLINT)",
             "CREATE VIEW bad AS SELECT * FROM base")
    t = pw.debug.table_from_markdown("a\n1\n2\n")
    # "good" is attached first, so its callbacks come first.
    pw_duckdb_sink.write(t, table_name="good", database=db_path, init_mode="create_if_not_exists")
    pw_duckdb_sink.write(t, table_name="bad", database=db_path, init_mode="create_if_not_exists")
    with pytest.raises(ValueError, match="is a view"):
        pw.run(**RUN)
    assert query(db_path, "SELECT count(*) FROM good") == [(0,)]
    assert query(db_path, 'SELECT count(*) FROM "_pw_duckdb_sink_commits"') == [(0,)]


# --- B: an existing column whose type cannot hold what the sink writes ---------------------

@pytest.mark.parametrize("ddl, column, found, wanted", [
    ("a VARCHAR, time BIGINT, diff SMALLINT", "a", "VARCHAR", "BIGINT"),
    ("a BIGINT, time INTEGER, diff SMALLINT", "time", "INTEGER", "BIGINT"),
    # would take small values and overflow on a larger one, much later
    ("a TINYINT, time BIGINT, diff SMALLINT", "a", "TINYINT", "BIGINT"),
])
def test_existing_column_of_another_type_is_refused_at_start_up(db_path, query, ddl, column, found, wanted):
    _execute(db_path, f"CREATE TABLE t ({ddl})")
    t = pw.debug.table_from_markdown("a\n1\n2\n")
    pw_duckdb_sink.write(t, table_name="t", database=db_path)
    with pytest.raises(ValueError) as info:
        pw.run(**RUN)
    text = str(info.value)
    assert f"column {column!r} is {found}, the sink writes {wanted}" in text
    assert f'ALTER "{column}" TYPE {wanted}' in text and 'init_mode="replace"' in text
    assert query(db_path, "SELECT count(*) FROM t") == [(0,)]


def test_lossless_wider_existing_columns_are_accepted(db_path, query):
    _execute(db_path, "CREATE TABLE t (a HUGEINT, j VARCHAR, time BIGINT, diff INTEGER)")
    rows = [(2**62, {"k": [1, 2]}), (-5, {"k": None})]
    t = pw.debug.table_from_rows(pw.schema_from_types(a=int, j=pw.Json), [(a, pw.Json(j)) for a, j in rows])
    pw_duckdb_sink.write(t, table_name="t", database=db_path)
    pw.run(**RUN)
    got = query(db_path, "SELECT a, j, diff FROM t ORDER BY a")
    assert [(int(a), json.loads(j), d) for a, j, d in got] == sorted((a, j, 1) for a, j in rows)


@pytest.mark.parametrize("found, wanted, fits", [
    ("HUGEINT[]", "BIGINT[]", True), ("DOUBLE[]", "BIGINT[]", False),
    ("DOUBLE[]", "DOUBLE[][]", False), ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP", False),
    ("JSON", "VARCHAR", False), ("VARCHAR", "JSON", True), ("FLOAT", "DOUBLE", False),
])
def test_column_fits_only_lossless_widenings(found, wanted, fits):
    from pw_duckdb_sink import _types
    assert _types.column_fits(found, wanted) is fits


# --- C: a lock held past the bound names the table and the minibatch ----------------------

_HOLDER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    sys.stdin.readline()  # hold the lock until the test says so
""")


def test_lock_timeout_between_batches_names_table_and_minibatch(db_path, query, monkeypatch):
    holders = []
    close = _writer._Writer._close_if_detached

    def close_then_lock(self):
        close(self)
        if not holders:  # after start-up: another process takes the file before the first minibatch
            proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db_path)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            holders.append(proc)
            assert proc.stdout.readline().strip() == "locked"

    monkeypatch.setattr(_writer._Writer, "_close_if_detached", close_then_lock)
    t = pw.debug.table_from_markdown("a | __time__\n1 | 2\n2 | 4\n")
    spec, sort_by = _writer.build_spec(
        t, table_name="held_t", database=db_path, max_batch_size=None, init_mode="create_if_not_exists",
        output_table_type="stream_of_changes", primary_key=None, detach_between_batches=True,
        name=None, sort_by=None)
    _writer.attach(t, dataclasses.replace(spec, lock_timeout_s=0.3), sort_by)
    try:
        with pytest.raises(RuntimeError) as info:
            pw.run(**RUN)
    finally:
        for proc in holders:
            proc.stdin.write("\n")
            proc.stdin.close()
            proc.wait(timeout=30)
    text = str(info.value)
    assert "table 'held_t'" in text and "in the minibatch of time 2" in text
    assert "minibatch was not written" in text and "another process holds its lock" in text
    assert query(db_path, "SELECT count(*) FROM held_t") == [(0,)]


# --- D: an untyped numpy array column takes 1-D values only -------------------------------

def test_untyped_ndarray_column_refuses_a_2d_value(db_path, query):
    class S(pw.Schema):
        m: np.ndarray

    matrix = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = pw.debug.table_from_rows(S, [(matrix,), (np.array([5.0, 6.0]),)])
    pw_duckdb_sink.write(t, table_name="t", database=db_path, init_mode="create_if_not_exists")
    with pytest.raises(RuntimeError) as info:
        pw.run(**RUN)
    text = str(info.value)
    assert "table 't'" in text and "column 'm'" in text
    assert f"{matrix.ndim}-dimensional array (shape {matrix.shape})" in text and "declare the dimensions" in text
    assert query(db_path, "SELECT count(*) FROM t") == [(0,)]


def test_untyped_ndarray_column_keeps_1d_values(db_path, query):
    class S(pw.Schema):
        m: np.ndarray

    values = [np.array([1.5, -2.0]), np.array([np.inf])]
    t = pw.debug.table_from_rows(S, [(v,) for v in values])
    pw_duckdb_sink.write(t, table_name="t", database=db_path, init_mode="create_if_not_exists")
    pw.run(**RUN)
    assert sorted(m for (m,) in query(db_path, "SELECT m FROM t")) == sorted(v.tolist() for v in values)


# --- E: a dotted table_name is one identifier ----------------------------------------------

def test_dotted_table_name_error_says_the_dot_is_part_of_the_name(db_path, query):
    _execute(db_path, "CREATE SCHEMA s", "CREATE TABLE s.t (a BIGINT, time BIGINT, diff SMALLINT)")
    t = pw.debug.table_from_markdown("a\n1\n")
    pw_duckdb_sink.write(t, table_name="s.t", database=db_path)
    with pytest.raises(ValueError) as info:
        pw.run(**RUN)
    text = str(info.value)
    assert "table 's.t' does not exist" in text and "one identifier in the main schema" in text
    assert "not table 't' of a schema 's'" in text
    assert query(db_path, "SELECT count(*) FROM s.t") == [(0,)]
