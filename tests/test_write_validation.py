"""Every build-time ValueError of write(): raised before the graph runs, saying what to do."""

import numpy as np
import pandas as pd
import pathway as pw
import pytest

import pw_duckdb_sink


class S(pw.Schema):
    a: int
    b: str
    c: float | None


def _table(schema=S, rows=((1, "x", 1.5),)):
    return pw.debug.table_from_rows(schema, list(rows))


def _snapshot(t, key, **kwargs):
    pw_duckdb_sink.write(t, table_name="t", database="db.duckdb", output_table_type="snapshot",
                         primary_key=key, init_mode="create_if_not_exists", **kwargs)


@pytest.fixture(autouse=True)
def _no_file_created(tmp_path, monkeypatch):
    """Refused calls must not touch the disk: run each test in an empty directory."""
    monkeypatch.chdir(tmp_path)
    yield
    assert not (tmp_path / "db.duckdb").exists()


def test_snapshot_requires_primary_key():
    t = _table()
    with pytest.raises(ValueError, match=r"snapshot.*needs primary_key=\[\.\.\.\]"):
        pw_duckdb_sink.write(t, table_name="t", database="db.duckdb", output_table_type="snapshot")


def test_snapshot_refuses_an_empty_primary_key():
    with pytest.raises(ValueError, match=r"needs primary_key"):
        _snapshot(_table(), [])


def test_stream_refuses_primary_key():
    t = _table()
    with pytest.raises(ValueError, match="only used with output_table_type=\"snapshot\"; remove it"):
        pw_duckdb_sink.write(t, table_name="t", database="db.duckdb", primary_key=[t.a])


def test_nullable_key_is_refused():
    t = _table()
    with pytest.raises(ValueError, match=r"'c' is nullable.*Filter or fill the NULLs"):
        _snapshot(t, [t.a, t.c])


@pytest.mark.parametrize("make", [
    pytest.param(lambda t: pw.apply_with_type(lambda a: [a], list[int], t.a), id="list"),
    pytest.param(lambda t: pw.apply_with_type(lambda a: (a, a), tuple[int, int], t.a), id="tuple"),
    pytest.param(lambda t: pw.apply_with_type(lambda a: pw.Json({"a": a}), pw.Json, t.a), id="json"),
    pytest.param(lambda t: pw.apply_with_type(lambda a: np.array([a]), np.ndarray, t.a), id="ndarray"),
    # not a collection, but DuckDB cannot index INTERVAL either
    pytest.param(lambda t: pw.apply_with_type(lambda a: pd.Timedelta(a), pw.Duration, t.a), id="duration"),
])
def test_non_scalar_key_is_refused(make):
    t = _table().select(k=make(pw.this), v=pw.this.b)
    with pytest.raises(ValueError, match=r"primary_key column 'k' has type .*pick scalar key columns"):
        _snapshot(t, [t.k])


def test_duplicated_key_column_is_refused():
    t = _table()
    with pytest.raises(ValueError, match=r"lists \['a'\] more than once; list each column once"):
        _snapshot(t, [t.a, t.b, t.a])


def test_sort_by_in_snapshot_is_refused():
    t = _table()
    with pytest.raises(ValueError, match="remove sort_by, or use output_table_type=\"stream_of_changes\""):
        _snapshot(t, [t.a], sort_by=[t.b])


@pytest.mark.parametrize("column", ["time", "diff", "Time", "DIFF"])
def test_time_and_diff_columns_are_refused_in_stream(column):
    t = _table().select(**{column: pw.this.a, "b": pw.this.b})
    with pytest.raises(ValueError, match=rf"\['{column}'\] clash with the 'time' and 'diff'.*rename them"):
        pw_duckdb_sink.write(t, table_name="t", database="db.duckdb")


def test_time_and_diff_columns_are_fine_in_snapshot(db_path, query):
    t = _table().select(pw.this.a, time=pw.this.b, diff=pw.this.c)
    pw_duckdb_sink.write(t, table_name="t", database=db_path, output_table_type="snapshot",
                         primary_key=[t.a], init_mode="create_if_not_exists")
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    assert query(db_path, "SELECT a, time, diff FROM t") == [(1, "x", 1.5)]


