"""Failed runs and refused destinations: what the sink leaves behind and what it says."""

import subprocess
import sys

import duckdb
import pathway as pw
import pytest

import pw_duckdb_sink

RUN = dict(monitoring_level=pw.MonitoringLevel.NONE)


def _execute(db_path, *sql):
    con = duckdb.connect(str(db_path))
    for stmt in sql:
        con.execute(stmt)
    con.close()


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
