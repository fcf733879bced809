"""A destination that cannot be opened stops the run at start-up, before any data."""

import pathway as pw
import pytest

import pw_duckdb_sink

RUN = dict(monitoring_level=pw.MonitoringLevel.NONE)


def _table():
    return pw.debug.table_from_markdown("""
        a | b
        1 | x
        2 | y
    """)


@pytest.mark.parametrize("output", ["stream_of_changes", "snapshot"])
def test_database_in_a_missing_folder_is_refused_at_write(tmp_path, output):
    t = _table()
    missing = tmp_path / "no" / "such" / "folder"
    extra = dict(primary_key=[t.a]) if output == "snapshot" else {}
    with pytest.raises(ValueError, match="folder .* does not exist; create the folder"):
        pw_duckdb_sink.write(t, table_name="t", database=missing / "x.duckdb",
                             init_mode="create_if_not_exists", output_table_type=output, **extra)
    assert not missing.exists()  # nothing created behind the user's back


def test_a_folder_removed_before_the_run_is_refused_at_start_up(tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    pw_duckdb_sink.write(_table(), table_name="t", database=folder / "x.duckdb", init_mode="create_if_not_exists")
    folder.rmdir()
    with pytest.raises(Exception, match="folder .* does not exist; create the folder") as info:
        pw.run(**RUN)
    assert "minibatch" not in str(info.value)
    assert not folder.exists()

