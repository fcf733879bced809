"""Running the demo: replay, figures, DuckDB, dashboard, restart-safe. The CLI is a shell over this."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pathway as pw

from . import dashboard, pipeline
from .data import CDNOW_PATH, load_orders
from .replay import OrderReplay, OrderSchema

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "PATHWAYVIZ_DATA_DIR"
DATABASE_FILE = "cdnow.duckdb"
PERSISTENCE_DIR = "pathway-persistence"
SOURCE_NAME = "cdnow_orders"


def default_data_dir() -> Path:
    """``$PATHWAYVIZ_DATA_DIR``, else ``./data`` (as in PathwayViz's deployment docs)."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


@dataclass
class DemoConfig:
    """What to run. ``speed`` is purchase days per second; ``None`` replays as fast as it can."""

    data_dir: Path = field(default_factory=default_data_dir)
    database: Path | None = None  # default: <data_dir>/cdnow.duckdb
    port: int = 3000
    speed: float | None = 5.0
    dashboard: bool = True
    exit_at_end: bool = False  # else the dashboard stays up after the log ends, until Ctrl-C
    source: Path = CDNOW_PATH
    top_n: int = 10

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.database is None:
            self.database = self.data_dir / DATABASE_FILE
        self.database = Path(self.database)
        if self.speed is not None and not self.speed > 0:  # also refuses NaN
            raise ValueError(f"speed must be a positive number of days per second, got "
                             f"{self.speed!r}; to replay as fast as possible use speed=None "
                             "(--once on the command line)")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be between 1 and 65535, got {self.port!r}")

    @property
    def persistence_dir(self) -> Path:
        return self.data_dir / PERSISTENCE_DIR


class DemoStartError(RuntimeError):
    """The demo cannot start (port taken, folder not writable, not a DuckDB file); nothing was written."""


def _check_port_free(port: int) -> None:
    """pathway-viz binds 0.0.0.0:port in a thread that only panics if the port is taken, and the
    demo would go on announcing someone else's page: find out first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Like the server's own bind: a port left in TIME_WAIT by a stopped demo is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as exc:
            raise DemoStartError(
                f"port {port} is already in use ({exc.strerror}); is another demo still running? "
                "Stop it, or pass --port with a free port, or --no-dashboard") from exc


@dataclass
class DemoResult:
    days_total: int
    days_sent: int  # in this run
    first_day: int  # index of the first day this run sent (> 0 after a restart)
    preloaded: list = field(default_factory=list)
    stopped: bool = False  # stopped by a signal before the log's end


def stored_all_time(database: str | os.PathLike) -> dict[str, float] | None:
    """The all-time figures DuckDB holds: the consolidated totals of every session, or None."""
    from .._connect import connect
    from .._sql import quote_ident

    if not os.path.exists(database):
        return None
    con = connect(database, read_only=True)
    try:
        if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                           [pipeline.TOTALS]).fetchone()[0]:
            return None
        # A change log's consolidated sum: each change counted with its sign.
        cents, orders = con.execute(
            "SELECT coalesce(sum(revenue_cents * diff), 0), coalesce(sum(orders * diff), 0) "
            f"FROM {quote_ident(pipeline.TOTALS)}").fetchone()
    finally:
        con.close()
    return {"revenue_cents": int(cents), "orders": int(orders), "revenue": cents / 100.0,
            "avg_order_value": cents / 100.0 / orders if orders else 0.0}


def run_demo(config: DemoConfig, *,
             on_day: Callable[[int, int, dt.date], None] | None = None,
             on_ready: Callable[[list], None] | None = None,
             stop_event: threading.Event | None = None) -> DemoResult:
    """Replay the CDNOW log through the pipeline until its end or a stop (SIGINT/SIGTERM).

    Restart-safe: Pathway persistence under ``<data_dir>/pathway-persistence`` restores the
    state and the replay position, the named writers turn replays into no-ops, and on start-up
    the dashboard is pre-filled from DuckDB. ``on_day(index, total, day)`` reports progress;
    ``on_ready(preloaded)`` is called once the dashboard is up and pre-filled.
    """
    if config.dashboard:
        _check_port_free(config.port)
    for folder in (config.data_dir, config.database.parent):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DemoStartError(f"cannot create the folder {os.fspath(folder)!r} ({exc.strerror}); "
                                 "pass a --data-dir / --database in a folder you can write") from exc
    stop_event = stop_event or threading.Event()
    orders = load_orders(config.source)
    sent = {"count": 0, "first": None}

    def day_done(index: int, day: dt.date) -> None:
        sent["count"] += 1
        if sent["first"] is None:
            sent["first"] = index
        if on_day is not None:
            on_day(index, subject.total_days, day)

    subject = OrderReplay(orders, speed=config.speed, on_day=day_done, stop_event=stop_event)
    persistence = pw.persistence.Config(
        pw.persistence.Backend.filesystem(os.fspath(config.persistence_dir)),
        snapshot_interval_ms=500)
    order_table = pw.io.python.read(subject, schema=OrderSchema, name=SOURCE_NAME,
                                    autocommit_duration_ms=None)
    try:
        figures = pipeline.build(order_table, database=config.database,
                                 persistence_config=persistence, top_n=config.top_n)
    except ValueError as exc:  # the database holds something else: the reader says what
        raise DemoStartError(f"{exc}; or pass --database with the path of a new file") from exc

    result = DemoResult(days_total=subject.total_days, days_sent=0, first_day=0)
    server = feed = None
    if config.dashboard:
        import pathwayviz as pv

        server = pv.WidgetServer(port=config.port, title="CDNOW orders (pw-duckdb-sink)")
        feed = dashboard.register(server, figures)
        server.start()
        result.preloaded = dashboard.preload(server, feed, database=config.database,
                                             all_time=stored_all_time(config.database))
        feed.start()
    if on_ready is not None:
        on_ready(result.preloaded)

    previous = _stop_on_signals(stop_event)
    try:
        pw.run(monitoring_level=pw.MonitoringLevel.NONE, persistence_config=persistence)
        result.stopped = stop_event.is_set()
        if server is not None and not config.exit_at_end and not result.stopped:
            logger.info("the log is replayed; the dashboard stays up until Ctrl-C")
            stop_event.wait()
    finally:
        _restore_signals(previous)
        if feed is not None:
            feed.stop()
        if server is not None:
            server.stop()
    result.days_sent = sent["count"]
    result.first_day = sent["first"] if sent["first"] is not None else subject.start_index
    return result


def _stop_on_signals(stop_event: threading.Event) -> dict:
    """SIGINT/SIGTERM end the replay cleanly (the run then stops like at the log's end)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop_event.set())
    return previous


def _restore_signals(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
