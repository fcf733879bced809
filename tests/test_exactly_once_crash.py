"""SIGKILL a persisted pipeline at random points, restart it each time: the DuckDB tables end
exactly as after one uninterrupted run on the same input."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

PIPELINE = Path(__file__).with_name("exactly_once_pipeline.py")
FILES, PER_FILE = 14, 40


def _add_file(input_dir: Path, i: int) -> None:
    """File i of the input; written aside and renamed in, so a reader never sees half of it."""
    lines = [json.dumps({"id": j, "user": f"u{j % 6}", "amount": (j * 7) % 11 + 1})
             for j in range(i * PER_FILE, (i + 1) * PER_FILE)]
    tmp = input_dir.parent / f"f{i:03d}.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    os.rename(tmp, input_dir / f"f{i:03d}.jsonl")


def _start(base: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PATHWAY_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(PIPELINE), str(base / "in"), str(base / "db.duckdb"), str(base / "store"), mode],
        stdout=open(base / "log.txt", "a"), stderr=subprocess.STDOUT, env=env)


def _commits(base: Path) -> int:
    """Commits so far (0 before the first), read between the writer's batches."""
    if not (base / "db.duckdb").exists():
        return 0
    try:
        con = duckdb.connect(str(base / "db.duckdb"), read_only=True)
    except duckdb.Error:
        return -1  # the writer holds the file right now
    try:
        return con.execute('SELECT count(*) FROM "_pw_duckdb_sink_commits"').fetchall()[0][0]
    except duckdb.Error:
        return 0
    finally:
        con.close()


def _tables(base: Path) -> dict:
    con = duckdb.connect(str(base / "db.duckdb"), read_only=True)
    try:
        return {
            "events": Counter(con.execute("SELECT id, user, amount, diff FROM events").fetchall()),
            "totals_log": Counter(dict(((u, t, n), c) for u, t, n, c in con.execute(
                "SELECT user, total, n, SUM(diff)::BIGINT FROM totals_log GROUP BY ALL "
                "HAVING SUM(diff) <> 0").fetchall())),
            "totals": Counter(con.execute("SELECT user, total, n FROM totals").fetchall()),
        }
    finally:
        con.close()


def _setup(base: Path) -> Path:
    (base / "in").mkdir(parents=True)
    return base


def test_sigkill_at_random_points_leaves_the_tables_of_an_uninterrupted_run(tmp_path):
    rng = random.Random(20261203)
    # One uninterrupted run on the whole input (static: it ends by itself).
    ref = _setup(tmp_path / "ref")
    for i in range(FILES):
        _add_file(ref / "in", i)
    assert _start(ref, "static").wait(timeout=60) == 0, (ref / "log.txt").read_text()

    run = _setup(tmp_path / "run")
    added, kills = 0, 0
    _add_file(run / "in", added)
    added += 1
    while kills < 4:
        proc = _start(run, "streaming")
        seen = _commits(run)
        deadline = time.monotonic() + 30
        # Wait until this incarnation commits something, feeding it more input meanwhile.
        while _commits(run) in (seen, -1) and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(rng.randint(1, 3)):
            if added < FILES - 2:
                _add_file(run / "in", added)
                added += 1
            # Kill soon after new input lands: often in the middle of writing its minibatches.
            time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    while added < FILES:
        _add_file(run / "in", added)
        added += 1
    # The last restart reads the rest of the input and ends.
    assert _start(run, "static").wait(timeout=60) == 0, (run / "log.txt").read_text()

    got, want = _tables(run), _tables(ref)
    assert sum(want["events"].values()) == FILES * PER_FILE
    assert got["events"] == want["events"]  # the same rows, the same diffs, no duplicates
    assert got["totals_log"] == want["totals_log"]
    assert got["totals"] == want["totals"]