def test_names_equal_but_for_case_are_refused():
    t = _table().select(pw.this.a, A=pw.this.b)
    with pytest.raises(ValueError, match=r"\[\['A', 'a'\]\] differ only in case.*rename them"):
        pw_duckdb_sink.write(t, table_name="t", database="db.duckdb")


def test_database_that_is_a_directory_is_refused(tmp_path):
    (tmp_path / "dir.duckdb").mkdir()
    with pytest.raises(ValueError, match="is a directory; pass the path of a DuckDB file"):
        pw_duckdb_sink.write(_table(), table_name="t", database=tmp_path / "dir.duckdb")


def test_memory_with_detach_is_refused():
    with pytest.raises(ValueError, match="use a database file"):
        pw_duckdb_sink.write(_table(), table_name="t", database=":memory:", detach_between_batches=True)


def test_unknown_init_mode_is_refused():
    with pytest.raises(ValueError, match=r"init_mode='append' is not one of \['default', 'create_if_not_exists', 'replace'\]"):
        pw_duckdb_sink.write(_table(), table_name="t", database="db.duckdb", init_mode="append")


def test_unknown_output_table_type_is_refused():
    with pytest.raises(ValueError, match=r"output_table_type='table' is not one of \['stream_of_changes', 'snapshot'\]"):
        pw_duckdb_sink.write(_table(), table_name="t", database="db.duckdb", output_table_type="table")


@pytest.mark.parametrize("bad", [0, -5, 2.5, "100", True])
def test_bad_max_batch_size_is_refused(bad):
    with pytest.raises(ValueError, match="give a positive number of rows, or None"):
        pw_duckdb_sink.write(_table(), table_name="t", database="db.duckdb", max_batch_size=bad)


@pytest.mark.parametrize("kwargs", [dict(detach_between_batches="yes"), dict(detach_between_batches=1),
                                    dict(name=3)])
def test_detach_and_name_of_the_wrong_type_are_refused(kwargs):
    (key, value), = kwargs.items()
    with pytest.raises(ValueError, match=rf"{key}={value!r}: pass"):
        pw_duckdb_sink.write(_table(), table_name="t", database="db.duckdb", **kwargs)


@pytest.mark.parametrize("bad", ["", None])
def test_missing_table_name_is_refused(bad):
    with pytest.raises(ValueError, match="table_name must be a non-empty string"):
        pw_duckdb_sink.write(_table(), table_name=bad, database="db.duckdb")


def test_key_column_of_another_table_is_refused():
    t, other = _table(), _table()
    with pytest.raises(ValueError, match="'a' does not belong to the written table"):
        _snapshot(t, [other.a])


def test_key_column_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="'nope' is not a column of the written table"):
        _snapshot(_table(), ["nope"])


def test_sort_by_column_of_another_table_is_refused():
    t, other = _table(), _table()
    with pytest.raises(ValueError, match="sort_by column 'b' does not belong to the written table"):
        pw_duckdb_sink.write(t, table_name="t", database="db.duckdb", sort_by=[other.b])


def test_untyped_column_is_refused():
    # pw.apply without a return type gives a column of type Any
    t = _table().select(pw.this.a, x=pw.apply(lambda a: a, pw.this.a))
    with pytest.raises(ValueError, match=r"column 'x': .* has no DuckDB counterpart; declare a concrete type"):
        pw_duckdb_sink.write(t, table_name="t", database="db.duckdb")


def test_a_list_of_untyped_elements_is_refused():
    t = _table().select(pw.this.a, x=pw.apply_with_type(lambda a: [a], list, pw.this.a))
    with pytest.raises(ValueError, match=r"column 'x': .* has no DuckDB counterpart; declare a concrete type"):
        pw_duckdb_sink.write(t, table_name="t", database="db.duckdb")


def test_internal_column_names_are_refused():
    t = _table().select(pw.this.a, _pw_seq=pw.this.b)
    with pytest.raises(ValueError, match=r"\['_pw_seq'\] are reserved.*rename them"):
        pw_duckdb_sink.write(t, table_name="t", database="db.duckdb")


@pytest.mark.parametrize("bad", [0, -1, "7 days"])
def test_bad_retention_is_refused(bad):
    with pytest.raises(ValueError, match="retention"):
        pw_duckdb_sink.write(_table(), table_name="t", database="db.duckdb", retention=bad)


