"""End to end in a real headless Chromium: after a restart, the dashboard page shows the numbers
DuckDB holds (stats, both charts point by point, the top-customers table).

Offline, the page's chart library (uPlot, loaded from a CDN) is missing: the charts' data is
still checked, it is just not drawn. Set PW_DUCKDB_SINK_UPLOT_JS to a local uPlot.iife.min.js
to draw them, and PW_DUCKDB_SINK_SCREENSHOT to a path to keep the screenshot (that is how
docs/dashboard.png is made).
"""

import datetime as dt
import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from pw_duckdb_sink import _connect

from tests._browser import Browser, chromium_binary
from tests._pv_client import free_port
from tests.demo_expected import Demo, run_once

UPLOT_URL = "https://unpkg.com/uplot@1.6.30/dist/uPlot.iife.min.js"


def format_value(v) -> str:
    """The page's own number formatting (pathway-viz's formatValue), for comparing text."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.1f}B"
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def js_text(v) -> str:
    """String(v) in JavaScript for a JSON number."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _ms(day: dt.datetime) -> int:
    return round(day.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


def _read(database, sql):
    """Query the demo's file while the demo runs: it detaches between minibatches, and a reader
    that comes while it writes waits (with the library's backoff) instead of failing."""
    con = _connect.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _in_frame(widget_id: str, js: str) -> str:
    frame = f'document.querySelector("iframe[src$=\\"/embed/{widget_id}\\"]")'
    return f"{frame} && {frame}.contentWindow.eval({json.dumps(js)})"


@pytest.fixture(scope="module")
def restarted(tmp_path_factory):
    chromium_binary()  # fail early, with the install hint, if there is no browser
    data_dir = tmp_path_factory.mktemp("dashboard")
    run_once(data_dir)  # the first run, to the end of the log
    port = free_port()
    demo = Demo(data_dir, "--speed", "1", "--port", str(port))  # the restart
    demo.wait_for("database:")
    uplot = os.environ.get("PW_DUCKDB_SINK_UPLOT_JS")
    browser = Browser(width=1400, height=1000, serve={UPLOT_URL: Path(uplot)} if uplot else None)
    try:
        browser.goto(f"http://127.0.0.1:{port}/")
        yield browser, data_dir / "cdnow.duckdb"
    finally:
        browser.close()
        demo.proc.send_signal(signal.SIGINT)
        demo.proc.wait(timeout=60)


def test_stats_on_the_page_are_the_totals_in_duckdb(restarted):
    browser, database = restarted
    [(cents, orders)] = _read(database, "SELECT sum(revenue_cents * diff), sum(orders * diff) FROM cdnow_totals")
    want = {"revenue": "$" + format_value(cents / 100), "orders": format_value(orders),
            "avg_order_value": "$" + format_value(cents / 100 / orders)}
    for widget_id, text in want.items():
        shown = browser.wait_until(
            _in_frame(widget_id, "document.querySelector('.stat-value').textContent "
                                 "!== '--' && document.querySelector('.stat-value').textContent"))
        assert shown == text, widget_id


def test_charts_on_the_page_hold_every_day_in_duckdb(restarted):
    browser, database = restarted
    rows = _read(database, "SELECT day, revenue, orders FROM cdnow_daily ORDER BY day")
    for widget_id, column in (("revenue_per_day", 1), ("orders_per_day", 2)):
        data = browser.wait_until(_in_frame(
            widget_id, f"widgets.{widget_id}.timeData.length >= {len(rows)} && "
                       f"JSON.stringify([widgets.{widget_id}.timeData, widgets.{widget_id}.valueData])"))
        times, values = json.loads(data)
        assert times == [_ms(r[0]) / 1000 for r in rows]
        assert values == [r[column] for r in rows]
        latest = browser.evaluate(_in_frame(
            widget_id, "document.querySelector('.metric-value').textContent"))
        assert latest == format_value(rows[-1][column])


def test_top_customers_table_on_the_page_is_the_one_in_duckdb(restarted):
    browser, database = restarted
    rows = _read(database, "SELECT rank, customer_id, spend, orders FROM cdnow_top_customers ORDER BY rank")
    want = [[js_text(v) for v in row] for row in rows]
    shown = browser.wait_until(_in_frame(
        "top_customers", "document.querySelectorAll('tbody tr').length >= 10 && JSON.stringify("
        "[...document.querySelectorAll('tbody tr')].map(tr => [...tr.cells].map(td => td.textContent)))"))
    assert json.loads(shown) == want


def test_screenshot_of_the_restarted_dashboard(restarted, tmp_path):
    browser, _ = restarted
    if os.environ.get("PW_DUCKDB_SINK_UPLOT_JS"):  # charts drawn: wait for their canvases
        browser.wait_until(_in_frame("revenue_per_day", "!!document.querySelector('canvas')"))
    shot = tmp_path / "dashboard.png"
    browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    keep = os.environ.get("PW_DUCKDB_SINK_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
