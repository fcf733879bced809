"""The order analytics: what the demo computes from the order stream and where it lands.

Every figure is persisted with :func:`pw_duckdb_sink.write` under a writer name, so a named
(exactly-once) writer turns a replay after a crash into no-ops:

- ``cdnow_totals`` (change log): the session's revenue and order count; its history is the
  running total. The all-time figures shown are ``read_baseline`` + session.
- ``cdnow_daily`` (snapshot keyed by ``day``): revenue and orders per purchase day, a tumbling
  window of one day on the purchase date.
- ``cdnow_top_customers`` (snapshot keyed by ``rank``): the customers with the highest spend.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import pathway as pw

TOTALS = "cdnow_totals"
DAILY = "cdnow_daily"
TOP_CUSTOMERS = "cdnow_top_customers"
TABLES = (TOTALS, DAILY, TOP_CUSTOMERS)


@dataclass
class Figures:
    """The Pathway tables behind the dashboard."""

    all_time: pw.Table  # one row: revenue_cents, orders, revenue, avg_order_value
    daily: pw.Table  # day, revenue_cents, revenue, orders
    top_customers: pw.Table  # rank, customer_id, spend, orders


class _TotalsSchema(pw.Schema):
    revenue_cents: int
    orders: int


@pw.udf
def _top(entries: tuple, n: int) -> tuple:
    # entries: (spend_cents, customer_id, orders); highest spend first, ties by customer id.
    best = sorted(entries, key=lambda e: (-e[0], e[1]))[:n]
    return tuple((rank, e[1], e[0], e[2]) for rank, e in enumerate(best, start=1))


def session_totals(orders: pw.Table) -> pw.Table:
    return orders.reduce(revenue_cents=pw.reducers.sum(pw.this.cents),
                         orders=pw.reducers.count())


def daily_figures(orders: pw.Table) -> pw.Table:
    per_day = orders.windowby(
        pw.this.day, window=pw.temporal.tumbling(duration=dt.timedelta(days=1))
    ).reduce(day=pw.this._pw_window_start, revenue_cents=pw.reducers.sum(pw.this.cents),
             orders=pw.reducers.count())
    return per_day.select(pw.this.day, pw.this.revenue_cents,
                          revenue=pw.this.revenue_cents / 100.0, orders=pw.this.orders)


def top_customers(orders: pw.Table, *, n: int = 10) -> pw.Table:
    per_customer = orders.groupby(pw.this.customer_id).reduce(
        pw.this.customer_id, spend_cents=pw.reducers.sum(pw.this.cents),
        orders=pw.reducers.count())
    ranked = per_customer.reduce(
        top=_top(pw.reducers.tuple(pw.make_tuple(pw.this.spend_cents, pw.this.customer_id,
                                                 pw.this.orders)), n))
    rows = ranked.flatten(pw.this.top)
    rows = rows.select(rank=pw.apply_with_type(lambda e: e[0], int, pw.this.top),
                       customer_id=pw.apply_with_type(lambda e: e[1], int, pw.this.top),
                       spend_cents=pw.apply_with_type(lambda e: e[2], int, pw.this.top),
                       orders=pw.apply_with_type(lambda e: e[3], int, pw.this.top))
    # Keyed by rank: a customer moving up replaces the row of that rank.
    rows = rows.with_id_from(pw.this.rank)
    return rows.select(pw.this.rank, pw.this.customer_id, pw.this.spend_cents,
                       spend=pw.this.spend_cents / 100.0, orders=pw.this.orders)


def all_time(session: pw.Table, *, database: str | os.PathLike,
             persistence_config: pw.persistence.Config | None) -> pw.Table:
    """Baseline (what earlier runs committed and this session does not restore) + session."""
    from pw_duckdb_sink import read_baseline, with_baseline

    persisted = dict(exclude_writer=TOTALS, persistence_config=persistence_config) \
        if persistence_config is not None else {}
    baseline = read_baseline(database=database, table_name=TOTALS,
                             aggregates={"revenue_cents": "sum", "orders": "sum"},
                             schema=_TotalsSchema, **persisted)
    totals = with_baseline(session, baseline, columns={"revenue_cents": "sum", "orders": "sum"})
    return totals.select(
        pw.this.revenue_cents, pw.this.orders,
        revenue=pw.this.revenue_cents / 100.0,
        avg_order_value=pw.if_else(pw.this.orders > 0,
                                   pw.this.revenue_cents / 100.0 / pw.this.orders, 0.0))


def build(orders: pw.Table, *, database: str | os.PathLike,
          persistence_config: pw.persistence.Config | None, top_n: int = 10) -> Figures:
    """Compute the figures from the order stream and persist each with ``write``."""
    from pw_duckdb_sink import write

    session = session_totals(orders)
    daily = daily_figures(orders)
    top = top_customers(orders, n=top_n)
    common = dict(database=os.fspath(database), init_mode="create_if_not_exists",
                  detach_between_batches=True)
    write(session, table_name=TOTALS, output_table_type="stream_of_changes", name=TOTALS,
          **common)
    write(daily, table_name=DAILY, output_table_type="snapshot", primary_key=[daily.day],
          name=DAILY, **common)
    write(top, table_name=TOP_CUSTOMERS, output_table_type="snapshot",
          primary_key=[top.rank], name=TOP_CUSTOMERS, **common)
    totals = all_time(session, database=database, persistence_config=persistence_config)
    return Figures(all_time=totals, daily=daily, top_customers=top)
