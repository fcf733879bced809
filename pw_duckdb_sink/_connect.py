"""Opening DuckDB, with retries while another process holds the file's lock.

A DuckDB file is held read-write by one process or read-only by several, never both.
Writers that detach between batches and short-lived readers therefore race for the
lock; both sides retry with backoff (10 ms doubling to 1 s) for a bounded time.
"""

from __future__ import annotations

import os
import time

import duckdb

FIRST_WAIT_S = 0.01
MAX_WAIT_S = 1.0
DEFAULT_TIMEOUT_S = 30.0


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "being used by another" in text


def connect(database: str | os.PathLike, *, read_only: bool = False,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> duckdb.DuckDBPyConnection:
    """Open `database`, retrying lock conflicts for up to `timeout_s` seconds.

    Raises RuntimeError naming the file once the bound is spent; any other error is
    raised at once.
    """
    path = os.fspath(database)
    deadline = time.monotonic() + timeout_s
    wait = FIRST_WAIT_S
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_conflict(exc):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(
                    f"could not open DuckDB file {path!r} within {timeout_s:g} s: another "
                    f"process holds its lock ({exc}). Stop that process, have it use short-lived "
                    "connections, or write with detach_between_batches=True") from exc
            time.sleep(min(wait, left))
            wait = min(wait * 2, MAX_WAIT_S)
