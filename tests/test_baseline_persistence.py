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


def _storage_with_state(tmp_path):
    storage = tmp_path / "pstorage"
    storage.mkdir()
    (storage / "state").write_text("x")
    return pw.persistence.Config(pw.persistence.Backend.filesystem(storage))


def test_a_snapshot_of_the_restored_writer_is_left_out_whole(db_path, tmp_path):
    import pw_duckdb_sink

    orders = pw.debug.table_from_markdown("""
        shop | amount
        a    | 2.5
        b    | 4.0
        a    | 1.5
    """)
    totals = orders.groupby(orders.shop).reduce(orders.shop, revenue=pw.reducers.sum(orders.amount))
    pw_duckdb_sink.write(totals, database=db_path, table_name="totals", name="live", init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[totals.shop])
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    pw.internals.parse_graph.G.clear()
    cfg = _storage_with_state(tmp_path)

    def read(writer):
        return pw.debug.table_to_pandas(read_baseline(
            database=db_path, table_name="totals", aggregates={"r": ("sum", "revenue")},
            exclude_writer=writer, persistence_config=cfg))

    assert len(read("live")) == 0  # the restored session re-emits this whole snapshot
    pw.internals.parse_graph.G.clear()
    assert read("someone_else")["r"].item() == pytest.approx(2.5 + 4.0 + 1.5)


def _run_totals(orders_dir, db, cfg):
    """The README's pipeline: a named change log plus session + baseline; the last total."""
    import pw_duckdb_sink

    class Order(pw.Schema):
        customer: str
        amount: float

    pw.internals.parse_graph.G.clear()
    orders = pw.io.csv.read(orders_dir, schema=Order, mode="static", name="orders_in")
    pw_duckdb_sink.write(orders, database=db, table_name="orders", name="orders_log",
                         init_mode="create_if_not_exists")
    session = orders.reduce(revenue=pw.reducers.sum(orders.amount), orders=pw.reducers.count())
    exclude = {} if cfg is None else {"exclude_writer": "orders_log", "persistence_config": cfg}
    baseline = read_baseline(database=db, table_name="orders",
                             aggregates={"revenue": ("sum", "amount"), "orders": "count"}, **exclude)
    totals = pw_duckdb_sink.with_baseline(session, baseline, columns={"revenue": "sum", "orders": "count"})
    last = {}
    pw.io.subscribe(totals, lambda key, row, time, is_addition: is_addition and last.update(row))
    pw.run(monitoring_level=pw.MonitoringLevel.NONE, **({} if cfg is None else {"persistence_config": cfg}))
    return last["revenue"], last["orders"]


def test_rows_of_a_run_without_persistence_count_once_persistence_is_on(db_path, tmp_path, query):
    # Run 1 has no persistence: its rows are in no restored session, so every later baseline
    # must count them, even though the same writer name goes on committing with persistence.
    orders, done = tmp_path / "orders", tmp_path / "done"
    orders.mkdir()
    done.mkdir()
    days = [[("alice", 10.0), ("bob", 5.0), ("alice", 7.0)], [("carol", 8.0), ("alice", 1.0)], [("bob", 100.0)]]
    for i, day in enumerate(days):
        (orders / f"day{i}.csv").write_text("customer,amount\n" + "".join(f"{c},{a}\n" for c, a in day))
        if i == 0:
            got = _run_totals(str(orders), str(db_path), None)
            (orders / "day0.csv").rename(done / "day0.csv")  # the persistent reader never sees it
        else:
            cfg = pw.persistence.Config(pw.persistence.Backend.filesystem(tmp_path / "pstorage"))
            got = _run_totals(str(orders), str(db_path), cfg)
        seen = [a for d in days[:i + 1] for _, a in d]
        assert got == (pytest.approx(sum(seen)), len(seen))
    # Compaction keeps run 1's commits apart from the ones the restored session holds.
    import pw_duckdb_sink

    newest = query(db_path, "SELECT max(time) FROM orders")[0][0]
    pw_duckdb_sink.compact(str(db_path), "orders", newest)
    pw.internals.parse_graph.G.clear()
    left = pw.debug.table_to_pandas(read_baseline(
        database=str(db_path), table_name="orders", aggregates={"revenue": ("sum", "amount"), "orders": "count"},
        exclude_writer="orders_log", persistence_config=cfg))
    assert (left["revenue"].item(), left["orders"].item()) == (pytest.approx(22.0), 3)


def test_an_exclude_writer_that_never_committed_warns_and_leaves_nothing_out(db_path, tmp_path, caplog):
    _db(db_path)
    with caplog.at_level("WARNING", logger="pw_duckdb_sink"):
        got = _revenue(database=db_path, exclude_writer="lvie", persistence_config=_storage_with_state(tmp_path))
    assert got == pytest.approx(sum(a for _, _, a in ROWS))
    assert "'lvie' never committed to table 'ev'" in caplog.text and "['live', 'old']" in caplog.text
