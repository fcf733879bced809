"""PathwayViz bridge: pre-fill dashboard widgets from tables that ``write`` persisted.

A restarted dashboard otherwise shows empty charts until new data arrives. Call these after
``server.start()`` and before ``pw.run()``: each reads one table (read-only, its own
connection) and sends the points through pathway-viz, which keeps them as the widget's history
for every browser that connects later.

pathway-viz's constraints shape the code: it accepts data only once started, wants integer
millisecond timestamps in ascending order, keeps 1000 points per widget, and its channel drops
messages sent in a burst, so sending is paced (``chunk`` messages, then ``pause_s``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import _catalog
from ._connect import connect
from ._sql import quote_ident

logger = logging.getLogger(__name__)

#: pathway-viz keeps at most this many points per widget.
MAX_POINTS = 1000
#: Pacing measured to be loss-free on a loaded 2-core machine (bursts of ~750+ messages drop).
DEFAULT_CHUNK = 20
DEFAULT_PAUSE_S = 0.005


@dataclass(frozen=True)
class Preloaded:
    """What one preload call sent: the widget, the table, how many messages, the time span."""

    widget_id: str
    table_name: str
    messages: int
    first_ms: int | None = None
    last_ms: int | None = None

    def __str__(self) -> str:
        span = "" if self.first_ms is None else f" ({_iso(self.first_ms)} .. {_iso(self.last_ms)})"
        return f"{self.widget_id}: {self.messages} point(s) from {self.table_name}{span}"


def _iso(ms: int | None) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def to_epoch_ms(value: Any) -> int:
    """A time value as integer epoch milliseconds (naive datetimes are taken as UTC).

    Integers are taken as milliseconds already (the sink's ``time`` column); floats as seconds,
    like pathway-viz's own charts do.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return calendar.timegm(value.timetuple()) * 1000 + value.microsecond // 1000
        return int(value.timestamp() * 1000)
    if isinstance(value, dt.date):
        return calendar.timegm(value.timetuple()) * 1000
    if isinstance(value, bool):
        raise ValueError(f"cannot use a boolean {value!r} as a time")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value * 1000)
    raise ValueError(f"cannot use {value!r} ({type(value).__name__}) as a time: "
                     "use a TIMESTAMP, DATE or integer millisecond column")


def _check_server(server: Any, widget_id: str) -> None:
    if not getattr(server, "_started", False):
        raise RuntimeError("pathway-viz accepts data only after server.start(); "
                           "call the preload after start() and before pw.run()")
    widgets = getattr(server, "widgets", None)
    if widgets is not None and widget_id not in widgets:
        raise ValueError(f"no widget {widget_id!r} is registered with the server "
                         f"(registered: {sorted(widgets)}); register it before preloading")


def _send(messages: Sequence[dict], *, chunk: int, pause_s: float) -> None:
    import pathwayviz as pv

    for i, message in enumerate(messages, start=1):
        pv.send_json(message)
        if i % chunk == 0 and i < len(messages):
            time.sleep(pause_s)


def _describe_table(con, table_name: str) -> tuple[str, str, list[str]]:
    """(stored name, kind, readable columns) of ``table_name``, matched ignoring case as DuckDB
    does. A change log's readable columns are its user columns plus ``time``: the latest
    insertion time of each current row."""
    found = con.execute(
        "SELECT table_name, list(column_name ORDER BY ordinal_position) FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND lower(table_name) = lower(?) GROUP BY table_name",
        [table_name]).fetchall()
    if not found:
        raise ValueError(f"table {table_name!r} does not exist in this database; "
                         "run the pipeline that writes it first")
    stored, columns = found[0]
    kind = _catalog.registered_kind(con, stored)
    if kind is None:
        kind = "stream_of_changes" if {"time", "diff"} <= {c.lower() for c in columns} else "snapshot"
    if kind == "stream_of_changes":
        columns = [c for c in columns if c.lower() != "diff"]
    return stored, kind, columns


