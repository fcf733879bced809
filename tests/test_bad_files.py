"""Files that are not DuckDB databases: every entry point says so and names the file."""

import datetime as dt

import duckdb
import pytest
from click.testing import CliRunner

import pw_duckdb_sink
from pw_duckdb_sink import _connect
from pw_duckdb_sink.cli import main


@pytest.fixture(params=["csv", "garbage", "empty", "folder"])
def not_duckdb(request, tmp_path):
    """A CSV (DuckDB 2 opens one as an in-memory view over it), random bytes, a 0-byte file,
    a folder."""
    if request.param == "folder":
        (tmp_path / "orders.duckdb").mkdir()
        return tmp_path / "orders.duckdb"
    path = tmp_path / {"csv": "orders.csv", "garbage": "orders.duckdb", "empty": "empty.duckdb"}[request.param]
    path.write_bytes({"csv": b"customer,amount\nalice,10\n", "garbage": b"not a database at all",
                      "empty": b""}[request.param])
    return path


@pytest.mark.parametrize("read_only", [True, False])
def test_connect_refuses_a_file_that_is_not_a_duckdb_database(not_duckdb, read_only):
    before = not_duckdb.read_bytes() if not_duckdb.is_file() else None
    with pytest.raises(ValueError, match="is not a DuckDB database") as info:
        _connect.connect(not_duckdb, read_only=read_only)
    assert str(not_duckdb) in str(info.value)
    if before is not None:
        assert not_duckdb.read_bytes() == before  # left as it was


def test_connect_still_opens_new_existing_and_in_memory_databases(tmp_path):
    path = tmp_path / "new.duckdb"
    _connect.connect(path).execute("CREATE TABLE t (x INT)").close()
    con = _connect.connect(path, read_only=True)
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    con.close()
    _connect.connect(":memory:").close()
    # A new file with another extension is still a DuckDB file DuckDB creates.
    other = tmp_path / "data.db"
    _connect.connect(other).execute("CREATE TABLE t (x INT)").close()
    assert duckdb.connect(str(other), read_only=True).execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_readers_and_compact_say_the_file_is_not_duckdb(not_duckdb):
    calls = {
        "read_baseline": lambda: pw_duckdb_sink.read_baseline(
            database=not_duckdb, table_name="orders", aggregates={"n": "count"}),
        "as_of": lambda: pw_duckdb_sink.as_of(not_duckdb, "orders", dt.timedelta(0)),
        "history": lambda: pw_duckdb_sink.history(not_duckdb, "orders", key={"customer": "alice"}),
        "compact": lambda: pw_duckdb_sink.compact(not_duckdb, "orders", dt.timedelta(days=1)),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="is not a DuckDB database"):
            call()


def test_inspect_of_a_file_that_is_not_duckdb_is_a_one_line_error(not_duckdb):
    result = CliRunner().invoke(main, ["inspect", str(not_duckdb)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if not_duckdb.is_dir():  # click's own check of the argument
        assert result.exit_code == 2 and "is a directory" in result.output
    else:
        assert result.exit_code == 1
        assert "is not a DuckDB database" in result.output
    assert "Traceback" not in result.output


def test_write_into_a_csv_stops_the_run_instead_of_writing_to_memory(tmp_path):
    import pathway as pw

    path = tmp_path / "orders.csv"
    path.write_bytes(b"customer,amount\nalice,10\n")
    orders = pw.debug.table_from_markdown("""
        customer | amount
        bob      | 5
    """)
    pw_duckdb_sink.write(orders, table_name="orders", database=str(path), init_mode="create_if_not_exists")
    with pytest.raises(Exception, match="is not a DuckDB database"):
        pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    assert path.read_bytes() == b"customer,amount\nalice,10\n"
