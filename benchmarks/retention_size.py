"""Database size after a long run, with write(retention=...) on and off.

    python benchmarks/retention_size.py [--seconds 30] [--keys 5000] [--rate 2000] [--retention-ms 3000]

A stream of random sales updates the running total of one of ``--keys`` customers; the totals
go to a change log (named writer) for ``--seconds``, once with retention and once without.
Prints, per run: change-log rows, DuckDB file size (after a CHECKPOINT), the compactions done
and the longest one (it runs inside a minibatch's transaction, so it is the worst stall).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time

import duckdb
import pathway as pw

import pw_duckdb_sink
from pw_duckdb_sink import _retention


class Sale(pw.Schema):
    customer: int
    amount: int


class _Stream(pw.io.python.ConnectorSubject):
    def __init__(self, seconds: float, keys: int, rate: int):
        super().__init__()
        self.seconds, self.keys, self.rate = seconds, keys, rate

    def run(self):
        rng = random.Random(1)
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:  # about `rate` sales a second, in 20 bursts
            for _ in range(max(1, self.rate // 20)):
                self.next(customer=rng.randrange(self.keys), amount=rng.randint(1, 50))
            self.commit()
            time.sleep(0.05)


def _one_run(db: str, *, seconds: float, keys: int, rate: int, retention_ms: int | None) -> dict:
    pw.internals.parse_graph.G.clear()
    durations: list[float] = []
    original = _retention.compact_locked

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            durations.append(time.perf_counter() - start)

    _retention.compact_locked = timed
    try:
        sales = pw.io.python.read(_Stream(seconds, keys, rate), schema=Sale, autocommit_duration_ms=100)
        totals = sales.groupby(pw.this.customer).reduce(pw.this.customer, total=pw.reducers.sum(pw.this.amount))
        pw_duckdb_sink.write(totals, table_name="totals", database=db, init_mode="create_if_not_exists",
                             name="totals", retention=retention_ms)
        started = time.perf_counter()
        pw.run(monitoring_level=pw.MonitoringLevel.NONE)
        wall = time.perf_counter() - started
    finally:
        _retention.compact_locked = original
    con = duckdb.connect(db)
    con.execute("CHECKPOINT")
    rows = con.execute("SELECT count(*) FROM totals").fetchall()[0][0]
    blocks = con.execute("SELECT used_blocks, free_blocks FROM pragma_database_size()").fetchall()[0]
    commits = con.execute('SELECT count(*) FROM "_pw_duckdb_sink_commits"').fetchall()[0][0]
    con.close()
    return {"retention_ms": retention_ms, "rows": rows, "commit_rows": commits,
            "file_mb": os.path.getsize(db) / 2**20,
            "used_blocks": blocks[0], "free_blocks": blocks[1], "wall_s": wall, "compactions": len(durations),
            "compaction_max_ms": 1000 * max(durations, default=0),
            "compaction_median_ms": 1000 * statistics.median(durations) if durations else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--keys", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=2000, help="sales per second")
    parser.add_argument("--retention-ms", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for retention in (args.retention_ms, None):
            result = _one_run(os.path.join(tmp, f"r{retention}.duckdb"), seconds=args.seconds,
                              keys=args.keys, rate=args.rate, retention_ms=retention)
            print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()),
                  flush=True)


if __name__ == "__main__":
    main()
