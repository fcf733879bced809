"""Stopped mid-way (SIGINT, or SIGKILL) and started again, the demo continues without double
counting, and the restarted dashboard shows the totals and the chart so far before new data."""

import datetime as dt
import signal
import subprocess
import time

import duckdb
import pytest

from tests._pv_client import free_port, history, history_of
from tests.demo_expected import Demo as _Demo
from tests.demo_expected import direct, persisted, run_once


def _days_stored(database) -> int:
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error:
        return 0  # the writer holds the file right now, or it is not there yet
    try:
        return con.execute("SELECT count(*) FROM cdnow_daily").fetchone()[0]
    except duckdb.Error:
        return 0
    finally:
        con.close()


def _stop(demo, sig) -> None:
    demo.proc.send_signal(sig)
    try:
        demo.proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        demo.proc.kill()
        pytest.fail("the demo did not stop within 90 s of the signal")
    time.sleep(0.2)  # let the reader thread take the last lines


def _ms(day: dt.datetime) -> int:
    return round(day.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_restart_continues_and_every_figure_equals_the_file(tmp_path, sig):
    database = tmp_path / "cdnow.duckdb"
    total_days = len(direct()["per_day"])

    first = _Demo(tmp_path, "--speed", "60", "--port", str(free_port()))
    deadline = time.monotonic() + 120
    while _days_stored(database) < 40:
        assert first.proc.poll() is None, first.output[-3000:]
        assert time.monotonic() < deadline, "the demo stored no 40 days within 120 s"
        time.sleep(0.3)
    _stop(first, sig)
    if sig == signal.SIGINT:
        assert first.proc.returncode == 0, first.output[-3000:]
        assert "run the same command again to continue" in first.output

    so_far = persisted(database)
    assert 40 <= len(so_far["per_day"]) < total_days  # stopped in the middle

    # Restarted slowly: right away the dashboard holds what DuckDB held at the stop.
    port = free_port()
    second = _Demo(tmp_path, "--speed", "0.5", "--port", str(port))
    try:
        second.wait_for("database:")  # printed once the widgets are pre-filled
        want_chart = [[_ms(day), cents / 100] for day, (cents, _) in sorted(so_far["per_day"].items())]
        history_of(port, "orders_per_day", points=len(want_chart))  # the last widget pre-filled
        shown = history(port)
        assert shown["revenue_per_day"][:len(want_chart)] == want_chart
        assert shown["orders_per_day"][:len(want_chart)] == [
            [_ms(day), n] for day, (_, n) in sorted(so_far["per_day"].items())]
        assert shown["orders"][0][1] == so_far["orders"]
        assert shown["revenue"][0][1] == pytest.approx(so_far["revenue_cents"] / 100, abs=1e-6)
        assert shown["avg_order_value"][0][1] == pytest.approx(
            so_far["revenue_cents"] / 100 / so_far["orders"], rel=1e-12)
    finally:
        _stop(second, signal.SIGINT)

    # Continued to the end: nothing counted twice, nothing missing.
    done = run_once(tmp_path)
    assert "replayed days" in done.stderr
    got, want = persisted(database), direct()
    assert (got["revenue_cents"], got["orders"]) == (want["revenue_cents"], want["orders"])
    assert got["per_day"] == want["per_day"]
    assert got["top"] == want["top"]
