"""The sink at run time: empty output, several writers, detach with a reader process, lock
conflicts, volume, rollback of a failing minibatch, chunking, quoted identifiers."""

import dataclasses
import json
import subprocess
import sys
import textwrap
import time
from collections import Counter

import duckdb
import pandas as pd
import pathway as pw
import pytest

import pw_duckdb_sink
from pw_duckdb_sink import _connect, _writer
from pw_duckdb_sink._sql import quote_ident

from _db import execute as _execute
from _feed import Feed as _Feed

RUN = dict(monitoring_level=pw.MonitoringLevel.NONE)



# --- empty output --------------------------------------------------------------------

@pytest.mark.parametrize("output_table_type", ["stream_of_changes", "snapshot"])
def test_empty_output_creates_the_table(db_path, query, output_table_type):
    t = pw.debug.table_from_rows(pw.schema_from_types(k=str, v=float), [])
    extra = dict(primary_key=[t.k]) if output_table_type == "snapshot" else {}
    pw_duckdb_sink.write(t, table_name="empty", database=db_path, init_mode="create_if_not_exists",
                         output_table_type=output_table_type, **extra)
    pw.run(**RUN)
    assert query(db_path, "SELECT count(*) FROM empty") == [(0,)]
    cols = [c for (c,) in query(db_path, "SELECT column_name FROM information_schema.columns "
                                         "WHERE table_name = 'empty' ORDER BY ordinal_position")]
    assert cols == (["k", "v"] if output_table_type == "snapshot" else ["k", "v", "time", "diff"])
    keys = query(db_path, "SELECT constraint_column_names FROM duckdb_constraints() "
                          "WHERE table_name = 'empty' AND constraint_type = 'PRIMARY KEY'")
    assert keys == ([(["k"],)] if output_table_type == "snapshot" else [])
    assert query(db_path, 'SELECT kind, rows_written FROM "_pw_duckdb_sink_tables"') == [(output_table_type, 0)]


def test_output_that_empties_itself_leaves_an_empty_snapshot(db_path, query):
    t = pw.debug.table_from_markdown("""
        k | v | __time__ | __diff__
        a | 1 | 2        | 1
        b | 2 | 2        | 1
        a | 1 | 4        | -1
        b | 2 | 4        | -1
    """)
    pw_duckdb_sink.write(t, table_name="s", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[t.k])
    pw.run(**RUN)
    assert query(db_path, "SELECT count(*) FROM s") == [(0,)]


# --- composite keys ------------------------------------------------------------------

def test_composite_key_distinguishes_rows_sharing_one_part(db_path, query):
    events = [("w1", 10, 5), ("w1", 20, 6), ("w2", 10, 7), ("w1", 10, 9)]
    t = pw.debug.table_from_rows(pw.schema_from_types(widget=str, window=int, v=int), events)
    last = t.groupby(t.widget, t.window).reduce(t.widget, t.window, v=pw.reducers.max(t.v))
    pw_duckdb_sink.write(last, table_name="s", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[last.widget, last.window])
    pw.run(**RUN)
    expected = {}
    for w, win, v in events:
        expected[(w, win)] = max(expected.get((w, win), v), v)
    assert query(db_path, "SELECT widget, \"window\", v FROM s ORDER BY ALL") == \
        sorted((w, win, v) for (w, win), v in expected.items())


# --- several writers -----------------------------------------------------------------

def _two_outputs():
    t = pw.debug.table_from_markdown("""
        k | v | __time__
        a | 1 | 2
        b | 2 | 2
        a | 3 | 4
        c | 4 | 6
    """)
    totals = t.groupby(t.k).reduce(t.k, s=pw.reducers.sum(t.v))
    return t, totals, {"a": 4, "b": 2, "c": 4}, [("a", 1), ("b", 2), ("a", 3), ("c", 4)]


