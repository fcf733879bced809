"""All-time totals survive restarts: the CDNOW log in three parts, one pipeline run per part.

Each run is a subprocess running PIPELINE: it reads its orders (CSV files), keeps a session
aggregate (revenue, order count), writes the orders as a named change log with
pw_duckdb_sink.write, and adds read_baseline(...) through with_baseline to emit the all-time
revenue, count and average order value. After every run those equal the values computed
here with plain Python over all parts so far. Three set-ups: persistence off (run k reads part
k only), persistence on (the input directory holds parts 1..k; the persistent reader reads only
what is new), and persistence on with a kill -9 in the middle of run 2.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

PIPELINE = r'''
import json, os, sys
import pathway as pw
import pw_duckdb_sink

input_dir, db, storage, mode, out = sys.argv[1:6]

class Order(pw.Schema):
    customer_id: str
    date: str
    number_of_cds: int
    dollar_value: float

cfg = None if storage == "-" else pw.persistence.Config(pw.persistence.Backend.filesystem(storage))
orders = pw.io.csv.read(input_dir, schema=Order, mode=mode, name="cdnow_orders", autocommit_duration_ms=50)
pw_duckdb_sink.write(orders, database=db, table_name="orders", name="orders_log", init_mode="create_if_not_exists")
session = orders.reduce(revenue=pw.reducers.sum(orders.dollar_value), orders=pw.reducers.count())
baseline = pw_duckdb_sink.read_baseline(
    database=db, table_name="orders", aggregates={"revenue": ("sum", "dollar_value"), "orders": "count"},
    **({} if cfg is None else {"exclude_writer": "orders_log", "persistence_config": cfg}))
totals = pw_duckdb_sink.with_baseline(session, baseline, columns={
    "revenue": "sum", "orders": "count", "avg_order_value": ("avg", "revenue", "orders")})

def on_change(key, row, time, is_addition):
    if is_addition:
        with open(out + ".tmp", "w") as f:
            json.dump(row, f)
        os.replace(out + ".tmp", out)

pw.io.subscribe(totals, on_change=on_change)
pw.run(monitoring_level=pw.MonitoringLevel.NONE, persistence_config=cfg)
'''

PARTS = 3


def _orders(path):
    """(customer_id, date, number_of_cds, dollar_value) per line, parsed independently of the pipeline."""
    with open(path, newline="") as f:
        lines = f.read().split("\r\n")
    return [tuple(line.split()) for line in lines[1:] if line.strip()]


def _write_csv(path, rows):
    tmp = path.parent.parent / (path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write("customer_id,date,number_of_cds,dollar_value\n")
        f.writelines(",".join(r) + "\n" for r in rows)
    os.replace(tmp, path)  # appears whole to a streaming reader


def _expected(parts, upto):
    rows = [r for p in parts[:upto] for r in p]
    revenue = sum(float(r[3]) for r in rows)
    return revenue, len(rows), revenue / len(rows)


class Runner:
    def __init__(self, tmp_path, persistent):
        self.tmp = tmp_path
        self.script = tmp_path / "pipeline.py"
        self.script.write_text(PIPELINE)
        self.db = tmp_path / "cdnow.duckdb"
        self.storage = str(tmp_path / "pstorage") if persistent else "-"
        self.out = tmp_path / "totals.json"

    def input_dir(self, run):
        d = self.tmp / ("in" if self.storage != "-" else f"in{run}")
        d.mkdir(exist_ok=True)
        return d

    def start(self, run, mode="static"):
        if self.out.exists():
            self.out.unlink()
        return subprocess.Popen([sys.executable, str(self.script), str(self.input_dir(run)), str(self.db),
                                 self.storage, mode, str(self.out)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def finish(self, proc):
        output, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, output
        return json.loads(self.out.read_text())


def _assert_totals(got, parts, upto):
    revenue, count, avg = _expected(parts, upto)
    assert got["orders"] == count
    assert got["revenue"] == pytest.approx(revenue, rel=1e-9)
    assert got["avg_order_value"] == pytest.approx(avg, rel=1e-9)


@pytest.fixture(scope="module")
def parts(request):
    from conftest import CDNOW_PATH
    rows = _orders(CDNOW_PATH)
    size = -(-len(rows) // PARTS)
    return [rows[i:i + size] for i in range(0, len(rows), size)]


@pytest.mark.parametrize("persistent", [False, True], ids=["persistence_off", "persistence_on"])
def test_all_time_totals_after_each_of_three_runs(tmp_path, parts, persistent):
    runner = Runner(tmp_path, persistent)
    for run in range(1, PARTS + 1):
        _write_csv(runner.input_dir(run) / f"part{run}.csv", parts[run - 1])
        _assert_totals(runner.finish(runner.start(run)), parts, run)


def test_all_time_totals_survive_a_kill_in_the_middle_of_run_two(tmp_path, parts):
    runner = Runner(tmp_path, persistent=True)
    _write_csv(runner.input_dir(1) / "part1.csv", parts[0])
    _assert_totals(runner.finish(runner.start(1)), parts, 1)

    # run 2 streams part 2 in six files; it is killed after two of them have been counted
    chunks = 6
    size = -(-len(parts[1]) // chunks)
    pieces = [parts[1][i:i + size] for i in range(0, len(parts[1]), size)]
    proc = runner.start(2, mode="streaming")
    seen = len(parts[0])
    for i, piece in enumerate(pieces[:2]):
        _write_csv(runner.input_dir(2) / f"part2_{i}.csv", piece)
        seen += len(piece)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if runner.out.exists() and json.loads(runner.out.read_text())["orders"] >= seen:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            pytest.fail(f"run 2 never counted {seen} orders: {proc.communicate()[0]}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    for i, piece in enumerate(pieces[2:], start=2):
        _write_csv(runner.input_dir(2) / f"part2_{i}.csv", piece)
    _assert_totals(runner.finish(runner.start(2)), parts, 2)

    _write_csv(runner.input_dir(3) / "part3.csv", parts[2])
    _assert_totals(runner.finish(runner.start(3)), parts, 3)
