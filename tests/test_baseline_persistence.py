"""read_baseline(exclude_writer=, persistence_config=): the restored session's own rows are left out."""

import duckdb
import pathway as pw
import pytest

from pw_duckdb_sink import read_baseline

# (writer, time, amount): two lineages in one change log
ROWS = [("old", 1, 10.0), ("live", 2, 1.5), ("old", 3, 7.0), ("live", 4, 2.5), (None, 5, 100.0)]


def _db(db):
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE ev (amount DOUBLE, time BIGINT, diff SMALLINT)")
    con.execute('CREATE TABLE "_pw_duckdb_sink_commits" (table_name VARCHAR NOT NULL, writer_name VARCHAR, '
                "time BIGINT NOT NULL, rows BIGINT NOT NULL, committed_at TIMESTAMP NOT NULL)")
    for writer, t, amount in ROWS:
        con.execute("INSERT INTO ev VALUES (?, ?, 1)", [amount, t])
        con.execute("INSERT INTO \"_pw_duckdb_sink_commits\" VALUES ('ev', ?, ?, 1, now()::TIMESTAMP)", [writer, t])
    # another table's commit at a 'live' time must not matter
    con.execute("INSERT INTO \"_pw_duckdb_sink_commits\" VALUES ('other', 'live', 3, 1, now()::TIMESTAMP)")
    con.close()


def _revenue(**kwargs):
    df = pw.debug.table_to_pandas(read_baseline(table_name="ev", aggregates={"r": ("sum", "amount")}, **kwargs))
    return df["r"].item()


def test_restored_writer_rows_are_left_out(db_path, tmp_path):
    _db(db_path)
    storage = tmp_path / "pstorage"
    storage.mkdir()
    (storage / "state").write_text("x")
    cfg = pw.persistence.Config(pw.persistence.Backend.filesystem(storage))
    got = _revenue(database=db_path, exclude_writer="live", persistence_config=cfg)
    assert got == pytest.approx(sum(a for w, _, a in ROWS if w != "live"))


@pytest.mark.parametrize("make_dir", [False, True])
def test_missing_or_empty_storage_leaves_nothing_out(db_path, tmp_path, make_dir):
    _db(db_path)
    storage = tmp_path / "pstorage"
    if make_dir:
        storage.mkdir()
    cfg = pw.persistence.Config(pw.persistence.Backend.filesystem(storage))
    got = _revenue(database=db_path, exclude_writer="live", persistence_config=cfg)
    assert got == pytest.approx(sum(a for _, _, a in ROWS))


def test_exclude_writer_and_persistence_config_go_together(db_path):
    with pytest.raises(ValueError, match="go together"):
        read_baseline(database=db_path, table_name="ev", aggregates={"n": "count"}, exclude_writer="live")