@pytest.mark.parametrize("detach", [False, True])
def test_two_writers_to_the_same_file(db_path, query, detach):
    t, totals, want_totals, want_rows = _two_outputs()
    pw_duckdb_sink.write(t, table_name="log", database=db_path, init_mode="create_if_not_exists",
                         detach_between_batches=detach)
    pw_duckdb_sink.write(totals, table_name="totals", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[totals.k], detach_between_batches=detach)
    pw.run(**RUN)
    assert Counter(query(db_path, "SELECT k, v FROM log WHERE diff = 1")) == Counter(want_rows)
    assert dict(query(db_path, "SELECT k, s FROM totals")) == want_totals
    assert query(db_path, 'SELECT table_name FROM "_pw_duckdb_sink_tables" ORDER BY 1') == [("log",), ("totals",)]


def test_two_writers_to_different_files(tmp_path, query):
    t, totals, want_totals, want_rows = _two_outputs()
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    pw_duckdb_sink.write(t, table_name="log", database=a, init_mode="create_if_not_exists")
    pw_duckdb_sink.write(totals, table_name="totals", database=b, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[totals.k])
    pw.run(**RUN)
    assert Counter(query(a, "SELECT k, v FROM log")) == Counter(want_rows)
    assert dict(query(b, "SELECT k, s FROM totals")) == want_totals
    assert query(a, 'SELECT table_name FROM "_pw_duckdb_sink_tables"') == [("log",)]
    assert query(b, 'SELECT table_name FROM "_pw_duckdb_sink_tables"') == [("totals",)]


# --- detach with a concurrent reader process -----------------------------------------

_READER = textwrap.dedent("""
    import json, os, sys, time
    from pw_duckdb_sink import _connect
    db, out, stop, progress = sys.argv[1:5]
    seen = []
    while not os.path.exists(stop):
        if os.path.exists(db):
            try:
                con = _connect.connect(db, read_only=True, timeout_s=5)
            except Exception as exc:  # e.g. the file exists but the table is not created yet
                seen.append({"error": str(exc)})
                continue
            try:
                rows = con.execute("SELECT batch, count(*), sum(diff) FROM chunks GROUP BY batch").fetchall()
                seen.append({"batches": rows})
                with open(progress + ".tmp", "w") as f:
                    f.write(str(len(rows)))
                os.replace(progress + ".tmp", progress)
            except Exception as exc:
                seen.append({"error": str(exc)})
            finally:
                con.close()
        time.sleep(0.01)
    with open(out, "w") as f:
        json.dump(seen, f)
""")


def test_detached_writer_lets_a_reader_process_see_whole_minibatches(tmp_path, db_path, query):
    batches, per_batch = 12, 300
    chunks = [[{"batch": b, "i": i} for i in range(per_batch)] for b in range(batches)]
    out, stop, progress = tmp_path / "seen.json", tmp_path / "stop", tmp_path / "progress"

    def wait_for_reader(n):
        # Halfway, hold the input until the reader has read some batch: it then surely
        # reads while the pipeline runs (a coordination, not a timing assumption).
        if n == batches // 2:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (progress.exists() and int(progress.read_text() or 0) > 0):
                time.sleep(0.02)

    reader = subprocess.Popen([sys.executable, "-c", _READER, str(db_path), str(out), str(stop), str(progress)])
    try:
        feed = _Feed(chunks, pause_s=0.02, after_chunk=wait_for_reader)
        t = pw.io.python.read(feed, schema=pw.schema_from_types(batch=int, i=int),
                              autocommit_duration_ms=60_000)
        # chunks of 64 rows inside each minibatch's transaction: a reader must never see them
        pw_duckdb_sink.write(t, table_name="chunks", database=db_path, init_mode="create_if_not_exists",
                             detach_between_batches=True, max_batch_size=64)
        pw.run(**RUN)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    assert reader.returncode == 0
    seen = json.loads(out.read_text())
    states = [s["batches"] for s in seen if "batches" in s]
    assert states, f"the reader never got a read-only connection: {seen[:5]}"
    for state in states:
        for batch, count, total in state:
            assert (count, total) == (per_batch, per_batch), f"partial minibatch seen: {state}"
    # the reader ran while the pipeline wrote: it saw some but not all batches at least once
    assert any(0 < len(s) < batches for s in states)
    final = query(db_path, "SELECT batch, count(*) FROM chunks GROUP BY batch ORDER BY batch")
    assert final == [(b, per_batch) for b in range(batches)]


