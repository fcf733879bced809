"""The PathwayViz dashboard of the demo: widgets, and their pre-fill from DuckDB on start-up."""

from __future__ import annotations

import os
import threading
from typing import Any

import pathway as pw

from .. import viz
from .pipeline import DAILY, TOP_CUSTOMERS, TOTALS, Figures

REVENUE, ORDERS, AOV = "revenue", "orders", "avg_order_value"
REVENUE_PER_DAY, ORDERS_PER_DAY, TOP = "revenue_per_day", "orders_per_day", "top_customers"
TOP_COLUMNS = ["rank", "customer_id", "spend", "orders"]
# The charts span the whole log (546 days); pathway-viz drops points older than this window.
_TWO_YEARS_S = 2 * 366 * 86400


def register(server: Any, figures: Figures) -> "TopCustomersFeed":
    """Register the demo's widgets on ``server`` (before ``server.start()``).

    Returns the feed of the top-customers table; the charts are kept in ``feed.charts``.
    """
    import pathwayviz as pv

    totals = figures.all_time
    server.register(pv.Stat(totals, "revenue", id=REVENUE, title="All-time revenue", unit="$"))
    server.register(pv.Stat(totals, "orders", id=ORDERS, title="Orders"))
    server.register(pv.Stat(totals, "avg_order_value", id=AOV, title="Average order value",
                            unit="$"))
    charts = {}
    for widget_id, column, title, unit in ((REVENUE_PER_DAY, "revenue", "Revenue per day", "$"),
                                           (ORDERS_PER_DAY, "orders", "Orders per day", "")):
        charts[widget_id] = viz.ascending_chart(
            figures.daily, column, x_column="day", id=widget_id, title=title, unit=unit,
            max_points=viz.MAX_POINTS, time_window=_TWO_YEARS_S)
        server.register(charts[widget_id])
    # pathway-viz's own Table keys rows by Pathway's row id; ours keys them by rank, so the rows
    # pre-filled from DuckDB are the same rows the live updates replace.
    server.register(_RankedTable(figures.top_customers, id=TOP, title="Top customers by spend",
                                 columns=TOP_COLUMNS, max_rows=10,
                                 column_labels={"customer_id": "customer", "spend": "spend ($)"}))
    feed = TopCustomersFeed(figures.top_customers)
    feed.charts = charts
    return feed


def _ranked_table_class():
    import pathwayviz as pv

    class RankedTable(pv.Table):
        # Same widget on the page; its rows come from TopCustomersFeed instead of a
        # subscription keyed by Pathway row ids.
        def _activate(self, server: Any) -> None:
            self._server = server

    return RankedTable


def _RankedTable(*args, **kwargs):
    return _ranked_table_class()(*args, **kwargs)


class TopCustomersFeed:
    """Live rows of the top-customers widget, keyed by rank, sent every second in rank order.

    pathway-viz keeps a history for charts and stats only, so a browser that connects later
    would see an empty table; and its table shows rows in the order their keys first arrived.
    Sending all rows, in rank order, periodically (not each change as it comes) fixes both.
    """

    def __init__(self, table: pw.Table) -> None:
        self._rows: dict[int, dict] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.charts: dict = {}
        pw.io.subscribe(table, on_change=self._on_change)

    def _on_change(self, key, row: dict, time: int, is_addition: bool) -> None:
        if is_addition:
            with self._lock:
                self._rows[row["rank"]] = row

    def seed(self, rows: list[dict]) -> None:
        with self._lock:
            for row in rows:
                self._rows.setdefault(row["rank"], row)

    def _send(self, rows: list[dict]) -> None:
        for row in rows:
            viz.send(viz.table_row_message(TOP, row, key_column="rank", columns=TOP_COLUMNS))

    def start(self, every_s: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.wait(every_s):
                with self._lock:
                    rows = [self._rows[r] for r in sorted(self._rows)]
                self._send(rows)

        threading.Thread(target=loop, daemon=True, name="top-customers-feed").start()

    def stop(self) -> None:
        self._stop.set()


def preload(server: Any, feed: TopCustomersFeed, *, database: str | os.PathLike,
            all_time: dict[str, float] | None) -> list[viz.Preloaded]:
    """Pre-fill every widget from what DuckDB holds; returns what was sent."""
    reports = []
    if all_time is not None and all_time["orders"] > 0:
        for widget_id in (REVENUE, ORDERS, AOV):
            reports.append(viz.preload_stat(server, widget_id=widget_id, database=database,
                                            table_name=TOTALS, value_column=widget_id,
                                            value=all_time[widget_id]))
    for widget_id, column in ((REVENUE_PER_DAY, "revenue"), (ORDERS_PER_DAY, "orders")):
        report = viz.preload_chart(server, widget_id=widget_id, database=database,
                                   table_name=DAILY, time_column="day", value_column=column)
        feed.charts[widget_id].mark_sent(report.last_ms)
        reports.append(report)
    reports.append(viz.preload_table(server, widget_id=TOP, database=database,
                                     table_name=TOP_CUSTOMERS, key_column="rank",
                                     columns=TOP_COLUMNS, order_by="rank", descending=False))
    if os.path.exists(database):
        feed.seed(_top_rows(database))
    return reports


def _top_rows(database: str | os.PathLike) -> list[dict]:
    from .._connect import connect
    from .._sql import column_list, quote_ident

    con = connect(database, read_only=True)
    try:
        if not con.execute("SELECT count(*) FROM information_schema.tables "
                           "WHERE table_name = ?", [TOP_CUSTOMERS]).fetchone()[0]:
            return []
        cur = con.execute(f"SELECT {column_list(TOP_COLUMNS)} FROM {quote_ident(TOP_CUSTOMERS)}")
        return [dict(zip(TOP_COLUMNS, row)) for row in cur.fetchall()]
    finally:
        con.close()
