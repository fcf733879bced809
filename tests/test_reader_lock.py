"""Readers wait (bounded) while another process holds the DuckDB file, instead of failing at once."""

import subprocess
import sys

import pathway as pw
import pytest

from pw_duckdb_sink import _connect, as_of, read_baseline

# Holds the file read-write: writes a first row, says so, waits for a line on stdin, writes a
# second row and closes. A reader that got in while the lock was held could not see the second.
HOLDER = r'''
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE ev (amount BIGINT, time BIGINT, diff SMALLINT)")
con.execute("INSERT INTO ev VALUES (5, 1, 1)")
print("locked", flush=True)
sys.stdin.readline()
con.execute("INSERT INTO ev VALUES (7, 2, 1)")
con.close()
print("released", flush=True)
'''


@pytest.fixture
def holder(db_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_reader_fails_cleanly_once_the_bound_is_spent(db_path, holder):
    with pytest.raises(RuntimeError, match="holds its lock"):
        _connect.connect(db_path, read_only=True, timeout_s=0.2)


def _release_soon(holder):
    """Let the holder go while the reader is already waiting (the reader runs in this thread)."""
    import threading

    def release():
        # Half a second is ample for the reader to reach its retry loop; then the holder commits.
        holder.stdin.write("go\n")
        holder.stdin.flush()

    timer = threading.Timer(0.5, release)
    timer.start()
    return timer


def test_read_baseline_waits_for_the_writer_and_sees_its_last_commit(db_path, holder):
    timer = _release_soon(holder)
    base = read_baseline(database=db_path, table_name="ev", aggregates={"r": ("sum", "amount"), "n": "count"})
    timer.join()
    df = pw.debug.table_to_pandas(base)
    assert (df["r"].item(), df["n"].item()) == (5 + 7, 2)


def test_as_of_waits_for_the_writer(db_path, holder):
    timer = _release_soon(holder)
    got = as_of(db_path, "ev", 10, format="pandas")
    timer.join()
    assert sorted(got["amount"]) == [5, 7]


# A reader in a loop: open read-only, query, hold the file a little, close; until told to stop.
LOOPING_READER = r'''
import os, sys, time
from pw_duckdb_sink import _connect
db, stop = sys.argv[1], sys.argv[2]
print("reading", flush=True)
while not os.path.exists(stop):
    con = _connect.connect(db, read_only=True)
    con.execute("SELECT count(*) FROM t").fetchall()
    time.sleep(0.02)
    con.close()
'''


def test_readers_in_a_loop_do_not_starve_a_writer(db_path, tmp_path):
    # Four readers keep the file held almost all the time: a writer backing off alone would
    # lose every race (it used to time out); the turnstile lets it in between two readers.
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE t (i BIGINT)")
    con.close()
    stop = tmp_path / "stop"
    readers = [subprocess.Popen([sys.executable, "-c", LOOPING_READER, str(db_path), str(stop)],
                                stdout=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        for r in readers:
            assert r.stdout.readline().strip() == "reading"
        for i in range(20):
            con = _connect.connect(db_path, timeout_s=8)
            con.execute("INSERT INTO t VALUES (?)", [i])
            con.close()
    finally:
        stop.touch()
        for r in readers:
            r.wait(timeout=30)
    assert [r.returncode for r in readers] == [0] * 4  # the readers never failed either
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT list(i ORDER BY i) FROM t").fetchall()[0][0] == list(range(20))
    con.close()
