"""`pw-duckdb-sink demo` that cannot start says why in one line and writes nothing."""

import socket

import duckdb
import pytest
from click.testing import CliRunner

from pw_duckdb_sink.cli import main


def test_a_port_in_use_is_refused_before_anything_is_written(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = CliRunner().invoke(main, ["demo", "--once", "--data-dir", str(tmp_path / "d"),
                                           "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert f"port {port} is already in use" in result.output
    assert "--no-dashboard" in result.output
    assert not (tmp_path / "d").exists()


def test_a_data_folder_that_cannot_be_created_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["demo", "--once", "--no-dashboard",
                                       "--data-dir", str(blocker / "data")])
    assert result.exit_code == 1, result.output
    assert "cannot create the folder" in result.output and str(blocker / "data") in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("speed", ["nan", "-inf"])
def test_a_speed_that_is_not_a_positive_number_is_refused(tmp_path, speed):
    result = CliRunner().invoke(main, ["demo", "--data-dir", str(tmp_path), "--speed", speed])
    assert result.exit_code == 2
    assert "speed must be a positive number" in result.output and "--once" in result.output
    assert not (tmp_path / "cdnow.duckdb").exists()


def test_a_database_in_a_folder_that_does_not_exist_yet_is_created(tmp_path):
    database = tmp_path / "new" / "folder" / "orders.duckdb"
    result = CliRunner().invoke(main, ["demo", "--once", "--no-dashboard", "--data-dir",
                                       str(tmp_path / "d"), "--database", str(database)])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(database), read_only=True)
    days = con.execute("SELECT count(*) FROM cdnow_daily").fetchone()[0]
    con.close()
    assert "replayed days 1.." in result.output and f"of {days}" in result.output


def test_a_bad_speed_is_refused_with_once_too(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--once", "--no-dashboard", "--data-dir", str(tmp_path),
                                       "--speed", "-1"])
    assert result.exit_code == 2
    assert "speed must be a positive number" in result.output
    assert not (tmp_path / "cdnow.duckdb").exists()


def test_a_database_that_is_not_duckdb_is_a_one_line_error_and_stays_as_it_was(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    result = CliRunner().invoke(main, ["demo", "--once", "--no-dashboard", "--data-dir", str(tmp_path / "d"),
                                       "--database", str(junk)])
    assert result.exit_code == 1, result.output
    assert "is not a DuckDB database" in result.output and "--database" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert junk.read_text() == "not a database"