def test_a_refused_call_adds_nothing_to_the_graph(db_path, query):
    """A refused write leaves no half-built sink behind: a later valid run still works."""
    t = _table()
    with pytest.raises(ValueError):
        pw_duckdb_sink.write(t, table_name="t", database=db_path, primary_key=[t.a])
    pw_duckdb_sink.write(t, table_name="t", database=db_path, init_mode="create_if_not_exists")
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    assert query(db_path, "SELECT a, b, c, diff FROM t") == [(1, "x", 1.5, 1)]


@pytest.mark.parametrize("database", [None, "", 42])
def test_database_that_is_not_a_path_is_refused(database):
    t = pw.debug.table_from_markdown("""
        a
        1
    """)
    with pytest.raises(ValueError, match="give the path of a DuckDB file"):
        pw_duckdb_sink.write(t, table_name="t", database=database)


def test_sort_by_given_as_one_string_is_refused():
    t = _table()
    with pytest.raises(ValueError, match=r"sort_by must be a list of columns, e.g. sort_by=\[table.a\]"):
        pw_duckdb_sink.write(t, table_name="t", database="db.duckdb", sort_by="a")


def test_empty_writer_name_is_refused():
    with pytest.raises(ValueError, match=r"name='': pass a non-empty string"):
        pw_duckdb_sink.write(_table(), table_name="t", database="db.duckdb", name="")


def test_something_else_than_a_table_is_refused():
    with pytest.raises(TypeError, match=r"table=None: pass the pw.Table to write"):
        pw_duckdb_sink.write(None, table_name="t", database="db.duckdb")


def test_database_in_a_missing_folder_is_refused_at_write(tmp_path):
    with pytest.raises(ValueError, match=r"its folder .*missing.* does not exist; create the folder"):
        pw_duckdb_sink.write(_table(), table_name="t", database=tmp_path / "missing" / "x.duckdb")
    assert not (tmp_path / "missing").exists()


def test_a_blank_table_name_is_refused():
    with pytest.raises(ValueError, match="non-empty string naming the destination table"):
        pw_duckdb_sink.write(_table(), table_name="  ", database="db.duckdb")


def test_a_folder_this_process_cannot_write_is_refused_at_write(tmp_path, monkeypatch):
    # As root every folder is writable, so the permission answer is faked.
    import os

    monkeypatch.setattr(os, "access", lambda path, mode: not (mode & os.W_OK and str(path) == str(tmp_path)))
    with pytest.raises(ValueError, match="its folder .* is not writable by this process"):
        pw_duckdb_sink.write(_table(), table_name="t", database=tmp_path / "x.duckdb")


def _two_writers(db, first: dict, second: dict, other=None):
    pw_duckdb_sink.write(_table(), table_name="t", database=db, **first)
    pw_duckdb_sink.write(other if other is not None else _table(), table_name="T", database=db, **second)


@pytest.mark.parametrize("first, second, other, message", [
    ({"init_mode": "create_if_not_exists"}, {"init_mode": "replace"}, None, "one with init_mode='replace'"),
    ({}, {}, "other columns", "disagree on its shape"),
    ({}, {}, "other types", r"\(a BIGINT, b VARCHAR, c DOUBLE\) vs stream_of_changes \(a BIGINT, b BIGINT"),
    ({}, {"output_table_type": "snapshot"}, "keyed", "disagree on its shape"),
    ({"name": "w"}, {"name": "w"}, None, "both named 'w'"),
])
def test_writers_of_one_table_that_cannot_share_it_are_refused_at_write(tmp_path, first, second, other, message):
    t = _table()
    if other == "other columns":
        other = t.select(pw.this.a, c=pw.this.b)
    elif other == "other types":
        other = t.select(pw.this.a, b=pw.this.a, c=pw.this.c)
    elif other == "keyed":
        other = t
        second = dict(second, primary_key=[t.a])
    with pytest.raises(ValueError, match=message):
        _two_writers(tmp_path / "shared.duckdb", first, second, other)


def test_writers_of_one_table_with_the_same_shape_both_append(tmp_path, query):
    db = tmp_path / "shared.duckdb"
    create = {"init_mode": "create_if_not_exists"}
    _two_writers(db, {"name": "w1", **create}, {"name": "w2", **create})
    pw_duckdb_sink.write(_table(), table_name="t", database=tmp_path / "other.duckdb", init_mode="replace")
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    assert query(db, "SELECT a, b, c, diff FROM t") == [(1, "x", 1.5, 1)] * 2