def _check_positive(**values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _current_rows(database: str | os.PathLike, table_name: str, columns: Sequence[str],
                  *, order_by: Sequence[str], descending: bool, limit: int) -> list[tuple]:
    """The table's current rows (a change log consolidated), ordered, at most ``limit``."""
    if not os.path.exists(database):
        return []
    con = connect(database, read_only=True)
    try:
        stored, kind, readable = _describe_table(con, table_name)
        by_lower = {c.lower(): c for c in readable}
        unknown = [c for c in [*columns, *order_by] if c.lower() not in by_lower]
        if unknown:
            raise ValueError(f"table {stored!r} has no column(s) {sorted(set(unknown))}; its columns "
                             f"are {readable}")
        cols = ", ".join(quote_ident(by_lower[c.lower()]) for c in columns)
        source = quote_ident(stored)
        if kind == "stream_of_changes":
            # The consolidated state: every row whose changes add up to a presence, at the time
            # it was last inserted.
            source = (f'(SELECT * EXCLUDE ("time", diff), max("time") FILTER (WHERE diff > 0) AS "time" '
                      f"FROM {source} GROUP BY ALL HAVING SUM(diff) > 0)")
        direction = "DESC" if descending else "ASC"
        order = ", ".join(f"{quote_ident(by_lower[c.lower()])} {direction}" for c in order_by)
        return con.execute(f"SELECT {cols} FROM {source} ORDER BY {order} LIMIT ?",
                           [limit]).fetchall()
    finally:
        con.close()


def _numbers(values: Sequence[Any], *, column: str, table_name: str) -> list[Any]:
    """Widget values, checked before anything is sent (a failure halfway would leave a widget
    half filled)."""
    try:
        return [_number(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {column!r} of {table_name!r} holds values that are not numbers "
                         f"({exc}); pass a numeric value_column") from exc


def preload_chart(server: Any, *, widget_id: str, database: str | os.PathLike, table_name: str,
                  time_column: str, value_column: str, max_points: int = MAX_POINTS,
                  chunk: int = DEFAULT_CHUNK, pause_s: float = DEFAULT_PAUSE_S) -> Preloaded:
    """Send the latest ``max_points`` (time, value) rows of ``table_name`` to a chart widget.

    The rows are the table's current state (a change log is consolidated first; its
    ``time_column="time"`` is when each current row was last inserted), the newest
    ``max_points`` by ``time_column``, sent oldest first. Table and column names are matched
    ignoring case, as in DuckDB. NaN and infinite values are left out (JSON cannot carry them).
    A missing database sends nothing.
    """
    _check_server(server, widget_id)
    _check_positive(chunk=chunk)
    if isinstance(max_points, bool) or not isinstance(max_points, int) or not 1 <= max_points <= MAX_POINTS:
        raise ValueError(f"max_points must be between 1 and {MAX_POINTS} (pathway-viz keeps "
                         f"{MAX_POINTS} points per widget), got {max_points!r}")
    rows = _current_rows(database, table_name, [time_column, value_column],
                         order_by=[time_column], descending=True, limit=max_points)
    values = _numbers([v for _, v in rows], column=value_column, table_name=table_name)
    # NaN and infinity have no JSON form: the widget would drop them, so they are not sent.
    points = sorted((to_epoch_ms(t), v) for (t, _), v in zip(rows, values)
                    if v is not None and math.isfinite(v))
    messages = [{"type": "data", "widget": widget_id, "value": v, "timestamp": ms}
                for ms, v in points]
    _send(messages, chunk=chunk, pause_s=pause_s)
    report = Preloaded(widget_id, table_name, len(messages),
                       points[0][0] if points else None, points[-1][0] if points else None)
    logger.info("preloaded %s", report)
    return report


def preload_stat(server: Any, *, widget_id: str, database: str | os.PathLike, table_name: str,
                 value_column: str, time_column: str | None = None,
                 value: float | None = None) -> Preloaded:
    """Show the current value of ``value_column`` on a stat widget.

    With several current rows, the one with the greatest ``time_column`` wins (without
    ``time_column``: the greatest value). Pass ``value`` to show a figure computed elsewhere
    (e.g. ``read_baseline``) instead of reading the table. NaN or infinity sends nothing.
    """
    _check_server(server, widget_id)
    stamp = int(time.time() * 1000)
    if value is None:
        columns = [value_column] + ([time_column] if time_column else [])
        rows = _current_rows(database, table_name, columns,
                             order_by=[time_column or value_column], descending=True, limit=1)
        if not rows or rows[0][0] is None:
            return Preloaded(widget_id, table_name, 0)
        value = _numbers([rows[0][0]], column=value_column, table_name=table_name)[0]
        if not math.isfinite(value):  # no JSON form: the widget would drop it
            logger.warning("preload_stat: %s of %r is %s; nothing sent", value_column, table_name, value)
            return Preloaded(widget_id, table_name, 0)
        if time_column:
            stamp = to_epoch_ms(rows[0][1])
    message = {"type": "data", "widget": widget_id, "value": _number(value), "delta": None,
               "timestamp": stamp}
    _send([message], chunk=DEFAULT_CHUNK, pause_s=0)
    report = Preloaded(widget_id, table_name, 1, stamp, stamp)
    logger.info("preloaded %s", report)
    return report


def preload_table(server: Any, *, widget_id: str, database: str | os.PathLike, table_name: str,
                  key_column: str, columns: Sequence[str], order_by: str, descending: bool = True,
                  limit: int = 10, chunk: int = DEFAULT_CHUNK,
                  pause_s: float = DEFAULT_PAUSE_S) -> Preloaded:
    """Upsert the first ``limit`` rows of ``table_name`` (by ``order_by``) into a table widget.

    Each row is keyed by ``str(row[key_column])``: live updates sent with the same keys (see
    :func:`table_row_message`) then replace these rows instead of adding to them.
    """
    _check_server(server, widget_id)
    _check_positive(limit=limit, chunk=chunk)
    wanted = list(dict.fromkeys([key_column, *columns]))
    rows = _current_rows(database, table_name, wanted, order_by=[order_by],
                         descending=descending, limit=limit)
    messages = [table_row_message(widget_id, dict(zip(wanted, row)), key_column=key_column,
                                  columns=columns) for row in rows]
    _send(messages, chunk=chunk, pause_s=pause_s)
    report = Preloaded(widget_id, table_name, len(messages))
    logger.info("preloaded %s", report)
    return report


def table_row_message(widget_id: str, row: dict, *, key_column: str,
                      columns: Sequence[str]) -> dict:
    """The pathway-viz message that upserts ``row`` into a table widget, keyed by a column."""
    return {"type": "data", "widget": widget_id, "op": "upsert", "key": str(row[key_column]),
            "row": {c: _plain(row[c]) for c in columns}}


def _number(value: Any) -> Any:
    # DuckDB DECIMAL comes back as decimal.Decimal, which json cannot encode.
    return float(value) if not isinstance(value, (int, float, type(None))) else value


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinity have no JSON form
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def send(message: dict) -> None:
    """Send one raw message (for live updates the built-in widgets do not cover)."""
    import pathwayviz as pv

    pv.send_json(message)


def ascending_chart(pw_table: Any, y_column: str, *, x_column: str, **kwargs: Any) -> Any:
    """A ``pv.Chart`` that never sends a point older than the last one it (or a preload) sent.

    After a crash, Pathway replays the minibatches since its last snapshot; their points are
    already on the chart (pre-filled from DuckDB), and pathway-viz wants ascending timestamps.
    Call ``chart.mark_sent(report.last_ms)`` with the preload's report.
    """
    import pathwayviz as pv

    class AscendingChart(pv.Chart):
        last_ms: int | None = None

        def mark_sent(self, ms: int | None) -> None:
            if ms is not None and (self.last_ms is None or ms > self.last_ms):
                self.last_ms = ms

        def _activate(self, server: Any) -> None:
            import pathway as pw

            self._server = server

            def on_change(key: Any, row: dict, time: int, is_addition: bool) -> None:
                if not is_addition or row.get(self.y_column) is None:
                    return
                ms = to_epoch_ms(row[self.x_column])
                if self.last_ms is not None and ms < self.last_ms:
                    return
                self.last_ms = ms
                send({"type": "data", "widget": self.id, "value": _number(row[self.y_column]),
                      "timestamp": ms})

            pw.io.subscribe(self.pw_table, on_change=on_change)

    return AscendingChart(pw_table, y_column, x_column=x_column, **kwargs)
