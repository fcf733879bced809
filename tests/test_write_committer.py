"""Where minibatches are committed: on the committer thread in a run without persistence
(Pathway goes on meanwhile), inside on_time_end with persistence; what a failure there does."""

import threading

import pathway as pw
import pytest

import pw_duckdb_sink
from pw_duckdb_sink import _writer
from pw_duckdb_sink._committer import Committer

from _db import execute as _execute
from _feed import Feed as _Feed

RUN = dict(monitoring_level=pw.MonitoringLevel.NONE)


def _record_commit_threads(monkeypatch) -> list[str]:
    threads: list[str] = []
    original = _writer._Writer._finish_minibatch

    def finish(self, *args):
        threads.append(threading.current_thread().name)
        return original(self, *args)

    monkeypatch.setattr(_writer._Writer, "_finish_minibatch", finish)
    return threads


@pytest.mark.parametrize("persistent", [False, True])
def test_commit_thread_depends_on_persistence(db_path, query, tmp_path, monkeypatch, persistent):
    threads = _record_commit_threads(monkeypatch)
    chunks = [[{"k": f"m{m}r{r}", "v": m} for r in range(3)] for m in range(4)]
    t = pw.io.python.read(_Feed(chunks), schema=pw.schema_from_types(k=str, v=int),
                          autocommit_duration_ms=60_000, name="feed")
    pw_duckdb_sink.write(t, table_name="out", database=db_path, init_mode="create_if_not_exists",
                         name="out")
    run = dict(RUN)
    if persistent:
        run["persistence_config"] = pw.persistence.Config(
            pw.persistence.Backend.filesystem(str(tmp_path / "pstorage")))
    pw.run(**run)
    assert len(threads) == len(chunks)
    on_committer = [name == "pw_duckdb_sink-committer" for name in threads]
    # With persistence a minibatch is committed before on_time_end returns: never handed over.
    assert on_committer == [not persistent] * len(chunks)
    # Either way pw.run returns with everything committed.
    got = query(db_path, "SELECT k, v FROM out WHERE diff = 1 ORDER BY k")
    assert got == sorted((r["k"], r["v"]) for c in chunks for r in c)


def test_failure_in_the_last_minibatch_fails_the_run(db_path, query):
    _execute(db_path, "CREATE TABLE checked (k VARCHAR, v BIGINT CHECK (v < 100), time BIGINT, diff SMALLINT)")
    chunks = [[{"k": "a", "v": 1}], [{"k": "b", "v": 2}], [{"k": "c", "v": 3}, {"k": "bad", "v": 100}]]
    t = pw.io.python.read(_Feed(chunks), schema=pw.schema_from_types(k=str, v=int),
                          autocommit_duration_ms=60_000)
    pw_duckdb_sink.write(t, table_name="checked", database=db_path)
    # The failing job ends after the engine's last on_time_end: on_end waits for it and raises.
    with pytest.raises(RuntimeError, match=r"'checked'.*rolled back, nothing of it landed.*CHECK"):
        pw.run(**RUN)
    assert query(db_path, "SELECT k FROM checked ORDER BY k") == [("a",), ("b",)]


# --- the committer itself ------------------------------------------------------------------

def test_committer_runs_jobs_in_order_and_bounds_what_waits(monkeypatch):
    from pw_duckdb_sink import _committer

    monkeypatch.setattr(_committer, "_MAX_PENDING_ROWS", 100)
    committer, done, release = Committer(), [], threading.Event()
    committer.submit(lambda: (release.wait(10), done.append(1)), 60)
    committer.submit(lambda: done.append(2), 30)
    third = threading.Thread(target=committer.submit, args=(lambda: done.append(3), 20))
    third.start()
    third.join(0.3)
    assert third.is_alive()  # 60 + 30 + 20 rows would wait: the third hand-over blocks
    release.set()
    third.join(10)
    assert not third.is_alive()
    committer.drain()
    assert done == [1, 2, 3]
    committer.stop()


def test_a_writers_max_batch_size_bounds_what_waits_for_it():
    committer, release = Committer(), threading.Event()
    committer.submit(lambda: release.wait(10), 1000, max_rows=1000)
    second = threading.Thread(target=committer.submit, args=(lambda: None, 1000), kwargs={"max_rows": 1000})
    second.start()
    second.join(0.3)
    assert second.is_alive()  # 1000 rows wait already: a writer bounded at 1000 waits too
    release.set()
    second.join(10)
    assert not second.is_alive()
    committer.stop()


def test_committer_drops_jobs_after_a_failure_and_logs_it_at_once(caplog):
    committer, done = Committer(), []

    def fail():
        raise RuntimeError("boom")

    committer.submit(lambda: done.append(1), 1)
    committer.submit(fail, 1)
    committer.submit(lambda: done.append(3), 1)
    committer.drain()
    assert done == [1]
    # logged when it happened: Pathway may call no sink for a long while to raise it
    assert [r.getMessage() for r in caplog.records] == ["boom (the run stops at the sink's next callback)"]
    with pytest.raises(RuntimeError, match="boom"):
        committer.raise_failure()
    committer.stop()
    committer.submit(lambda: done.append(4), 1)  # a next run starts clean
    committer.drain()
    assert done == [1, 4]
    committer.raise_failure()


def test_a_second_run_of_the_same_graph_starts_the_writer_anew(db_path, query):
    t = pw.debug.table_from_markdown("a\n1\n2\n3\n")
    pw_duckdb_sink.write(t, table_name="t", database=db_path, init_mode="replace")
    pw.run(**RUN)
    pw.run(**RUN)  # the same graph again: "replace" replaces again
    assert query(db_path, "SELECT a FROM t ORDER BY a") == [(1,), (2,), (3,)]
