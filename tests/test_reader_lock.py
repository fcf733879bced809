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
