"""A named writer's state: per session, per destination, per writer; and the incoming order.

Without Pathway persistence every run is a new session and a named writer must write what
Pathway sends, like an unnamed one; its state is dropped when the destination is (re)created;
two writers never share a state table; reconciling keeps the minibatch's order (sort_by).
"""

from __future__ import annotations

from collections import Counter

import duckdb
import pathway as pw

import pw_duckdb_sink
from pw_duckdb_sink import _exactly_once
from pw_duckdb_sink._exactly_once import reconcile, state_table
from pw_duckdb_sink._run_context import run_restores_from_persistence

from test_exactly_once import _batch, _spec


class KV(pw.Schema):
    k: str
    v: int


def _run(persist_dir=None):
    kw = {}
    if persist_dir is not None:
        kw["persistence_config"] = pw.persistence.Config(pw.persistence.Backend.filesystem(str(persist_dir)))
    pw.run(monitoring_level=pw.MonitoringLevel.NONE, **kw)
    pw.internals.parse_graph.G.clear()


def _read(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_run_context_tells_whether_the_run_restores_from_persistence(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("k,v\nx,1\n")
    seen = {}
    for persist in (False, True):
        t = pw.io.csv.read(str(tmp_path / "in"), schema=KV, mode="static", name="in")
        pw.io.subscribe(t, on_change=lambda **kw: seen.setdefault(persist, run_restores_from_persistence()))
        _run(tmp_path / "ps" if persist else None)
    assert seen == {False: False, True: True}


def test_without_persistence_each_run_is_a_new_session(tmp_path):
    """A named change log of an aggregate, run twice over different inputs, adds up to the sum
    of the two runs' final states, and equals an unnamed writer's log."""
    db, inputs = tmp_path / "o.duckdb", [[("alice", 10), ("bob", 5)], [("alice", 3)], [("alice", 3)]]
    expected = Counter()
    for run, rows in enumerate(inputs):
        folder = tmp_path / f"in{run}"
        folder.mkdir()
        (folder / "a.csv").write_text("k,v\n" + "".join(f"{k},{v}\n" for k, v in rows))
        totals = Counter()
        for k, v in rows:
            totals[k] += v
        expected.update(totals.items())
        t = pw.io.csv.read(str(folder), schema=KV, mode="static")
        agg = t.groupby(pw.this.k).reduce(pw.this.k, s=pw.reducers.sum(pw.this.v))
        for table, name in (("named", "w"), ("unnamed", None)):
            pw_duckdb_sink.write(agg, database=str(db), table_name=table, name=name,
                                 init_mode="create_if_not_exists")
        _run()
    for table in ("named", "unnamed"):
        got = Counter({(k, s): n for k, s, n in _read(
            db, f"SELECT k, s, SUM(diff)::BIGINT FROM {table} GROUP BY ALL HAVING SUM(diff) <> 0")})
        assert got == expected, table
    changes = "SELECT k, s, diff FROM {} ORDER BY time, diff, k"
    assert _read(db, changes.format("named")) == _read(db, changes.format("unnamed"))


def test_a_recreated_destination_is_written_again(tmp_path):
    db = tmp_path / "o.duckdb"
    for _ in range(2):
        t = pw.debug.table_from_markdown("a\n1\n2\n")
        pw_duckdb_sink.write(t, table_name="t", database=str(db), init_mode="create_if_not_exists", name="w")
        _run()
        before = _read(db, "SELECT a, diff FROM t ORDER BY a")
        con = duckdb.connect(str(db))
        con.execute("DROP TABLE t")
        con.close()
    assert before == [(1, 1), (2, 1)]


def test_creating_the_destination_drops_the_state():
    """Outside a pipeline the run counts as persistent, so only `created` drops the state."""
    con = duckdb.connect()
    con.execute("CREATE TABLE sales (country VARCHAR, amount DOUBLE, time BIGINT, diff SMALLINT)")
    spec, changes = _spec(), [("k1", "pl", 1.0, 1), ("k2", "de", 2.0, 1)]
    state: dict = {}
    _exactly_once.start(con, state, spec, created=False)
    reconcile(con, state, spec, _batch(changes, 2))
    assert reconcile(con, state, spec, _batch(changes, 4)).num_rows == 0  # a replay
    state = {}
    _exactly_once.start(con, state, spec, created=True)
    out = reconcile(con, state, spec, _batch(changes, 6))
    assert sorted(out.column("_pw_key").to_pylist()) == ["k1", "k2"]
    con.close()


def test_state_tables_of_different_writers_differ(tmp_path):
    assert state_table("a__b", "c") != state_table("a", "b__c")
    db, rows = tmp_path / "o.duckdb", [("x", 1), ("y", 2), ("z", 3)]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("k,v\n" + "".join(f"{k},{v}\n" for k, v in rows))
    t = pw.io.csv.read(str(tmp_path / "in"), schema=KV, mode="static", name="in")
    pw_duckdb_sink.write(t, table_name="a__b", database=str(db), init_mode="create_if_not_exists", name="c")
    pw_duckdb_sink.write(t, table_name="a", database=str(db), init_mode="create_if_not_exists", name="b__c")
    _run(tmp_path / "ps")  # with persistence: the writers reconcile against their state
    for table in ("a__b", "a"):
        assert _read(db, f'SELECT k, v FROM "{table}" ORDER BY k') == rows, table


def test_reconcile_keeps_the_incoming_order():
    con = duckdb.connect()
    spec, state = _spec(), {}
    keys = [f"k{i}" for i in (5, 3, 9, 1, 7, 2, 8, 6, 4, 0)]  # key text order differs from this
    reconcile(con, state, spec, _batch([(k, "old", float(i), 1) for i, k in enumerate(keys)], 2))
    # Updates (retraction then insertion) and fresh keys, in an order of their own.
    delta = []
    for i, k in enumerate(keys[:6]):
        delta += [(k, "old", float(i), -1), (k, "new", float(i), 1)]
    delta += [(f"n{j}", "new", float(j), 1) for j in (3, 1, 2)]
    out = reconcile(con, state, spec, _batch(delta, 4)).to_pydict()
    got = list(zip(out["_pw_key"], out["country"], out["_pw_diff"]))
    assert got == [(k, c, d) for k, c, _, d in delta]
    con.close()


def test_sort_by_holds_for_a_named_writer_with_persistence(tmp_path):
    (tmp_path / "in").mkdir()
    values = [5, 3, 9, 1, 7, 2, 8, 6, 4, 0]
    (tmp_path / "in" / "a.csv").write_text("k,v\n" + "".join(f"k{v},{v}\n" for v in values))
    db = tmp_path / "o.duckdb"
    t = pw.io.csv.read(str(tmp_path / "in"), schema=KV, mode="static", name="in")
    pw_duckdb_sink.write(t, table_name="named", database=str(db), init_mode="create_if_not_exists",
                         sort_by=[t.v], name="named")
    _run(tmp_path / "ps")
    assert [v for (v,) in _read(db, "SELECT v FROM named ORDER BY rowid")] == sorted(values)


def test_snapshot_insertions_win_over_their_retractions():
    """Keeping the order, a key's retraction still gets a lower sequence number than its insertion."""
    con = duckdb.connect()
    spec, state = _spec(snapshot=True), {}
    reconcile(con, state, spec, _batch([("k1", "a", 1.0, 1), ("k2", "b", 2.0, 1)], 2, seq_from=0))
    out = reconcile(con, state, spec, _batch([("k1", "c", 3.0, 1), ("k1", "a", 1.0, -1),
                                              ("k2", "b", 2.0, -1)], 4, seq_from=0)).to_pydict()
    last = {}
    for k, c, d, s in sorted(zip(out["_pw_key"], out["country"], out["_pw_diff"], out["_pw_seq"]), key=lambda r: r[3]):
        last[k] = (c, d)
    assert last == {"k1": ("c", 1), "k2": ("b", -1)}
    con.close()

