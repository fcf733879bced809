"""Figures computed directly from the CDNOW file, in plain Python (no Pathway, no package code)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from collections import defaultdict
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import duckdb

CDNOW = Path(__file__).resolve().parent.parent / "pw_duckdb_sink" / "data" / "CDNOW_master.txt"


@lru_cache(maxsize=1)
def direct() -> dict:
    revenue = 0
    orders = 0
    per_day: dict[dt.datetime, list[int]] = defaultdict(lambda: [0, 0])
    per_customer: dict[int, int] = defaultdict(int)
    lines = CDNOW.read_bytes().decode("ascii").splitlines()[1:]
    for line in lines:
        if not line.strip():
            continue
        customer, day, _cds, dollars = line.split()
        cents = int(Decimal(dollars) * 100)
        revenue += cents
        orders += 1
        key = dt.datetime.strptime(day, "%Y%m%d")
        per_day[key][0] += cents
        per_day[key][1] += 1
        per_customer[int(customer)] += cents
    top = sorted(per_customer.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return {"revenue_cents": revenue, "orders": orders,
            "per_day": {d: tuple(v) for d, v in per_day.items()}, "top": top}


def persisted(database: Path) -> dict:
    """The demo's figures as DuckDB holds them (the change log consolidated by its diffs)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        cents, orders = con.execute(
            "SELECT sum(revenue_cents * diff), sum(orders * diff) FROM cdnow_totals").fetchone()
        per_day = {d: (c, n) for d, c, n in con.execute(
            "SELECT day, revenue_cents, orders FROM cdnow_daily").fetchall()}
        top = con.execute(
            "SELECT customer_id, spend_cents FROM cdnow_top_customers ORDER BY rank").fetchall()
        return {"revenue_cents": int(cents or 0), "orders": int(orders or 0),
                "per_day": per_day, "top": [tuple(t) for t in top]}
    finally:
        con.close()


def demo_command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pw_duckdb_sink.cli", "demo", "--data-dir", str(data_dir), *args]


def run_once(data_dir: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(demo_command(data_dir, "--once", "--no-dashboard"), capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


class Demo:
    """The demo in a subprocess, its stderr collected by a thread (progress, pre-fill report)."""

    def __init__(self, data_dir, *args):
        self.proc = subprocess.Popen(demo_command(data_dir, *args), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True).start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output:
            assert self.proc.poll() is None, self.output[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} after {timeout_s} s: {self.output[-3000:]}"
            time.sleep(0.1)