# --- a lock held by another process ----------------------------------------------------

_HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS held (x INT)")
    print("locked", flush=True)
    sys.stdin.readline()  # hold the lock until the test says so
""")


@pytest.fixture
def lock_holder(db_path):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    try:
        proc.stdin.write("\n")
        proc.stdin.close()
    except BrokenPipeError:  # the test released it already
        pass
    proc.wait(timeout=30)


def test_connect_gives_up_on_a_held_lock_with_a_clear_error(db_path, lock_holder):
    with pytest.raises(RuntimeError, match=r"within 0.3 s: another process holds its lock.*"
                                           r"detach_between_batches=True"):
        _connect.connect(db_path, timeout_s=0.3)


def test_writer_stops_on_a_held_lock_with_a_clear_error(db_path, lock_holder):
    t = pw.debug.table_from_rows(pw.schema_from_types(a=int), [(1,)])
    spec, sort_by = _writer.build_spec(
        t, table_name="t", database=db_path, max_batch_size=None, init_mode="create_if_not_exists",
        output_table_type="stream_of_changes", primary_key=None, detach_between_batches=False,
        name=None, sort_by=None)
    # write() keeps the native 30 s bound; the spec's knob makes the test quick
    _writer.attach(t, dataclasses.replace(spec, lock_timeout_s=0.3), sort_by)
    with pytest.raises(RuntimeError, match=r"sink\.duckdb.*another process holds its lock"):
        pw.run(**RUN)


def test_connect_waits_for_a_lock_released_within_the_bound(db_path, lock_holder):
    lock_holder.stdin.write("\n")
    lock_holder.stdin.flush()  # the holder exits now; connect retries until the file is free
    con = _connect.connect(db_path, timeout_s=30)
    try:
        assert con.execute("SELECT count(*) FROM held").fetchall() == [(0,)]
    finally:
        con.close()


# --- volume ----------------------------------------------------------------------------

@pytest.mark.parametrize("max_batch_size", [None, 7_919])
def test_100k_rows(db_path, query, max_batch_size):
    n = 100_000
    df = pd.DataFrame({"i": range(n), "x": [i * 0.25 for i in range(n)],
                       "s": [f"s{i % 97}" for i in range(n)]})
    t = pw.debug.table_from_pandas(df)
    totals = t.groupby(t.s).reduce(t.s, n=pw.reducers.count(), x=pw.reducers.sum(t.x))
    pw_duckdb_sink.write(t, table_name="big", database=db_path, init_mode="create_if_not_exists",
                         max_batch_size=max_batch_size)
    pw_duckdb_sink.write(totals, table_name="per_s", database=db_path, init_mode="create_if_not_exists",
                         output_table_type="snapshot", primary_key=[totals.s], max_batch_size=max_batch_size)
    pw.run(**RUN)
    got = query(db_path, "SELECT count(*), sum(i), sum(x), count(DISTINCT s), sum(length(s)), sum(diff) FROM big")
    assert got == [(n, int(df.i.sum()), float(df.x.sum()), df.s.nunique(), int(df.s.str.len().sum()), n)]
    want = df.groupby("s").agg(n=("i", "size"), x=("x", "sum"))
    got = query(db_path, "SELECT s, n, x FROM per_s ORDER BY s")
    assert got == sorted((s, int(r.n), float(r.x)) for s, r in want.iterrows())


# --- a failing minibatch is rolled back whole ---------------------------------------------

def test_failing_minibatch_is_rolled_back_and_named(db_path, query):
    _execute(db_path, "CREATE TABLE checked (k VARCHAR, v BIGINT CHECK (v < 100), time BIGINT, diff SMALLINT)")
    chunks = [
        [{"k": "a", "v": 1}, {"k": "b", "v": 2}],
        # sort_by=v puts the bad row last: three 2-row chunks land in the open transaction first
        [{"k": "bad", "v": 100}] + [{"k": f"c{v}", "v": v} for v in range(3, 9)],
        [{"k": "e", "v": 5}],
    ]
    t = pw.io.python.read(_Feed(chunks), schema=pw.schema_from_types(k=str, v=int),
                          autocommit_duration_ms=60_000)
    pw_duckdb_sink.write(t, table_name="checked", database=db_path, max_batch_size=2, sort_by=[t.v])
    with pytest.raises(RuntimeError, match=r"'checked'.*rolled back, nothing of it landed.*CHECK"):
        pw.run(**RUN)
    # the first minibatch stayed, nothing of the second (not even its chunks before the bad row)
    assert sorted(query(db_path, "SELECT k, v FROM checked")) == sorted((r["k"], r["v"]) for r in chunks[0])
    commits = query(db_path, 'SELECT "rows" FROM "_pw_duckdb_sink_commits" WHERE table_name = \'checked\'')
    assert commits == [(len(chunks[0]),)]


def test_failing_snapshot_minibatch_is_rolled_back(db_path, query):
    _execute(db_path, "CREATE TABLE s (k VARCHAR PRIMARY KEY, v BIGINT NOT NULL CHECK (v <> 13))")
    t = pw.debug.table_from_markdown("""
        k | v  | __time__ | __diff__
        a | 1  | 2        | 1
        b | 2  | 2        | 1
        a | 1  | 4        | -1
        a | 5  | 4        | 1
        b | 2  | 4        | -1
        c | 13 | 4        | 1
    """)
    pw_duckdb_sink.write(t, table_name="s", database=db_path, output_table_type="snapshot", primary_key=[t.k])
    with pytest.raises(RuntimeError, match=r"'s'.*minibatch of time 4.*rolled back"):
        pw.run(**RUN)
    assert query(db_path, "SELECT k, v FROM s ORDER BY k") == [("a", 1), ("b", 2)]


# --- max_batch_size chunks land in one transaction ---------------------------------------

def test_chunked_minibatches_commit_once_each(db_path, query):
    sizes = [10, 1, 23]
    chunks = [[{"m": m, "i": i} for i in range(size)] for m, size in enumerate(sizes)]
    t = pw.io.python.read(_Feed(chunks), schema=pw.schema_from_types(m=int, i=int),
                          autocommit_duration_ms=60_000)
    pw_duckdb_sink.write(t, table_name="c", database=db_path, init_mode="create_if_not_exists",
                         max_batch_size=3)
    pw.run(**RUN)
    per_time = query(db_path, "SELECT time, count(*), count(DISTINCT m), min(m) FROM c GROUP BY time ORDER BY time")
    assert [(count, distinct) for _, count, distinct, _ in per_time] == [(s, 1) for s in sizes]
    commits = query(db_path, 'SELECT time, "rows" FROM "_pw_duckdb_sink_commits" ORDER BY time')
    assert commits == [(time_, count) for time_, count, _, _ in per_time]


# --- quoted identifiers --------------------------------------------------------------------

EVIL_TABLE = 'my "table"; DROP TABLE victim; --'
EVIL_COLUMNS = ['key "k"', "v; DROP TABLE victim", "select", "with space"]


@pytest.mark.parametrize("output_table_type", ["stream_of_changes", "snapshot"])
def test_quoted_identifiers_work_and_inject_nothing(db_path, query, output_table_type):
    _execute(db_path, "CREATE TABLE victim (x INT)", "INSERT INTO victim VALUES (42)")
    k, v, sel, sp = EVIL_COLUMNS
    # explicit ids: the update retracts the very row it replaces (a named writer checks that)
    src = pw.debug.table_from_markdown("""
        id | a | b | __time__ | __diff__
        1  | 1 | 2 | 2        | 1
        2  | 3 | 4 | 2        | 1
        1  | 1 | 2 | 4        | -1
        1  | 1 | 5 | 4        | 1
    """)
    t = src.select(**{k: pw.this.a, v: pw.this.b, sel: pw.this.b * 10, sp: pw.cast(str, pw.this.a)})
    if output_table_type == "snapshot":
        extra = dict(primary_key=[t[k]])
    else:  # the retention bookkeeping quotes the names too
        extra = dict(retention=3_600_000)
    # an unnamed writer, and a named one (its exactly-once state table is named after it)
    tables = {EVIL_TABLE: ("create_if_not_exists", None), EVIL_TABLE + "'2": ("replace", EVIL_TABLE)}
    for table_name, (init_mode, name) in tables.items():
        pw_duckdb_sink.write(t, table_name=table_name, database=db_path, init_mode=init_mode,
                             output_table_type=output_table_type, name=name, **extra)
    pw.run(**RUN)
    assert query(db_path, "SELECT x FROM victim") == [(42,)]
    cols = ", ".join(quote_ident(c) for c in EVIL_COLUMNS)
    for table_name in tables:
        if output_table_type == "snapshot":
            got = query(db_path, f"SELECT {cols} FROM {quote_ident(table_name)} ORDER BY 1")
        else:
            got = query(db_path, f"SELECT {cols} FROM {quote_ident(table_name)} GROUP BY ALL "
                                 "HAVING sum(diff) > 0 ORDER BY 1")
        assert got == [(1, 5, 50, "1"), (3, 4, 40, "3")], table_name
        names = [c for (c,) in query(db_path, "SELECT column_name FROM information_schema.columns "
                                              "WHERE table_name = ? ORDER BY ordinal_position", [table_name])]
        assert names[:4] == EVIL_COLUMNS


# --- set-based writes: the statement count does not grow with the rows --------------------

class _CountingConnection:
    """Delegates to a DuckDB connection, counting the SQL statements sent through it."""

    def __init__(self, con, log):
        self._con, self._log = con, log

    def execute(self, sql, *args, **kwargs):
        self._log.append(sql)
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _statements_for(tmp_path, monkeypatch, n_rows, output_table_type, max_batch_size=None):
    log = []
    real_connect = _connect.connect
    monkeypatch.setattr(_connect, "connect", lambda *a, **k: _CountingConnection(real_connect(*a, **k), log))
    # minibatch 1 inserts n rows; minibatch 2 updates half of them and deletes the other half
    rows = [(i, i * 2, 2, 1) for i in range(n_rows)]
    rows += [(i, i * 2, 4, -1) for i in range(n_rows)]
    rows += [(i, i * 3, 4, 1) for i in range(0, n_rows, 2)]
    df = pd.DataFrame(rows, columns=["k", "v", "__time__", "__diff__"])
    t = pw.debug.table_from_pandas(df, id_from=["k"])
    extra = dict(primary_key=[t.k]) if output_table_type == "snapshot" else {}
    pw_duckdb_sink.write(t, table_name="t", database=tmp_path / f"{n_rows}.duckdb",
                         init_mode="create_if_not_exists", output_table_type=output_table_type,
                         max_batch_size=max_batch_size, **extra)
    pw.run(**RUN)
    pw.internals.parse_graph.G.clear()
    monkeypatch.undo()
    con = duckdb.connect(str(tmp_path / f"{n_rows}.duckdb"), read_only=True)
    try:
        state = con.execute("SELECT k, v FROM t" if output_table_type == "snapshot" else
                            "SELECT k, v FROM t GROUP BY ALL HAVING sum(diff) > 0").fetchall()
    finally:
        con.close()
    assert sorted(state) == [(i, i * 3) for i in range(0, n_rows, 2)]  # the run was right, too
    assert any("INSERT INTO \"t\"" in sql for sql in log)  # the data statements were counted
    return log


@pytest.mark.parametrize("output_table_type", ["stream_of_changes", "snapshot"])
def test_statement_count_does_not_depend_on_the_rows(tmp_path, monkeypatch, output_table_type):
    small = _statements_for(tmp_path, monkeypatch, 10, output_table_type)
    large = _statements_for(tmp_path, monkeypatch, 2_000, output_table_type)
    assert len(large) == len(small)
    assert Counter(small) == Counter(large)  # the same statements, not just as many


def test_in_memory_database_runs(query):
    """":memory:" is accepted, as by the native writer: the data lives for the run only."""
    t = pw.debug.table_from_rows(pw.schema_from_types(a=int), [(1,), (2,)])
    seen = []
    pw_duckdb_sink.write(t, table_name="t", database=":memory:", init_mode="create_if_not_exists")
    pw.io.subscribe(t, lambda key, row, time, is_addition: seen.append(row["a"]))
    pw.run(**RUN)
    assert sorted(seen) == [1, 2]
