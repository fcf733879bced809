"""Opening DuckDB, with retries while another process holds the file's lock.

A DuckDB file is held read-write by one process or read-only by several, never both.
Writers that detach between batches and short-lived readers therefore race for the
lock; both sides retry with backoff (10 ms doubling to 1 s) for a bounded time.

Readers alone would win that race: with a few of them in a loop the file is never free, and
a writer backing off loses every time. So a writer that finds the file held takes a turnstile
(an flock on ``<database>.pw-duckdb-sink-turnstile``, created then) until it gets in, and a
reader passes the turnstile before each attempt: new readers wait while a writer waits,
readers already in finish, and the writer gets its turn.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time

import duckdb

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no turnstile, plain backoff
    fcntl = None

logger = logging.getLogger(__name__)

FIRST_WAIT_S = 0.01
MAX_WAIT_S = 1.0
DEFAULT_TIMEOUT_S = 30.0


class LockTimeout(RuntimeError):
    """Another process held the file's lock for longer than the bound."""


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "being used by another" in text


def connect(database: str | os.PathLike, *, read_only: bool = False,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> duckdb.DuckDBPyConnection:
    """Open `database`, retrying lock conflicts for up to `timeout_s` seconds.

    Raises RuntimeError naming the file once the bound is spent, ValueError for a file that
    is not a DuckDB database; any other error is raised at once.
    """
    path = os.fspath(database)
    in_memory = path in ("", ":memory:") or path.startswith(":memory:")
    if not in_memory and not read_only:
        folder_exists(path)
    deadline = time.monotonic() + timeout_s
    wait = FIRST_WAIT_S
    holding = False  # a writer's turnstile, once it had to wait
    with contextlib.ExitStack() as turnstile:
        while True:
            if read_only and not in_memory:
                _pass_turnstile(path, deadline)
            try:
                con = duckdb.connect(path, read_only=read_only)
            except (duckdb.IOException, duckdb.ConnectionException, duckdb.CatalogException) as exc:
                if not in_memory and _is_not_a_database(exc):
                    raise _not_a_database(path, exc, read_only) from exc
                if isinstance(exc, duckdb.CatalogException) or not _is_lock_conflict(exc):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LockTimeout(
                        f"could not open DuckDB file {path!r} within {timeout_s:g} s: another "
                        f"process holds its lock ({exc}). Stop that process, have it use short-lived "
                        "connections, or write with detach_between_batches=True") from exc
                if not read_only and not in_memory and not holding:
                    holding = _hold_turnstile(turnstile, path, deadline)
                    wait = FIRST_WAIT_S
                time.sleep(min(wait, left))
                # Holding the turnstile, the writer keeps readers out: it retries often, as the
                # readers already in finish within milliseconds.
                wait = min(wait * 2, MAX_WAIT_S / 10 if holding else MAX_WAIT_S)
                continue
            if not in_memory and _opened_in_memory(con):
                con.close()
                raise _not_a_database(path, None, read_only)
            return con


def folder_exists(path: str) -> None:
    """Raise ValueError if the folder a DuckDB file is to be created in is missing.

    DuckDB does not create folders; its own message ("Cannot open file ...") hides why."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(
            f"cannot create DuckDB file {path!r}: its folder {folder!r} does not exist; "
            "create the folder first (e.g. os.makedirs(folder, exist_ok=True))")


def _turnstile_path(path: str) -> str:
    return f"{path}.pw-duckdb-sink-turnstile"


def _hold_turnstile(stack: contextlib.ExitStack, path: str, deadline: float) -> bool:
    """The waiting writer's side: take the turnstile, held until the stack closes. False if
    there is none to take (no flock, a folder we cannot write, another writer holding it)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(_turnstile_path(path), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        logger.warning("cannot use the turnstile %r (%s): readers in a loop may delay this writer",
                       _turnstile_path(path), exc.strerror)
        return False
    stack.callback(os.close, fd)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666)  # a lock, not data: writers running as other users need it too
    if not _flock_before(fd, deadline):
        return False
    stack.callback(fcntl.flock, fd, fcntl.LOCK_UN)
    return True


def _pass_turnstile(path: str, deadline: float) -> None:
    """The reader's side: wait (up to the deadline) while a writer holds the turnstile."""
    if fcntl is None:
        return
    try:
        fd = os.open(_turnstile_path(path), os.O_RDONLY)
    except OSError:
        return  # no writer has ever waited here
    try:
        _flock_before(fd, deadline)  # past the deadline, the DuckDB lock decides and says so
    finally:
        os.close(fd)  # releases the lock: a reader only passes through


def _flock_before(fd: int, deadline: float) -> bool:
    """Take an exclusive flock on ``fd``, polling until ``deadline``; whether it was taken."""
    wait = FIRST_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(wait, left))
            wait = min(wait * 2, MAX_WAIT_S / 10)


def _is_not_a_database(exc: duckdb.Error) -> bool:
    text = str(exc)
    # Read-only: DuckDB 2 takes an existing CSV/Parquet path for a data file to view in memory.
    return ("not a valid DuckDB database file" in text or "in-memory database in read-only" in text
            or "Is a directory" in text)


def _opened_in_memory(con: duckdb.DuckDBPyConnection) -> bool:
    """Read-write, DuckDB 2 opens an existing CSV/Parquet file as an in-memory database with a
    view over it: whatever is written there would vanish at close."""
    row = con.execute("SELECT path FROM duckdb_databases() "
                      "WHERE database_name = current_database()").fetchone()
    return row is None or row[0] is None


def _not_a_database(path: str, exc: duckdb.Error | None, read_only: bool) -> ValueError:
    cause = f" ({exc})" if exc is not None else " (DuckDB would read it as a data file)"
    if read_only:
        advice = "Pass the path of a DuckDB file written by pw_duckdb_sink.write"
    else:
        advice = ("Pass the path of a DuckDB file written by pw_duckdb_sink.write, or a new path "
                  "for one to be created; a data file such as a CSV cannot be written into")
    return ValueError(f"{path!r} is not a DuckDB database{cause}. {advice}")