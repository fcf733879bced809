"""One background thread that writes the minibatches of a pipeline's writers, in order.

Without Pathway persistence nothing is replayed after a crash, so ``on_time_end`` need not
wait for DuckDB: handing the minibatch to this thread lets Pathway compute the next ones while
earlier ones are converted to Arrow, inserted and committed (DuckDB releases the GIL while it
works). With persistence the writers stay synchronous: Pathway may count a minibatch as
delivered once ``on_time_end`` returns, so it must be committed by then.

One thread for all writers of a pipeline keeps their transactions in the order Pathway
produced them, as the synchronous path does. After a failure the jobs behind it are dropped
and the failure is raised in the engine's thread at its next callback.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

# How much may wait for DuckDB. Pathway's minibatches come in bursts (a reader runs ahead,
# then the engine emits several in a row): with room for only two, the engine waited on the
# committer for a quarter of the run; with ~100k rows of room it waited almost never. A job
# bigger than the room is taken when nothing else waits (memory: see max_batch_size).
_MAX_PENDING_ROWS = 100_000
_MAX_PENDING_JOBS = 64


class Committer:
    def __init__(self) -> None:
        self._jobs: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pending_rows = 0  # rows of the jobs handed over and not finished yet
        self._pending_jobs = 0
        self.failure: BaseException | None = None

    def submit(self, job: Callable[[], None], rows: int, max_rows: int | None = None) -> None:
        """Queue `job` (writing `rows` rows); blocks while the queue is full, or holds more
        than `max_rows` rows (a writer's max_batch_size, which bounds its memory)."""
        room = _MAX_PENDING_ROWS if max_rows is None else min(max_rows, _MAX_PENDING_ROWS)
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="pw_duckdb_sink-committer",
                                                daemon=True)
                self._thread.start()
            while self._pending_jobs and (self._pending_jobs >= _MAX_PENDING_JOBS
                                          or self._pending_rows + rows > room):
                self._cond.wait()
            self._pending_rows += rows
            self._pending_jobs += 1
            self._jobs.append((job, rows))
            self._cond.notify_all()

    def drain(self) -> None:
        """Wait until every job handed over so far has run (or was dropped after a failure)."""
        with self._cond:
            while self._pending_jobs:
                self._cond.wait()

    def stop(self) -> None:
        """Drain, end the thread and forget the failure (logged when it happened), for a next run."""
        with self._cond:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._jobs.append((None, 0))
                self._cond.notify_all()
        if thread is not None:
            thread.join()
        self.failure = None

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._cond.wait()
                job, rows = self._jobs.popleft()
            if job is None:
                return
            try:
                if self.failure is None:
                    job()
            except BaseException as exc:  # kept for the engine's thread, which raises it
                self.failure = exc
                # Pathway calls no sink while its input is idle, so the raise may come late:
                # say it now.
                logging.getLogger(__name__).error("%s (the run stops at the sink's next callback)", exc)
            finally:
                with self._cond:
                    self._pending_rows -= rows
                    self._pending_jobs -= 1
                    self._cond.notify_all()
