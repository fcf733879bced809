"""Runs ONE benchmark configuration and prints its result as a JSON line.

Usage (by benchmarks.run): ``python -m benchmarks.child '<spec json>'``. Running each
configuration in its own process keeps peak RSS and Pathway's graph separate.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import pathway as pw

from benchmarks.data import make_table

# ---- commit timing: wrap on_time_end of every Python callback sink -------------------------
# pw.io.subscribe and pw_duckdb_sink both hand Pathway a datasink.CallbackDataSink; a subclass
# installed before the graph is built times each on_time_end call from outside, with no change
# to the sink's code and no per-row cost (on_change is untouched).
_ENDS: list[tuple[int, float]] = []  # (minibatch time, seconds spent in on_time_end)


def _install_probe() -> None:
    from pathway.internals import datasink

    original = datasink.CallbackDataSink

    class TimedCallbackDataSink(original):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            inner, clock = self.on_time_end, time.perf_counter

            def on_time_end(t):
                t0 = clock()
                inner(t)
                _ENDS.append((t, clock() - t0))

            object.__setattr__(self, "on_time_end", on_time_end)

    datasink.CallbackDataSink = TimedCallbackDataSink


_install_probe()

# pw_duckdb_sink may write a minibatch on its committer thread after on_time_end returned (runs
# without persistence): its commit latency is then taken around that job, from the start of its
# Arrow build to the end of its COMMIT (what on_time_end took when it wrote inline). The time
# the minibatch waited in the committer's queue before is not in it: it grows with how far
# the engine runs ahead, not with the cost of a commit.
_COMMITS: list[tuple[int, float]] = []


def _install_sink_probe() -> None:
    from pw_duckdb_sink._writer import _Writer

    original, clock = _Writer._hand_over, time.perf_counter

    def _hand_over(self, t, fn, buffer):
        if getattr(fn, "__func__", None) is not _Writer._finish_minibatch:
            return original(self, t, fn, buffer)
        def timed(*a):
            started = clock()
            fn(*a)
            _COMMITS.append((t, clock() - started))

        return original(self, t, timed, buffer)

    _Writer._hand_over = _hand_over


class InputSchema(pw.Schema):
    id: int
    key: int
    price: float
    name: str
    flag: bool


def _read(spec: dict) -> pw.Table:
    # Native reader, static mode: one minibatch per file of the input directory.
    return pw.io.csv.read(spec["input"], schema=InputSchema, mode="static", autocommit_duration_ms=50)


def _upsert_pipeline(t: pw.Table) -> pw.Table:
    """~100k keys; each input minibatch updates ~10% of them and deletes some
    (a key leaves the output when its count becomes a multiple of 4, and comes back)."""
    agg = t.groupby(t.key).reduce(
        t.key,
        n=pw.reducers.count(),
        total=pw.reducers.sum(t.price),
        name=pw.reducers.max(t.name),
        flag=pw.reducers.any(t.flag),
    )
    return agg.filter(pw.this.n % 4 != 0)


def _pipeline(spec: dict) -> pw.Table:
    t = _read(spec)
    return _upsert_pipeline(t) if spec.get("pipeline") == "upsert" else t


def _run() -> None:
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)


def _sink_write(table, spec, db, **kw):
    import pw_duckdb_sink

    _install_sink_probe()  # here, not at import: the floor's process never loads DuckDB
    pw_duckdb_sink.write(table, table_name="t", database=db, init_mode="create_if_not_exists", **kw)


# ---- configurations: each builds its graph, then the timed part runs ------------------------


def cfg_floor(spec, work):
    pw.io.subscribe(_pipeline(spec), on_change=lambda key, row, time, is_addition: None)
    return _timed(_run)


def cfg_null(spec, work):
    """No output at all (pw.io.null.write): what the pipeline itself costs, a bound for any sink."""
    pw.io.null.write(_pipeline(spec))
    return _timed(_run)


def cfg_csv(spec, work):
    pw.io.csv.write(_pipeline(spec), str(work / "out.csv"))
    return _timed(_run)


def cfg_sqlite(spec, work):
    table = _pipeline(spec)
    kw = {"init_mode": "create_if_not_exists", "output_table_type": spec["mode"]}
    if spec["mode"] == "snapshot":
        kw["primary_key"] = [table.key]
    pw.io.sqlite.write(table, str(work / "out.sqlite"), "t", **kw)
    return _timed(_run)


def cfg_sink(spec, work):
    table = _pipeline(spec)
    kw = {"output_table_type": spec["mode"]}
    if spec["mode"] == "snapshot":
        kw["primary_key"] = [table.key]
    if spec.get("max_batch_size"):
        kw["max_batch_size"] = spec["max_batch_size"]
    _sink_write(table, spec, str(work / "out.duckdb"), **kw)
    return _timed(_run)


def cfg_native_duckdb(spec, work):
    table = _pipeline(spec)
    kw = {"output_table_type": spec["mode"]}
    if spec["mode"] == "snapshot":
        kw["primary_key"] = [table.key]
    pw.io.duckdb.write(table, table_name="t", database=str(work / "out.duckdb"),
                       init_mode="create_if_not_exists", **kw)
    return _timed(_run)


def cfg_per_row(spec, work):
    """The pattern people are told to use: one parameterised INSERT per row, autocommit."""
    import duckdb

    con = duckdb.connect(str(work / "out.duckdb"))
    con.execute('CREATE TABLE t (id BIGINT, "key" BIGINT, price DOUBLE, name VARCHAR, '
                'flag BOOLEAN, "time" BIGINT, diff SMALLINT)')
    clock = time.perf_counter
    spent = [0.0]
    own: list[float] = []

    def on_change(key, row, time, is_addition):  # subscribe passes these as keywords
        t0 = clock()
        con.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [row["id"], row["key"], row["price"], row["name"], row["flag"],
                     time, 1 if is_addition else -1])
        spent[0] += clock() - t0

    def on_time_end(time):
        own.append(spent[0])
        spent[0] = 0.0

    pw.io.subscribe(_pipeline(spec), on_change=on_change, on_time_end=on_time_end)
    result = _timed(_run)
    result["commit_s"] = [d for d in own if d > 0]
    con.close()
    return result


def cfg_ceiling(spec, work):
    """No Pathway: read each input file with pyarrow and INSERT it as Arrow, one transaction each."""
    import duckdb
    import pyarrow.csv as pa_csv

    con = duckdb.connect(str(work / "out.duckdb"))
    con.execute('CREATE TABLE t (id BIGINT, "key" BIGINT, price DOUBLE, name VARCHAR, '
                'flag BOOLEAN, "time" BIGINT, diff SMALLINT)')
    commits = []
    files = sorted(Path(spec["input"]).glob("*.csv"))
    t0 = time.perf_counter()
    for i, f in enumerate(files):
        batch = pa_csv.read_csv(f)
        c0 = time.perf_counter()
        con.begin()
        con.execute("INSERT INTO t SELECT *, ?::BIGINT AS time, 1::SMALLINT AS diff FROM batch", [i])
        con.commit()
        commits.append(time.perf_counter() - c0)
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "commit_s": commits}


class _BatchSubject(pw.io.python.ConnectorSubject):
    """Emits pre-built rows, committing every `every` rows: one minibatch per commit."""

    def __init__(self, rows, every):
        super().__init__()
        self._rows, self._every = rows, every

    def run(self):
        every = self._every
        for i, (id_, key, price, name, flag) in enumerate(self._rows, 1):
            self.next(id=id_, key=key, price=price, name=name, flag=flag)
            if i % every == 0:
                self.commit()
        self.commit()


def cfg_sweep_minibatch(spec, work):
    rows = list(zip(*make_table(spec["rows"]).to_pydict().values()))
    t = pw.io.python.read(_BatchSubject(rows, spec["batch"]), schema=InputSchema,
                          autocommit_duration_ms=None)
    if spec["target"] == "sink":
        _sink_write(t, spec, str(work / "out.duckdb"), output_table_type="stream_of_changes")
    else:
        pw.io.subscribe(t, on_change=lambda key, row, time, is_addition: None)
    return _timed(_run)


class KeyedSchema(pw.Schema):
    key: int = pw.column_definition(primary_key=True)
    v: float
    name: str


class _UpsertSubject(pw.io.python.ConnectorSubject):
    """Minibatches of upserts on random keys of a large key space, 10% deletions."""

    def __init__(self, batches, batch_rows, key_space):
        super().__init__(session_type="upsert")
        self._batches, self._rows, self._space = batches, batch_rows, key_space

    def run(self):
        import random

        rnd = random.Random(11)
        live: list[tuple[int, float, str]] = []
        for b in range(self._batches):
            n_del = min(len(live), self._rows // 10)
            for _ in range(n_del):
                k, v, name = live.pop(rnd.randrange(len(live)))
                self._remove_inner(None, {"key": k, "v": v, "name": name})
            for _ in range(self._rows - n_del):
                row = (rnd.randrange(self._space), rnd.random(), f"n{b}")
                live.append(row)
                self.next(key=row[0], v=row[1], name=row[2])
            self.commit()


def cfg_sweep_table(spec, work):
    """Pre-fill the snapshot table with `keys` rows straight in SQL, then stream upserts."""
    import duckdb

    db = str(work / "out.duckdb")
    con = duckdb.connect(db)
    con.execute('CREATE TABLE t ("key" BIGINT NOT NULL PRIMARY KEY, v DOUBLE NOT NULL, '
                'name VARCHAR NOT NULL)')
    if spec["keys"]:
        con.execute("INSERT INTO t SELECT range, random(), 'seed' FROM range(?)", [spec["keys"]])
    con.execute("CHECKPOINT")
    con.close()
    space = max(spec["keys"], spec["batches"] * spec["batch_rows"])
    t = pw.io.python.read(_UpsertSubject(spec["batches"], spec["batch_rows"], space),
                          schema=KeyedSchema, autocommit_duration_ms=None)
    _sink_write(t, spec, db, output_table_type="snapshot", primary_key=[t.key])
    return _timed(_run)


def _timed(fn) -> dict:
    t0 = time.perf_counter()
    fn()
    return {"seconds": time.perf_counter() - t0}


CONFIGS = {name[4:]: fn for name, fn in globals().items() if name.startswith("cfg_")}


def main() -> None:
    spec = json.loads(sys.argv[1])
    work = Path(spec["work"])
    work.mkdir(parents=True, exist_ok=True)
    result = CONFIGS[spec["kind"]](spec, work)
    if "commit_s" not in result and _COMMITS:
        result["commit_s"] = [d for _, d in sorted(_COMMITS)]
    if "commit_s" not in result:
        # The probe saw every on_time_end; the data-carrying minibatches are the slowest
        # `batches` of them (empty ones cost microseconds), taken in time order.
        n = spec.get("batches") or len(_ENDS)
        slowest = sorted(_ENDS, key=lambda e: e[1], reverse=True)[:n]
        result["commit_s"] = [d for _, d in sorted(slowest)]
    if spec.get("drop_first_commit") and len(result["commit_s"]) > 1:
        result["commit_s"] = result["commit_s"][1:]  # warm-up (catalog checks, first open)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
